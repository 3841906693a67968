"""The consent gRPC servicer: it translates messages and delegates, nothing more."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.audit_api import list_entries
from lethe_common.errors import InvalidArgument
from lethe_common.privacy import REQUEST_ID
from lethe_common.privacy_api import (
    declared_holdings,
    describe_inventory,
    erase_subject,
    export_subject,
    find_subject_traces,
    wire_time,
)
from lethe_common.staff import ADMIN, PRIVACY, AssertionVerifier, StaffActor, staff_call
from lethe_common.subject import Subject
from lethe_common.trace_search import ServiceTraceSearch
from lethe_consent.config import SERVICE
from lethe_consent.erasure import ConsentErasure
from lethe_consent.inventory import INVENTORY
from lethe_consent.models import LANGUAGES, Overview, RecordView, RequestView, TextView
from lethe_consent.records import ConsentLedger, Person, person_of
from lethe_consent.requests import PrivacyRequests
from lethe_consent.staff import StaffDesk
from lethe_consent.texts import ConsentTexts
from lethe_consent.verification import ErasureVerifier

log = logging.getLogger(__name__)


def text_message(view: TextView) -> pb.ConsentText:
    return pb.ConsentText(
        purpose=view.purpose,
        version=view.version,
        published_at=wire_time(view.published_at),
        basis=view.basis,
        direct_marketing=view.direct_marketing,
        texts=[
            pb.LocalisedText(language=lang, title=view.texts[lang]["title"], body=view.texts[lang]["body"])
            for lang in LANGUAGES
            if lang in view.texts
        ],
    )


def record_message(view: RecordView) -> pb.ConsentRecord:
    message = pb.ConsentRecord(
        id=view.id,
        purpose=view.purpose,
        action=view.action,
        version=view.version,
        channel=view.channel,
        reason=view.reason,
        recorded_at=wire_time(view.recorded_at),
        client_address=view.client_address,
        pseudonymised=view.pseudonymised,
    )
    if view.text is not None:
        message.text.CopyFrom(text_message(view.text))
    return message


def overview_message(view: Overview) -> pb.ConsentOverview:
    return pb.ConsentOverview(
        states=[
            pb.PurposeState(
                purpose=s.purpose,
                state=s.state,
                version=s.version,
                since=wire_time(s.since),
                current_version=s.current_version,
            )
            for s in view.states
        ],
        history=[record_message(r) for r in view.history],
    )


def request_message(view: RequestView, now: datetime | None = None) -> pb.PrivacyRequest:
    return pb.PrivacyRequest(
        id=view.id,
        kind=view.kind,
        status=view.status,
        received_at=wire_time(view.received_at),
        due_at=wire_time(view.due_at),
        overdue=view.overdue(now or datetime.now(UTC)),
        purpose=view.purpose,
        reason=view.reason,
        decision=view.decision,
        decided_at=wire_time(view.decided_at),
        completed_at=wire_time(view.completed_at),
        awaiting_services=view.awaiting_services,
        waiting_for=view.waiting_for,
        account_id=view.account_id,
        receipts=[
            pb.ServiceReceipt(
                service=r.service,
                outcome=r.outcome,
                deleted=r.deleted,
                blocked=r.blocked,
                blocked_until=r.blocked_until,
                kept=r.kept,
                note=r.note,
                received_at=wire_time(r.received_at),
                retained=[
                    subject_pb2.RetainedPlace(collection=str(p.get("collection")), until=str(p.get("until")))
                    for p in r.retained
                ],
            )
            for r in view.receipts
        ],
        verification=verification_message(view.verification),
    )


def verification_message(result: dict[str, Any] | None) -> pb.ErasureVerification | None:
    if result is None:
        return None

    def traces(entries: list[dict[str, Any]]) -> list[pb.VerifiedTrace]:
        fields = ("service", "source", "collection", "place", "what", "until")
        return [
            pb.VerifiedTrace(
                **{name: str(e.get(name, "")) for name in fields}, declared=bool(e.get("declared"))
            )
            for e in entries
        ]

    return pb.ErasureVerification(
        outcome=result["outcome"],
        checked_at=wire_time(result.get("checked_at")),
        retained=traces(result.get("retained", [])),
        failures=traces(result.get("failures", [])),
        unanswered=result.get("unanswered", []),
        documents_searched=int(result.get("documents_searched", 0)),
        messages_searched=int(result.get("messages_searched", 0)),
        log_lines_searched=int(result.get("log_lines_searched", 0)),
    )


def _texts_of(message: Any) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for entry in message.texts:
        if entry.language in texts:
            raise InvalidArgument(f"the {entry.language[:8]} text is given twice")
        texts[entry.language] = {"title": entry.title, "body": entry.body}
    return texts


class ConsentServicer(consent_pb2_grpc.ConsentServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        pepper: str,
        texts: ConsentTexts,
        ledger: ConsentLedger,
        requests: PrivacyRequests,
        staff: StaffDesk,
        erasure: ConsentErasure,
        *,
        verifier: ErasureVerifier,
        traces: ServiceTraceSearch,
        assertions: AssertionVerifier,
    ) -> None:
        self._verifier = verifier
        self._assertions = assertions
        self._traces = traces
        self._pepper = pepper
        self._texts = texts
        self._ledger = ledger
        self._requests = requests
        self._staff = staff
        self._erasure = erasure

    def _person(self, person: pb.Person) -> Person:
        found = person_of(self._pepper, person.account_id, person.email, person.name)
        former = Subject.checked_keys(list(person.former_subject_keys), InvalidArgument)
        return replace(found, subject=found.subject.with_former_keys(former))

    def _staff_actor(self, context: Any, actor_account_id: str, *roles: str) -> StaffActor:
        """The staff member the gateway's signed assertion names, if they hold one of
        ``roles``; the request's ``actor_account_id``, when given, must be them."""
        return staff_call(self._assertions, context, actor_account_id, *roles)

    # -- texts -----------------------------------------------------------------------------
    def ListCurrentTexts(self, request: pb.Empty, context: Any) -> pb.ConsentTextList:
        return pb.ConsentTextList(texts=[text_message(t) for t in self._texts.current()])

    def PublishText(self, request: pb.PublishTextRequest, context: Any) -> pb.ConsentText:
        actor = self._staff_actor(context, request.actor_account_id, PRIVACY)
        return text_message(
            self._texts.publish(
                actor.account_id,
                request.purpose,
                request.version,
                _texts_of(request),
                request.direct_marketing,
            )
        )

    # -- records ---------------------------------------------------------------------------
    def Grant(self, request: pb.GrantRequest, context: Any) -> pb.ConsentRecord:
        return record_message(
            self._ledger.grant(
                self._person(request.person),
                request.purpose,
                request.version,
                request.channel,
                request.client_address,
                request.global_privacy_control,
            )
        )

    def Withdraw(self, request: pb.WithdrawRequest, context: Any) -> pb.WithdrawResponse:
        record, erasure_id = self._requests.withdraw_consent(
            self._person(request.person), request.purpose, request.channel, request.client_address
        )
        return pb.WithdrawResponse(record=record_message(record), erasure_request_id=erasure_id)

    def ApplyGlobalPrivacyControl(self, request: pb.GpcRequest, context: Any) -> pb.GpcResponse:
        record = self._ledger.apply_gpc(self._person(request.person), request.client_address)
        if record is None:
            return pb.GpcResponse(recorded=False)
        return pb.GpcResponse(recorded=True, record=record_message(record))

    def GetConsents(self, request: pb.Person, context: Any) -> pb.ConsentOverview:
        return overview_message(self._ledger.overview(self._person(request).subject))

    # -- privacy requests --------------------------------------------------------------------
    def OpenPrivacyRequest(
        self, request: pb.OpenPrivacyRequestRequest, context: Any
    ) -> pb.OpenPrivacyRequestResponse:
        opened = self._requests.open(
            self._person(request.person),
            request.kind,
            purpose=request.purpose,
            reason=request.reason,
            authenticated=request.authenticated,
            client_address=request.client_address,
        )
        reply = pb.OpenPrivacyRequestResponse(follow_token=opened.follow_token)
        if opened.request is not None:
            reply.request.CopyFrom(request_message(opened.request))
        return reply

    def ConfirmPrivacyRequest(self, request: pb.TokenRequest, context: Any) -> pb.PrivacyRequest:
        return request_message(self._requests.confirm(request.token))

    def GetPrivacyRequest(self, request: pb.FollowRequest, context: Any) -> pb.PrivacyRequest:
        return request_message(self._requests.follow(request.request_id, request.token))

    def OpenDataDownload(self, request: pb.FollowRequest, context: Any) -> pb.DataDownload:
        subject = self._requests.access.open(request.request_id, request.token)
        return pb.DataDownload(
            request_id=request.request_id, subject=subject_pb2.Subject(subject_key=subject.subject_key)
        )

    def UseDataDownload(self, request: pb.FollowRequest, context: Any) -> pb.PrivacyRequest:
        return request_message(self._requests.access.use_up(request.request_id, request.token))

    def ListOwnPrivacyRequests(self, request: pb.Person, context: Any) -> pb.PrivacyRequestList:
        return pb.PrivacyRequestList(
            requests=[request_message(r) for r in self._requests.own(self._person(request).subject)]
        )

    def ListPrivacyRequests(self, request: pb.AdminListRequest, context: Any) -> pb.PrivacyRequestList:
        self._staff_actor(context, request.actor_account_id, PRIVACY)
        views, next_token = self._staff.listing(
            request.status,
            request.kind,
            request.overdue_only,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.PrivacyRequestList(requests=[request_message(r) for r in views], next_page_token=next_token)

    def UpdatePrivacyRequest(
        self, request: pb.UpdatePrivacyRequestRequest, context: Any
    ) -> pb.PrivacyRequest:
        actor = self._staff_actor(context, request.actor_account_id, PRIVACY)
        return request_message(
            self._staff.update(
                actor.account_id,
                request.request_id,
                request.status,
                request.reason,
                request.extend_months,
            )
        )

    def VerifyErasure(self, request: pb.VerifyErasureRequest, context: Any) -> pb.PrivacyRequest:
        actor = self._staff_actor(context, request.actor_account_id, PRIVACY)
        if not REQUEST_ID.fullmatch(request.request_id):
            raise InvalidArgument("request_id is not a privacy request id")
        self._verifier.verify_one(request.request_id, actor.account_id)
        log.info("erasure verified by staff", extra={"request_id": request.request_id})
        return request_message(self._requests.view(request.request_id))

    def DecideObjection(self, request: pb.DecideObjectionRequest, context: Any) -> pb.PrivacyRequest:
        actor = self._staff_actor(context, request.actor_account_id, PRIVACY)
        return request_message(
            self._staff.decide_objection(actor.account_id, request.request_id, request.uphold, request.reason)
        )

    def GetStaffPrivacyRequest(self, request: pb.StaffRequestLookup, context: Any) -> pb.PrivacyRequest:
        self._staff_actor(context, request.actor_account_id, PRIVACY)
        return request_message(self._staff.one(request.request_id))

    def ListAuditEntries(self, request: audit_pb2.AuditListRequest, context: Any) -> audit_pb2.AuditEntryList:
        self._staff_actor(context, request.actor_account_id, ADMIN)
        return list_entries(SERVICE, self._staff.trail, request)

    # -- the person's data -------------------------------------------------------------------
    def DescribeInventory(
        self, request: subject_pb2.DescribeInventoryRequest, context: Any
    ) -> subject_pb2.DescribeInventoryResponse:
        return describe_inventory(SERVICE, INVENTORY)

    def ExportSubjectData(
        self, request: subject_pb2.ExportSubjectDataRequest, context: Any
    ) -> subject_pb2.ExportSubjectDataResponse:
        subject = export_subject(request.subject)
        overview = self._ledger.overview(subject)
        data = {
            "consents": [
                {"purpose": s.purpose, "state": s.state, "version": s.version, "since": wire_time(s.since)}
                for s in overview.states
            ],
            "consent_records": [
                {
                    "purpose": r.purpose,
                    "action": r.action,
                    "version": r.version,
                    "channel": r.channel,
                    "reason": r.reason,
                    "recorded_at": wire_time(r.recorded_at),
                    "client_address": r.client_address,
                }
                for r in overview.history
            ],
            "privacy_requests": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "status": r.status,
                    "received_at": wire_time(r.received_at),
                    "due_at": wire_time(r.due_at),
                }
                for r in self._requests.own(subject)
            ],
            # What staff did about the person's requests (the audit trail): what, when, why.
            "staff_actions": [
                {
                    "action": str(doc["action"]),
                    "at": wire_time(doc["at"]),
                    "reason": str(doc.get("reason", "")),
                    "detail": str(doc.get("detail", "")),
                }
                for doc in (self._staff.trail.about(subject.subject_key) if subject.subject_key else [])
            ],
        }
        return subject_pb2.ExportSubjectDataResponse(
            service=SERVICE,
            inventory=declared_holdings(INVENTORY),
            data_json=json.dumps(data, ensure_ascii=False),
            purposes=[
                "to know and prove which consents the person gave or withdrew, to which text",
                "to carry out the person's privacy requests and prove that they were answered",
            ],
            lawful_bases=[
                "Art. 7(1) GDPR: proof of consent",
                "Art. 5(2) GDPR: proof that privacy requests were answered",
            ],
            retention="consent records: 3 years after withdrawal or erasure; staff actions: "
            "LETHE_AUDIT_RETENTION_DAYS (3 years by default)",
            recipients=[],
        )

    def EraseSubject(
        self, request: subject_pb2.EraseSubjectRequest, context: Any
    ) -> subject_pb2.EraseSubjectResponse:
        return erase_subject(SERVICE, request, self._erasure.erase)

    def FindSubjectTraces(
        self, request: subject_pb2.FindSubjectTracesRequest, context: Any
    ) -> subject_pb2.FindSubjectTracesResponse:
        return find_subject_traces(SERVICE, request, self._traces)

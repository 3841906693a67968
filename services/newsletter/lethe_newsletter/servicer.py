"""The newsletter gRPC servicer: it translates messages and delegates, nothing more."""

from __future__ import annotations

import json
from typing import Any

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common.audit_api import list_entries
from lethe_common.privacy_api import (
    declared_holdings,
    describe_inventory,
    erase_subject,
    export_subject,
    find_subject_traces,
    wire_time,
)
from lethe_common.staff import (
    ADMIN,
    MARKETING,
    AssertionVerifier,
    StaffActor,
    require_recent_password,
    staff_call,
)
from lethe_common.trace_search import ServiceTraceSearch
from lethe_newsletter.config import SERVICE
from lethe_newsletter.inventory import INVENTORY
from lethe_newsletter.models import CampaignView, SubscriptionView
from lethe_newsletter.subscriptions import checked_applicant
from lethe_newsletter.wiring import NewsletterParts


def subscription_message(view: SubscriptionView) -> pb.Subscription:
    return pb.Subscription(
        status=view.status,
        consent_version=view.consent_version,
        subscribed_at=wire_time(view.subscribed_at),
        confirmed_at=wire_time(view.confirmed_at),
        restricted=view.restricted,
    )


def campaign_message(view: CampaignView) -> pb.Campaign:
    p = view.progress
    return pb.Campaign(
        id=view.id,
        subject=view.subject,
        text_body=view.text_body,
        html_body=view.html_body,
        greeting=view.greeting,
        status=view.status,
        created_at=wire_time(view.created_at),
        started_at=wire_time(view.started_at),
        finished_at=wire_time(view.finished_at),
        progress=pb.CampaignProgress(
            recipients=p.recipients, sent=p.sent, failed=p.failed, dropped=p.dropped, remaining=p.remaining
        ),
    )


class NewsletterServicer(newsletter_pb2_grpc.NewsletterServiceServicer):  # type: ignore[misc]
    def __init__(
        self, parts: NewsletterParts, *, traces: ServiceTraceSearch, assertions: AssertionVerifier
    ) -> None:
        self._traces = traces
        self._assertions = assertions
        self._subscriptions = parts.subscriptions
        self._leaving = parts.leaving
        self._campaigns = parts.campaigns
        self._erasure = parts.erasure
        self._audit = parts.audit
        self._trials = parts.trials

    def _staff_actor(self, context: Any, actor_account_id: str, *roles: str) -> StaffActor:
        """The staff member the gateway's signed assertion names, if they hold one of
        ``roles``; the request's ``actor_account_id``, when given, must be them."""
        return staff_call(self._assertions, context, actor_account_id, *roles)

    # -- subscribers ----------------------------------------------------------------------
    def Subscribe(self, request: pb.SubscribeRequest, context: Any) -> pb.Accepted:
        person = request.person
        applicant = checked_applicant(person.email, person.name, person.account_id)
        return pb.Accepted(
            message=self._subscriptions.subscribe(applicant, request.consent_version, request.client_address)
        )

    def Confirm(self, request: pb.TokenRequest, context: Any) -> pb.Subscription:
        return subscription_message(self._subscriptions.confirm(request.token, request.client_address))

    def Unsubscribe(self, request: pb.TokenRequest, context: Any) -> pb.Accepted:
        return pb.Accepted(message=self._leaving.unsubscribe_with_token(request.token))

    def CheckUnsubscribeToken(self, request: pb.TokenRequest, context: Any) -> pb.Accepted:
        self._subscriptions.check_unsubscribe_token(request.token)
        return pb.Accepted(message="this link unsubscribes from the newsletter")

    def GetSubscription(self, request: pb.Person, context: Any) -> pb.Subscription:
        applicant = checked_applicant(request.email, "", request.account_id)
        return subscription_message(self._subscriptions.subscription_of(applicant))

    def UnsubscribePerson(self, request: pb.Person, context: Any) -> pb.Subscription:
        applicant = checked_applicant(request.email, "", request.account_id)
        return subscription_message(
            self._leaving.unsubscribe_person(self._subscriptions.subject_of(applicant))
        )

    # -- campaigns ------------------------------------------------------------------------
    def CreateCampaign(self, request: pb.CreateCampaignRequest, context: Any) -> pb.Campaign:
        actor = self._staff_actor(context, request.actor_account_id, MARKETING)
        return campaign_message(
            self._campaigns.create(
                actor.account_id,
                request.subject,
                request.text_body,
                request.html_body,
                request.greeting,
            )
        )

    def ListCampaigns(self, request: pb.ListCampaignsRequest, context: Any) -> pb.CampaignList:
        self._staff_actor(context, request.actor_account_id, MARKETING)
        found = self._campaigns.list(request.page_size, request.page_token)
        return pb.CampaignList(
            campaigns=[campaign_message(c) for c in found.campaigns], next_page_token=found.next_page_token
        )

    def GetCampaign(self, request: pb.CampaignRef, context: Any) -> pb.Campaign:
        self._staff_actor(context, request.actor_account_id, MARKETING)
        return campaign_message(self._campaigns.get(request.campaign_id))

    def SendCampaign(self, request: pb.CampaignRef, context: Any) -> pb.Campaign:
        actor = self._staff_actor(context, request.actor_account_id, MARKETING)
        require_recent_password(actor)  # sending cannot be undone
        return campaign_message(self._campaigns.send(request.campaign_id, actor.account_id))

    def CancelCampaign(self, request: pb.CampaignRef, context: Any) -> pb.Campaign:
        actor = self._staff_actor(context, request.actor_account_id, MARKETING)
        return campaign_message(self._campaigns.cancel(request.campaign_id, actor.account_id))

    def SendTestCampaign(self, request: pb.TestSendRequest, context: Any) -> pb.Accepted:
        actor = self._staff_actor(context, request.actor_account_id, MARKETING)
        self._trials.send(actor.account_id, request.campaign_id, request.email)
        return pb.Accepted(message="the test mail has been sent")

    # -- the staff audit trail ------------------------------------------------------------
    def ListAuditEntries(self, request: audit_pb2.AuditListRequest, context: Any) -> audit_pb2.AuditEntryList:
        self._staff_actor(context, request.actor_account_id, ADMIN)
        return list_entries(SERVICE, self._audit, request)

    # -- privacy --------------------------------------------------------------------------
    def DescribeInventory(
        self, request: subject_pb2.DescribeInventoryRequest, context: Any
    ) -> subject_pb2.DescribeInventoryResponse:
        return describe_inventory(SERVICE, INVENTORY)

    def ExportSubjectData(
        self, request: subject_pb2.ExportSubjectDataRequest, context: Any
    ) -> subject_pb2.ExportSubjectDataResponse:
        data = self._erasure.export(export_subject(request.subject))
        return subject_pb2.ExportSubjectDataResponse(
            service=SERVICE,
            inventory=declared_holdings(INVENTORY),
            data_json=json.dumps(data, ensure_ascii=False),
            purposes=["to send the newsletter the person subscribed to, and to honour unsubscribing"],
            lawful_bases=["Art. 6(1)(a) GDPR: consent to the newsletter (double opt-in)"],
            retention="until unsubscribing or withdrawing the consent; unconfirmed requests "
            "until their link expires",
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

"""The privacy RPCs every data-holding service answers the same way (SPEC section 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lethe.common.v1 import subject_pb2
from lethe_common.errors import InvalidArgument
from lethe_common.events.envelope import EnvelopeError
from lethe_common.inventory import Inventory
from lethe_common.privacy import REQUEST_ID, PrivacyEvent, Receipt
from lethe_common.subject import Subject
from lethe_common.trace_search import ServiceTraceSearch
from lethe_common.traces import FINGERPRINT, Sought

MAX_SOUGHT = 200


def wire_time(value: datetime | None) -> str:
    """A time as our contracts carry it: ISO 8601 in UTC, to the second; empty when unset."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def export_subject(subject: subject_pb2.Subject) -> Subject:
    """``ExportSubjectData``'s subject, checked: an account id, a subject key, or both."""
    checked = Subject.checked(
        account_id=subject.account_id,
        subject_key=subject.subject_key,
        key_required=False,
        error=InvalidArgument,
    )
    return checked.with_former_keys(Subject.checked_keys(list(subject.former_subject_keys), InvalidArgument))


def erase_subject(
    service: str, request: subject_pb2.EraseSubjectRequest, erase: Callable[[PrivacyEvent], Receipt]
) -> subject_pb2.EraseSubjectResponse:
    """``EraseSubject``: check the request as the bus event would be, erase, answer the receipt."""
    try:
        event = PrivacyEvent.checked(
            "erasure",
            request.request_id,
            account_id=request.subject.account_id,
            subject_key=request.subject.subject_key,
            former_keys=list(request.subject.former_subject_keys),
        )
    except EnvelopeError as exc:
        raise InvalidArgument(str(exc)) from None
    receipt = erase(event)
    return subject_pb2.EraseSubjectResponse(
        service=service,
        request_id=receipt.request_id,
        deleted=receipt.deleted,
        blocked=receipt.blocked,
        blocked_until=receipt.blocked_until,
        kept_reasons=receipt.kept,
        retained=[
            subject_pb2.RetainedPlace(collection=r.collection, until=r.until) for r in receipt.retained
        ],
    )


def sought_people(request: subject_pb2.FindSubjectTracesRequest) -> list[Sought]:
    """``FindSubjectTraces``' people, checked: a request id, a subject key (and the former
    ones), fingerprints."""
    if not 0 < len(request.people) <= MAX_SOUGHT:
        raise InvalidArgument(f"name between 1 and {MAX_SOUGHT} people to look for")
    people = []
    for person in request.people:
        if not REQUEST_ID.fullmatch(person.request_id):
            raise InvalidArgument("request_id is not a privacy request id")
        subject = Subject.checked(
            account_id=person.subject.account_id,
            subject_key=person.subject.subject_key,
            error=InvalidArgument,
        )
        if len(person.fingerprints) > 50 or not all(FINGERPRINT.fullmatch(f) for f in person.fingerprints):
            raise InvalidArgument("a fingerprint has the wrong shape")
        former = Subject.checked_keys(list(person.subject.former_subject_keys), InvalidArgument)
        # One search per key the person had: an earlier address's key is looked for too.
        for subject_key in subject.with_former_keys(former).all_keys():
            people.append(
                Sought(person.request_id, subject_key, subject.account_id, tuple(person.fingerprints))
            )
    return people


def find_subject_traces(
    service: str, request: subject_pb2.FindSubjectTracesRequest, search: ServiceTraceSearch
) -> subject_pb2.FindSubjectTracesResponse:
    """``FindSubjectTraces``: search the service's store and queues for every person."""
    found = search.find(sought_people(request))
    return subject_pb2.FindSubjectTracesResponse(
        service=service,
        traces=[
            subject_pb2.Trace(
                request_id=t.request_id,
                source=t.source,
                collection=t.collection,
                place=t.place,
                what=t.what,
                declared=t.declared,
            )
            for t in found.traces
        ],
        documents_searched=found.documents,
        messages_searched=found.messages,
    )


def declared_holdings(inventory: Inventory) -> list[subject_pb2.DeclaredHolding]:
    """The service's inventory as its export carries it: every collection of the current
    layout that can hold personal data."""
    return [
        subject_pb2.DeclaredHolding(
            collection=h.collection,
            fields=list(h.fields),
            categories=list(h.categories),
            purpose=h.purpose,
            lawful_basis=h.lawful_basis,
            retention=h.retention,
            recipients=list(h.recipients),
        )
        for h in inventory.personal()
        if not h.retired
    ]


def describe_inventory(service: str, inventory: Inventory) -> subject_pb2.DescribeInventoryResponse:
    """The inventory alone, naming no one: what the privacy notice shows."""
    return subject_pb2.DescribeInventoryResponse(service=service, inventory=declared_holdings(inventory))

"""The privacy RPCs every data-holding service answers the same way (SPEC section 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lethe.common.v1 import subject_pb2
from lethe_common.errors import InvalidArgument
from lethe_common.events.envelope import EnvelopeError
from lethe_common.privacy import PrivacyEvent, Receipt
from lethe_common.subject import Subject


def wire_time(value: datetime | None) -> str:
    """A time as our contracts carry it: ISO 8601 in UTC, to the second; empty when unset."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def export_subject(subject: subject_pb2.Subject) -> Subject:
    """``ExportSubjectData``'s subject, checked: an account id, a subject key, or both."""
    return Subject.checked(
        account_id=subject.account_id,
        subject_key=subject.subject_key,
        key_required=False,
        error=InvalidArgument,
    )


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
    )

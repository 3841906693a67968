"""The privacy RPCs every data-holding service answers the same way (SPEC section 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lethe.common.v1 import subject_pb2
from lethe_common.errors import InvalidArgument
from lethe_common.events.envelope import EnvelopeError
from lethe_common.privacy import PrivacyEvent, Receipt
from lethe_common.validation import object_id


def wire_time(value: datetime | None) -> str:
    """A time as our contracts carry it: ISO 8601 in UTC, to the second; empty when unset."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def export_subject(subject: subject_pb2.Subject) -> tuple[str, str]:
    """``ExportSubjectData``'s subject, checked: (account id, subject key), one of them set."""
    if subject.account_id:
        object_id(subject.account_id, "account_id")
    if not subject.account_id and not subject.subject_key:
        raise InvalidArgument("an account id or a subject key is required")
    return subject.account_id, subject.subject_key


def erase_subject(service: str, request: subject_pb2.EraseSubjectRequest,
                  erase: Callable[[PrivacyEvent], Receipt]) -> subject_pb2.EraseSubjectResponse:
    """``EraseSubject``: check the request as the bus event would be, erase, answer the receipt."""
    try:
        event = PrivacyEvent.checked("erasure", request.request_id, request.subject.account_id,
                                     request.subject.subject_key)
    except EnvelopeError as exc:
        raise InvalidArgument(str(exc)) from None
    receipt = erase(event)
    return subject_pb2.EraseSubjectResponse(
        service=service, request_id=receipt.request_id, deleted=receipt.deleted,
        blocked=receipt.blocked, blocked_until=receipt.blocked_until, kept_reasons=receipt.kept)

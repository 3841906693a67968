"""The audit trail over gRPC: every service's ListAuditEntries answers the same way."""

from __future__ import annotations

import re

from lethe.common.v1 import audit_pb2
from lethe_common.audit import AuditTrail
from lethe_common.errors import InvalidArgument
from lethe_common.mongo import Document
from lethe_common.privacy_api import wire_time
from lethe_common.store.paging import decode_cursor, encode_cursor, page_size

_ACTION = re.compile(r"[a-z_]{1,40}\.[a-z_]{1,40}")


def entry_message(service: str, doc: Document) -> audit_pb2.AuditEntry:
    return audit_pb2.AuditEntry(
        id=str(doc["entry_id"]),
        at=wire_time(doc["at"]),
        actor_account_id=str(doc["actor_id"]),
        action=str(doc["action"]),
        target=str(doc.get("target", "")),
        subject_key=str(doc.get("subject_key", "")),
        reason=str(doc.get("reason", "")),
        detail=str(doc.get("detail", "")),
        service=service,
    )


def list_entries(
    service: str, trail: AuditTrail, request: audit_pb2.AuditListRequest
) -> audit_pb2.AuditEntryList:
    """One page of ``trail``, newest first, of one action if the request names one. The
    caller has checked who may read it."""
    if request.action and not _ACTION.fullmatch(request.action):
        raise InvalidArgument("action must look like area.verb, e.g. legal_hold.read")
    current = trail.page(decode_cursor(request.page_token), page_size(request.page_size), request.action)
    return audit_pb2.AuditEntryList(
        entries=[entry_message(service, doc) for doc in current.items],
        next_page_token=encode_cursor(current.next_cursor),
    )

"""The staff audit trail on the real store: insert-only, paged newest first, trimmed on
erasure to the subject key, and swept after its retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.database import Database

from lethe_common.audit import AuditRecord, AuditTrail

SUBJECT = "sk_" + "a" * 40


def test_entries_page_newest_first_and_are_found_by_subject(test_db: Database) -> None:
    trail = AuditTrail(test_db["staff_audit"])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(5):
        subject = SUBJECT if n % 2 == 0 else ""
        trail.record(
            AuditRecord("acc_1", f"action.{n}", target=f"t{n}", subject_key=subject),
            start + timedelta(minutes=n),
        )
    first = trail.page(limit=3)
    second = trail.page(after=first.next_cursor, limit=3)
    assert [d["action"] for d in first.items + second.items] == [f"action.{n}" for n in (4, 3, 2, 1, 0)]
    assert second.next_cursor == ""
    assert [d["action"] for d in trail.about(SUBJECT)] == ["action.0", "action.2", "action.4"]
    assert [d["target"] for d in trail.page(action="action.3").items] == ["t3"]


def test_erasure_keeps_only_the_subject_key_action_actor_and_time(test_db: Database) -> None:
    trail = AuditTrail(test_db["staff_audit"])
    trail.record(AuditRecord("acc_1", "legal_hold.read", "ord_1", SUBJECT, "tax inspection of Ada", "x"))
    trail.record(AuditRecord("acc_1", "other.person", "ord_2", "sk_other", "about Bob"))
    assert trail.forget(SUBJECT) == 1
    assert trail.forget(SUBJECT) == 0  # a repeated erasure message changes nothing
    mine = [d for d in test_db["staff_audit"].find() if d["subject_key"] == SUBJECT]
    assert len(mine) == 3  # the entry and its copies under its action and the person
    for doc in mine:
        assert (doc["target"], doc["reason"], doc["detail"]) == ("", "", "")
        assert (doc["actor_id"], doc["action"]) == ("acc_1", "legal_hold.read")
    assert [d["reason"] for d in trail.page().items if d["subject_key"] == "sk_other"] == ["about Bob"]


def test_the_sweep_deletes_entries_past_their_retention_and_their_copies(test_db: Database) -> None:
    trail = AuditTrail(test_db["staff_audit"])
    now = datetime(2026, 6, 1, tzinfo=UTC)
    trail.record(AuditRecord("acc_1", "old", subject_key=SUBJECT), now - timedelta(days=1100))
    trail.record(AuditRecord("acc_1", "young", subject_key=SUBJECT), now - timedelta(days=10))
    assert trail.sweep(now, 1095) == 1
    assert [d["action"] for d in trail.page().items] == ["young"]
    assert [d["action"] for d in trail.about(SUBJECT)] == ["young"]

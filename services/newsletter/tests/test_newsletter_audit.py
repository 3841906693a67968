"""The newsletter's staff audit trail, its test sends and the progress it reports.

Against the real newsletter API and worker, sending into an SMTP sink of this module's own
(so its Maildir holds nothing but these tests' mails): every staff action on a campaign
(created, sending started, cancelled, test-sent) is one entry of the newsletter's trail,
naming the staff member the assertion named and the campaign, and no person; only an admin
reads the trail; a test send goes to the one address given, marked as a test, and leaves
the campaign a draft with nothing in its send log; at most ten test sends per campaign and
hour, however many ask at once; the retention sweep deletes old entries and past hours'
test-send slots; GetCampaign reports sent, failed, dropped and remaining while sending.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import audit_pb2
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common.audit import AuditRecord, AuditTrail
from lethe_common.staff import ACCOUNTING, ADMIN, MARKETING, SUPPORT
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_newsletter.seeding import Reader, seed_active
from lethe_newsletter.trial_sends import HOUR, LIMIT
from lethe_testing import (
    Backend,
    PrivateServer,
    mail_text,
    mails_in,
    private_smtp_sink,
    remove_backend,
    start_backend,
    unique,
    wait_for,
)
from lethe_testing.staff import Metadata, forged_metadata, staff_metadata

Stub = newsletter_pb2_grpc.NewsletterServiceStub
TEST_KIND = "newsletter-campaign-test"
CAMPAIGN_KIND = "newsletter-campaign"


def someone() -> str:
    return f"acc_{uuid.uuid4().hex}"


def marketing(actor: str) -> Metadata:
    return staff_metadata(actor, MARKETING)


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_smtp_sink(tmp_path_factory.mktemp("sink")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def newsletter(sink: PrivateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend(
        "newsletter",
        unique("nau"),
        tmp_path_factory.mktemp("newsletter"),
        replicas=1,
        LETHE_SMTP_PORT=str(sink.port),
        LETHE_AUDIT_RETENTION_DAYS="30",
        NEWSLETTER_SWEEP_INTERVAL_SECONDS="1",
        NEWSLETTER_SEND_RATE="20",  # slow enough to watch a campaign's progress
        NEWSLETTER_BATCH_SIZE="5",
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def stub(newsletter: Backend) -> Iterator[Stub]:
    with newsletter.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(newsletter: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[newsletter.db_name]


def maildir(sink: PrivateServer) -> Path:
    return Path(sink.env["LETHE_MAILDIR"])


def of_campaign(sink: PrivateServer, campaign_id: str, kind: str = "") -> list[EmailMessage]:
    """Every mail in the sink's Maildir about one campaign (of one kind), checked strictly."""
    return [m for m in mails_in(maildir(sink), kind=kind) if m["X-Lethe-Campaign"] == campaign_id]


def draft(stub: Stub, actor: str, **fields: Any) -> pb.Campaign:
    body = {"subject": unique("News"), "text_body": "Our spring news.", **fields}
    created = stub.CreateCampaign(
        pb.CreateCampaignRequest(actor_account_id=actor, **body), metadata=marketing(actor), timeout=10
    )
    assert created.status == "draft"
    return created


def get(stub: Stub, campaign_id: str) -> pb.Campaign:
    return stub.GetCampaign(
        pb.CampaignRef(campaign_id=campaign_id), metadata=marketing(someone()), timeout=10
    )


def mail_a_test(stub: Stub, campaign_id: str, email: str, metadata: Metadata, actor: str = "") -> pb.Accepted:
    return stub.SendTestCampaign(
        pb.TestSendRequest(actor_account_id=actor, campaign_id=campaign_id, email=email),
        metadata=metadata,
        timeout=15,
    )


def entries(stub: Stub, action: str = "", metadata: Metadata | None = None) -> list[audit_pb2.AuditEntry]:
    """The whole trail (of one action), newest first, read as an admin page by page."""
    found: list[audit_pb2.AuditEntry] = []
    token = ""
    while True:
        page = stub.ListAuditEntries(
            audit_pb2.AuditListRequest(page_size=50, page_token=token, action=action),
            metadata=metadata or staff_metadata(someone(), ADMIN),
            timeout=10,
        )
        found += page.entries
        token = page.next_page_token
        if not token:
            return found


def about(stub: Stub, campaign_id: str) -> list[tuple[str, str]]:
    """(action, actor) of each entry about one campaign, oldest first."""
    return [(e.action, e.actor_account_id) for e in reversed(entries(stub)) if e.target == campaign_id]


def refusal(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as exc:
        reasons = [value for key, value in exc.trailing_metadata() or () if key == "reason"]
        return exc.code(), reasons[0] if reasons else ""
    raise AssertionError("the call succeeded but was expected to be refused")


def seeded(newsletter: Backend, db: Database, count: int, domain: str) -> list[tuple[str, str]]:
    """``count`` active subscribers: (address, subscriber id) each."""
    pepper = newsletter.api.env["LETHE_SUBJECT_PEPPER"]
    addresses = [f"{unique('r')}@{domain}".lower() for _ in range(count)]
    ids = seed_active(db, pepper, [Reader(a) for a in addresses], datetime.now(UTC) - timedelta(minutes=5))
    return list(zip(addresses, ids, strict=True))


def unsubscribed(db: Database, subscribers: list[tuple[str, str]]) -> None:
    """Take seeded subscribers out again, so later campaigns of this module do not wait for them."""
    for _, subscriber in subscribers:
        db.subscriber_steps.delete_many({"_id": under(subscriber)})


def test_each_staff_action_on_a_campaign_is_one_entry_naming_its_actor_and_the_campaign(
    stub: Stub, sink: PrivateServer
) -> None:
    writer, tester, sender, canceller = someone(), someone(), someone(), someone()
    sent = draft(stub, writer)
    mail_a_test(stub, sent.id, f"{unique('t')}@staff.example", marketing(tester))
    stub.SendCampaign(pb.CampaignRef(campaign_id=sent.id), metadata=marketing(sender), timeout=10)
    stopped = draft(stub, writer)
    stub.CancelCampaign(
        pb.CampaignRef(actor_account_id=canceller, campaign_id=stopped.id),
        metadata=staff_metadata(canceller, ADMIN),
        timeout=10,
    )

    assert about(stub, sent.id) == [
        ("campaign.created", writer),
        ("campaign.test_sent", tester),
        ("campaign.sent", sender),
    ]
    assert about(stub, stopped.id) == [("campaign.created", writer), ("campaign.cancelled", canceller)]
    ours = [e for e in entries(stub) if e.target in (sent.id, stopped.id)]
    assert {e.service for e in ours} == {"newsletter"}
    assert all(e.subject_key == "" and e.at and e.id.startswith("aud_") for e in ours)
    assert not any("staff.example" in str(e) for e in ours)  # the test address is not recorded
    # One action's page holds only that action.
    cancelled = entries(stub, action="campaign.cancelled")
    assert stopped.id in [e.target for e in cancelled]
    assert {e.action for e in cancelled} == {"campaign.cancelled"}


def test_a_refused_action_leaves_no_entry(stub: Stub) -> None:
    writer = someone()
    campaign = draft(stub, writer)
    ref = pb.CampaignRef(campaign_id=campaign.id)
    refused = [
        lambda: stub.CancelCampaign(ref, metadata=staff_metadata(writer, SUPPORT), timeout=10),
        lambda: stub.SendCampaign(
            ref, metadata=staff_metadata(writer, MARKETING, password_at=time.time() - 3600), timeout=10
        ),
        lambda: mail_a_test(stub, campaign.id, "me@staff.example", forged_metadata(writer, MARKETING)),
    ]
    for call in refused:
        assert refusal(call)[0] == grpc.StatusCode.PERMISSION_DENIED
    assert about(stub, campaign.id) == [("campaign.created", writer)]


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (lambda: None, "staff_assertion_invalid"),
        (lambda: forged_metadata(someone(), ADMIN), "staff_assertion_invalid"),
        (lambda: staff_metadata(someone(), MARKETING), "staff_role_missing"),
        (lambda: staff_metadata(someone(), MARKETING, SUPPORT, ACCOUNTING), "staff_role_missing"),
    ],
    ids=["no assertion", "forged admin", "marketing", "every role but admin"],
)
def test_only_an_admin_reads_the_trail(
    stub: Stub, metadata: Callable[[], Metadata | None], reason: str
) -> None:
    call = lambda: stub.ListAuditEntries(  # noqa: E731
        audit_pb2.AuditListRequest(page_size=5), metadata=metadata(), timeout=10
    )
    assert refusal(call) == (grpc.StatusCode.PERMISSION_DENIED, reason)


def test_an_admin_naming_another_actor_is_refused_and_a_bad_filter_is_invalid(stub: Stub) -> None:
    admin = someone()
    mismatch = lambda: stub.ListAuditEntries(  # noqa: E731
        audit_pb2.AuditListRequest(actor_account_id=someone()),
        metadata=staff_metadata(admin, ADMIN),
        timeout=10,
    )
    assert refusal(mismatch) == (grpc.StatusCode.PERMISSION_DENIED, "staff_actor_mismatch")
    bad = lambda: stub.ListAuditEntries(  # noqa: E731
        audit_pb2.AuditListRequest(action="NOT AN ACTION"), metadata=staff_metadata(admin, ADMIN), timeout=10
    )
    assert refusal(bad)[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_a_test_send_goes_to_the_given_address_alone_and_leaves_the_campaign_a_draft(
    newsletter: Backend, stub: Stub, db: Database, sink: PrivateServer
) -> None:
    readers = seeded(newsletter, db, 2, "audience.example")  # subscribers who must get nothing
    tester = someone()
    me = f"{unique('me')}@staff.example".lower()
    campaign = draft(
        stub, someone(), text_body="Spring is here.", html_body="<p>Spring <b>is</b> here.</p>", greeting=True
    )
    before = get(stub, campaign.id)

    assert mail_a_test(stub, campaign.id, me, marketing(tester)).message

    [mail] = wait_for(lambda: of_campaign(sink, campaign.id), 15, what="the test mail")
    time.sleep(1.0)  # anything else about this campaign would have arrived by now
    assert len(of_campaign(sink, campaign.id)) == 1
    assert mail["To"] == me and mail["X-Lethe-Mail"] == TEST_KIND
    assert str(mail["Subject"]) == f"[TEST] {campaign.subject}"
    text = mail_text(mail)
    assert text.startswith("TEST:") and "its unsubscribe link does not work" in text
    assert "Hallo, / Hello," in text and "Spring is here." in text  # as a subscriber gets it
    assert "token=test-send-no-token" in text  # a link that unsubscribes no one
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None and "Spring <b>is</b> here." in str(html_part.get_content())
    # None of this campaign to its subscribers (other campaigns of this module may reach them).
    assert {m["To"] for m in of_campaign(sink, campaign.id)} == {me}
    assert not {a for a, _ in readers} & {m["To"] for m in of_campaign(sink, campaign.id)}

    after = get(stub, campaign.id)
    assert after == before and after.status == "draft" and not after.started_at
    assert [s["kind"] for s in db.campaign_steps.find({"_id": under(campaign.id)})] == ["created"]
    assert db.send_log.count_documents({"campaign_id": campaign.id}) == 0
    assert db.campaign_progress.count_documents({"_id": under(campaign.id)}) == 0
    # The campaign can still be sent for real afterwards.
    started = stub.SendCampaign(
        pb.CampaignRef(campaign_id=campaign.id), metadata=marketing(tester), timeout=10
    )
    assert started.status == "sending"
    stub.CancelCampaign(pb.CampaignRef(campaign_id=campaign.id), metadata=marketing(tester), timeout=10)
    unsubscribed(db, readers)


def test_a_test_send_is_refused_without_the_role_for_another_actor_a_bad_address_or_a_non_draft(
    stub: Stub, sink: PrivateServer
) -> None:
    member = someone()
    campaign = draft(stub, member)
    me = f"{unique('me')}@staff.example"
    refused = {
        "no assertion": (lambda: mail_a_test(stub, campaign.id, me, ()), grpc.StatusCode.PERMISSION_DENIED),
        "accounting": (
            lambda: mail_a_test(stub, campaign.id, me, staff_metadata(member, ACCOUNTING)),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        "another actor": (
            lambda: mail_a_test(stub, campaign.id, me, marketing(member), actor=someone()),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        "not an address": (
            lambda: mail_a_test(stub, campaign.id, "nobody", marketing(member)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "no such campaign": (
            lambda: mail_a_test(stub, "cmp_" + "9" * 32, me, marketing(member)),
            grpc.StatusCode.NOT_FOUND,
        ),
    }
    for case, (call, code) in refused.items():
        assert refusal(call)[0] == code, case
    stub.CancelCampaign(pb.CampaignRef(campaign_id=campaign.id), metadata=marketing(member), timeout=10)
    assert refusal(lambda: mail_a_test(stub, campaign.id, me, marketing(member)))[0] == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    time.sleep(1.0)
    assert of_campaign(sink, campaign.id) == []


def test_at_most_ten_test_sends_per_campaign_and_hour_however_many_ask_at_once(
    stub: Stub, db: Database, sink: PrivateServer
) -> None:
    member = someone()
    campaign = draft(stub, member)
    me = f"{unique('me')}@staff.example".lower()

    def one(_: int) -> str:
        try:
            mail_a_test(stub, campaign.id, me, marketing(member))
        except grpc.RpcError as exc:
            retry = dict(exc.trailing_metadata() or ()).get("retry-after", "")
            return f"{exc.code().name} {retry}".strip()
        return "sent"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, range(LIMIT + 6)))
    assert outcomes.count("sent") == LIMIT
    refused = [o for o in outcomes if o != "sent"]
    assert len(refused) == 6 and all(o.startswith("RESOURCE_EXHAUSTED") for o in refused)
    assert all(0 < int(o.split()[-1]) <= HOUR for o in refused)  # when the next hour starts
    wait_for(lambda: len(of_campaign(sink, campaign.id)) >= LIMIT, 20, what="the test mails")
    time.sleep(1.0)
    assert len(of_campaign(sink, campaign.id, TEST_KIND)) == LIMIT
    assert {m["To"] for m in of_campaign(sink, campaign.id)} == {me}
    assert [e for e, _ in about(stub, campaign.id)].count("campaign.test_sent") == LIMIT
    # Another campaign has its own ten.
    other = draft(stub, member)
    mail_a_test(stub, other.id, me, marketing(member))
    # The campaign is still an untouched draft.
    assert get(stub, campaign.id).status == "draft"


def test_the_sweep_deletes_audit_entries_past_the_retention_and_past_hours_test_slots(
    stub: Stub, db: Database
) -> None:
    trail = AuditTrail(db.staff_audit)
    old_target, new_target = f"cmp_{uuid.uuid4().hex}", f"cmp_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    trail.record(AuditRecord(someone(), "campaign.created", target=old_target), now - timedelta(days=31))
    trail.record(AuditRecord(someone(), "campaign.created", target=new_target), now - timedelta(days=29))
    past_hour = int(now.timestamp()) // HOUR - 2
    db.campaign_test_sends.insert_one(
        {"_id": f"{past_hour:012d}/{old_target}/0000", "by": someone(), "at": now}
    )

    def swept() -> bool:
        return db.staff_audit.count_documents({"target": old_target}) == 0 and (
            db.campaign_test_sends.count_documents({"_id": under(f"{past_hour:012d}")}) == 0
        )

    wait_for(swept, 15, what="the sweep")
    assert db.staff_audit.count_documents({"target": new_target}) == 2  # the entry and its action copy
    assert [e.target for e in entries(stub, action="campaign.created")].count(new_target) == 1


def test_get_campaign_reports_sent_failed_dropped_and_remaining_while_sending(
    newsletter: Backend, stub: Stub, db: Database, sink: PrivateServer
) -> None:
    readers = seeded(newsletter, db, 40, "progress.example")
    pepper = newsletter.api.env["LETHE_SUBJECT_PEPPER"]
    erased_address, _ = readers[-1]  # erased after confirming: the sender drops it
    db.suppression.insert_one(
        {"_id": subject_key(pepper, erased_address), "since": datetime.now(UTC), "reason": "erasure"}
    )
    member = someone()
    campaign = draft(stub, member)
    stub.SendCampaign(pb.CampaignRef(campaign_id=campaign.id), metadata=marketing(member), timeout=10)

    seen: list[pb.CampaignProgress] = []

    def finished() -> pb.Campaign | None:
        current = get(stub, campaign.id)
        if current.status == "sending":
            seen.append(current.progress)
        return current if current.status == "sent" else None

    done = wait_for(finished, 60, interval=0.05, what="the campaign to be sent")
    during = [p for p in seen if p.recipients and 0 < p.sent < p.recipients - 1]
    assert during, "no progress was seen while sending"
    for p in during:
        assert p.remaining > 0
        assert p.sent + p.failed + p.dropped + p.remaining == p.recipients
    final = done.progress
    assert final.recipients >= len(readers) and final.remaining == 0
    assert final.dropped == 1 and final.failed == 0
    assert final.sent == final.recipients - 1
    delivered = {
        m["To"] for m in mails_in(maildir(sink), kind=CAMPAIGN_KIND) if m["X-Lethe-Campaign"] == campaign.id
    }
    assert {a for a, _ in readers[:-1]} <= delivered and erased_address not in delivered
    unsubscribed(db, readers)

"""Benchmark: a newsletter campaign to N recipients, beside the bare SMTP client.

    make bench
    .venv/bin/python tools/stack.py run -- .venv/bin/python bench/bench_newsletter.py

Both write into one SMTP sink of the benchmark's own (aiosmtpd, a Maildir on
local disk), in the same run, with the same messages.

- Bare: one smtplib connection composing and sending the N messages back to
  back (``send_message``): what the relay and the sink allow one client.
- Lethe: a campaign created and sent over gRPC; the newsletter worker walks
  the subscribers' ``_id`` pages for the audience, rechecks each batch
  (unsubscribed, restricted, suppressed), records every message in the send log
  before its final dot (and checks the subscriber took no step since), and paces at
  NEWSLETTER_SEND_RATE (0 here: no limit). The rate is counted from the first
  to the last message the sink wrote; the total also holds the worker's
  pick-up and the final write.

BENCH_RECIPIENTS (default 10000) and BENCH_BATCH (default 200) change the
sizes. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import smtplib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common import mongo
from lethe_common.mail import build_message
from lethe_common.signing import derive_key
from lethe_common.staff import MARKETING
from lethe_newsletter.links import Links
from lethe_newsletter.messages import Messages
from lethe_newsletter.seeding import Reader, seed_active
from lethe_testing import private_smtp_sink, running_backend, unique, wait_for
from lethe_testing.staff import staff_metadata

N = int(os.environ.get("BENCH_RECIPIENTS", "10000"))
BATCH = os.environ.get("BENCH_BATCH", "200")
ACTOR = "acc_" + "b" * 32
SENDER = "Lethe <no-reply@lethe.invalid>"


def readers() -> list[Reader]:
    return [Reader(f"{unique('b')}-{n}@bench.example", f"Reader {n}") for n in range(N)]


def mail_files(maildir: Path) -> list[Path]:
    folder = maildir / "new"
    return list(folder.glob("*")) if folder.is_dir() else []


def bare(port: int, people: list[Reader], ids: list[str], campaign: dict[str, object]) -> float:
    """Seconds for one plain smtplib connection to compose and send every message."""
    messages = Messages(Links(derive_key("bench" * 8, "newsletter"), "https://lethe.example"))
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for reader, subscriber in zip(people, ids, strict=True):
            doc = {"_id": subscriber, "email": reader.email, "name": reader.name}
            client.send_message(build_message(messages.campaign(campaign, doc), SENDER))
    return time.perf_counter() - started


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-newsletter-"))
    sink = private_smtp_sink(work).start()
    maildir = Path(sink.env["LETHE_MAILDIR"])
    try:
        with running_backend(
            "newsletter",
            work,
            LETHE_SMTP_PORT=str(sink.port),
            NEWSLETTER_SEND_RATE="0",
            NEWSLETTER_BATCH_SIZE=BATCH,
        ) as backend:
            people = readers()
            client = mongo.connect(backend.api.env["LETHE_MONGO_URL"], "lethe-bench")
            ids = seed_active(
                client[backend.db_name],
                backend.api.env["LETHE_SUBJECT_PEPPER"],
                people,
                datetime.now(UTC) - timedelta(minutes=5),
            )
            campaign = {
                "_id": "cmp_" + "a" * 32,
                "subject": "Bench",
                "greeting": True,
                "text_body": "A short newsletter.\n" * 20,
                "html_body": "<p>Short.</p>",
            }
            bare_s = bare(sink.port, people, ids, campaign)
            wait_for(lambda: len(mail_files(maildir)) >= N, 120, what="the bare messages")
            before = {p.name for p in mail_files(maildir)}

            with backend.channel() as channel:
                stub = newsletter_pb2_grpc.NewsletterServiceStub(channel)
                created = stub.CreateCampaign(
                    pb.CreateCampaignRequest(
                        actor_account_id=ACTOR,
                        subject="Bench",
                        text_body=str(campaign["text_body"]),
                        html_body=str(campaign["html_body"]),
                        greeting=True,
                    ),
                    metadata=staff_metadata(ACTOR, MARKETING),
                    timeout=10,
                )
                ref = pb.CampaignRef(actor_account_id=ACTOR, campaign_id=created.id)
                started = time.perf_counter()
                stub.SendCampaign(ref, metadata=staff_metadata(ACTOR, MARKETING), timeout=10)
                done = wait_for(
                    lambda: (
                        (
                            c := stub.GetCampaign(ref, metadata=staff_metadata(ACTOR, MARKETING), timeout=10)
                        ).status
                        == "sent"
                        and c
                    ),
                    3600,
                    interval=0.2,
                    what="the campaign",
                )
                total_s = time.perf_counter() - started
            client.close()
            lethe = [p for p in mail_files(maildir) if p.name not in before]
            times = sorted(p.stat().st_mtime for p in lethe)
            span = times[-1] - times[0]
    finally:
        sink.kill()
    print(f"newsletter campaign, {N} recipients, batch {BATCH}, one worker, no rate limit")
    print(f"{'bare smtplib client, one connection':<52} {N / bare_s:8.1f} msg/s  ({bare_s:.1f} s)")
    print(f"{'Lethe worker, first to last message':<52} {len(lethe) / span:8.1f} msg/s  ({span:.1f} s)")
    print(f"{'Lethe, send request to campaign sent':<52} {N / total_s:8.1f} msg/s  ({total_s:.1f} s)")
    print(
        f"messages delivered by Lethe: {len(lethe)}; progress says sent={done.progress.sent} "
        f"failed={done.progress.failed} dropped={done.progress.dropped}"
    )
    print(f"ratio Lethe/bare: {len(lethe) / span / (N / bare_s):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

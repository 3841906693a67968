"""Run the proof of erasure for a complete erasure request, and print what it found.

    env $(.venv/bin/python tools/stack.py env) .venv/bin/python tools/verify_erasure.py \
        --staff acc_<32 hex> pr_<32 hex>

It asks the consent service (``CONSENT_GRPC_ADDR``) to search every service's store, retry
and dead-letter queues and the stack's log files for the person the request forgot; the
result is stored with the request, as when staff run it from
``POST /api/v1/admin/privacy-requests/{id}/verification``. Exit status: 0 passed, 1 failed
(something nobody declared is left), 2 incomplete or refused.

The run is a staff action of the account ``--staff`` names (a member of staff with the privacy
or admin role): the tool signs the staff assertion with ``IDENTITY_STAFF_SIGNING_KEY``, as
identity would for that person, so only an operator who holds identity's key can run it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import grpc

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.grpc_client import channel_options, target
from lethe_common.staff import METADATA_KEY, PRIVACY, AssertionSigner

EXIT = {"passed": 0, "failed": 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("request_id", help="the erasure request's id (pr_...)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (300)")
    parser.add_argument("--staff", required=True, help="the account id of the staff member running it")
    args = parser.parse_args(argv)
    signing_key = os.environ.get("IDENTITY_STAFF_SIGNING_KEY", "")
    if not signing_key:
        print("IDENTITY_STAFF_SIGNING_KEY is not set: this tool acts for a member of staff", file=sys.stderr)
        return 2
    assertion = AssertionSigner(signing_key).sign(args.staff, [PRIVACY], time.time())
    address = os.environ.get("CONSENT_GRPC_ADDR", "127.0.0.1:50052")
    with grpc.insecure_channel(target(address), options=channel_options()) as channel:
        stub = consent_pb2_grpc.ConsentServiceStub(channel)
        try:
            reply = stub.VerifyErasure(
                pb.VerifyErasureRequest(request_id=args.request_id),
                metadata=((METADATA_KEY, assertion),),
                timeout=args.timeout,
            )
        except grpc.RpcError as exc:
            print(f"refused: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 2
    result = reply.verification
    print(f"request {reply.id}: {result.outcome} at {result.checked_at}")
    print(
        f"searched {result.documents_searched} documents, {result.messages_searched} queued "
        f"messages, {result.log_lines_searched} log lines"
    )
    for label, traces in (("retained", result.retained), ("FAILURE", result.failures)):
        for t in traces:
            until = f" until {t.until}" if t.until else ""
            print(f"  {label}: {t.service} {t.source} {t.place} ({t.what}){until}")
    if result.unanswered:
        print(f"  no answer from: {', '.join(result.unanswered)}")
    return EXIT.get(result.outcome, 2)


if __name__ == "__main__":
    sys.exit(main())

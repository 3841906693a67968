"""How long ``POST /api/v1/accounts/verify/resend`` takes for a known and an unknown address.

    .venv/bin/python tools/stack.py run -- .venv/bin/python tools/bench_resend_timing.py [--rounds 200]

Starts a private stack (every backend and a gateway, as the tests do), registers one
address (its account waits for verification, so a resend for it does send a link), then
asks for a resend of that address and of a fresh unknown address in turn, ``--rounds``
times each, one request at a time, and prints the median, 90th percentile and mean of
both and their difference (issue 18: the answer must not tell them apart). The per-address
mail limit is raised for the run so that every resend of the known address really mails.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from lethe_testing import start_stack, stop_stack, unique, wait_for_mail

PASSWORD = "violet tractor umbrella 42"  # noqa: S105 (a bench account's)


def timed(client: httpx.Client, email: str) -> float:
    started = time.perf_counter()
    response = client.post("/api/v1/accounts/verify/resend", json={"email": email})
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        raise SystemExit(f"resend: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"{name:8} median {statistics.median(times) * 1000:6.2f} ms   p90 {p90 * 1000:6.2f} ms   "
        f"mean {statistics.fmean(times) * 1000:6.2f} ms   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-resend-"))
    stack = start_stack(unique("rsnd"), log_dir, IDENTITY_ACCOUNT_MAILS_PER_ADDRESS=str(args.rounds + 20))
    try:
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
            known = f"known-{stack.run_id}@bench.example"
            consent = client.get("/api/v1/consent-texts").json()
            version = next(t["version"] for t in consent if t["purpose"] == "account")
            registered = client.post(
                "/api/v1/accounts",
                json={
                    "email": known,
                    "password": PASSWORD,
                    "name": "Bench",
                    "account_consent_version": version,
                },
            )
            if registered.status_code != 201:
                raise SystemExit(f"register: HTTP {registered.status_code}: {registered.text[:300]}")
            wait_for_mail(known, "verification")
            for n in range(20):  # warm up both paths
                timed(client, known if n % 2 else f"warm{n}-{stack.run_id}@bench.example")
            known_times: list[float] = []
            unknown_times: list[float] = []
            for n in range(args.rounds):
                known_times.append(timed(client, known))
                unknown_times.append(timed(client, f"nobody{n}-{stack.run_id}@bench.example"))
            sent = wait_for_mail(known, "verification", count=args.rounds + 11, timeout=120)
        print(summary("known", known_times))
        print(summary("unknown", unknown_times))
        difference = statistics.median(known_times) - statistics.median(unknown_times)
        print(f"median difference (known - unknown): {difference * 1000:+.2f} ms")
        print(f"mails the known address received: {args.rounds + 11} ({sent['X-Lethe-Mail']})")
    finally:
        stop_stack(stack)


if __name__ == "__main__":
    main()

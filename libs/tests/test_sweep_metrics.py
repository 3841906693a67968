"""A worker's sweep is counted by outcome, and its last success is a timestamp the retention
alert (deploy/prometheus/rules.yml, LetheRetentionSweepStale) watches."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import REGISTRY

from lethe_common.runtime import Sweep, _loop_sweep, run_sweep_once
from lethe_testing import unique, wait_for

pytestmark = pytest.mark.unit


def runs(sweep: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("lethe_sweep_runs_total", {"sweep": sweep, "outcome": outcome}) or 0.0


def last_success(sweep: str) -> float | None:
    return REGISTRY.get_sample_value("lethe_sweep_last_success_timestamp_seconds", {"sweep": sweep})


def test_a_successful_run_is_counted_and_stamped() -> None:
    name = unique("sweep")
    before = time.time()
    assert run_sweep_once(Sweep(name, 60, lambda: {"deleted": 3})) is True
    assert runs(name, "success") == 1
    assert runs(name, "failure") == 0
    stamp = last_success(name)
    assert stamp is not None and before <= stamp <= time.time()


def test_a_failed_run_is_counted_and_leaves_the_last_success_alone() -> None:
    name = unique("sweep")
    assert last_success(name) is None  # absent until the first success
    calls = iter([None, RuntimeError("store gone")])

    def flaky() -> None:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome

    assert run_sweep_once(Sweep(name, 60, flaky)) is True
    stamp = last_success(name)
    assert run_sweep_once(Sweep(name, 60, flaky)) is False
    assert (runs(name, "success"), runs(name, "failure")) == (1, 1)
    assert last_success(name) == stamp


def test_the_worker_loop_counts_every_run_and_starts_both_series_at_zero() -> None:
    name, stop, done = unique("sweep"), threading.Event(), threading.Event()
    count = 0

    def job() -> None:
        nonlocal count
        count += 1
        if count >= 3:
            done.set()

    thread = threading.Thread(target=_loop_sweep, args=(Sweep(name, 0.01, job), stop), daemon=True)
    thread.start()
    try:
        wait_for(done.is_set, 5, what="three sweeps")
    finally:
        stop.set()
        thread.join(5)
    assert runs(name, "success") >= 3
    assert REGISTRY.get_sample_value("lethe_sweep_runs_total", {"sweep": name, "outcome": "failure"}) == 0
    assert last_success(name) is not None

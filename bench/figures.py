"""How every benchmark prints a row of figures."""

from __future__ import annotations

import statistics


def report(name: str, samples_ms: list[float], wall_s: float | None = None) -> None:
    """One row: count, p50, p95 and max in milliseconds, and the rate when the wall time is known."""
    ordered = sorted(samples_ms)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    rate = f"{len(ordered) / wall_s:8.1f}/s" if wall_s else " " * 10
    print(
        f"{name:<52} n={len(ordered):<5} p50={statistics.median(ordered):8.2f} ms  "
        f"p95={p95:8.2f} ms  max={ordered[-1]:8.2f} ms  {rate}"
    )

"""The consent worker process: event consumers, outbox relay, sweeps."""

from __future__ import annotations

from lethe_common.service import worker_main
from lethe_consent.config import load_config


def main() -> None:
    worker_main(load_config())


if __name__ == "__main__":
    main()

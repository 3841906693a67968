"""Prometheus in the dev stack (``make up``; never in the private stacks of ``test``/``run``).

Debian's ``prometheus`` package (tools/setup.sh) provides /usr/bin/prometheus; the package's
own service plays no part: the stack runs its own server, with a configuration written here
into var/stacks/<name>/prometheus/, which scrapes every process of the stack (each backend's
API and worker metrics ports for every replica, the gateway's metrics port), loads the one
rules file deploy/prometheus/rules.yml, keeps its data beside it and listens on
127.0.0.1:9090 (+ ``LETHE_PORT_OFFSET``): /targets and /alerts.

The configuration is written as JSON, which is YAML too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path("/usr/bin/prometheus")
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
SCRAPE_INTERVAL = "5s"  # a dev stack: targets show up within seconds
EVALUATION_INTERVAL = "15s"
RETENTION = "7d"


@dataclass(frozen=True)
class Target:
    """One process's metrics endpoint: ``job`` is ``gateway`` or ``<service>-api|worker``."""

    job: str
    port: int
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def stack_targets(
    backends: Iterable[str],
    replicas: int,
    ports: Callable[[str, int], tuple[int, int, int]],
    gateway_metrics_port: int,
) -> list[Target]:
    """Every process of a dev stack: ``ports(service, replica)`` gives the replica's gRPC, API
    metrics and worker metrics ports."""
    targets = []
    for service in backends:
        for replica in range(1, replicas + 1):
            _, api, worker = ports(service, replica)
            labels = {"service": service, "replica": str(replica)}
            targets += [Target(f"{service}-api", api, labels), Target(f"{service}-worker", worker, labels)]
    targets.append(Target("gateway", gateway_metrics_port, {"service": "gateway", "replica": "1"}))
    return targets


def config(targets: Iterable[Target], rules: Path = RULES) -> dict[str, object]:
    """The Prometheus configuration: one job per kind of process, each target with its labels."""
    jobs: dict[str, list[dict[str, object]]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append({"targets": [target.address], "labels": target.labels})
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": EVALUATION_INTERVAL},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": static}
            for job, static in jobs.items()
        ],
    }


def write_config(folder: Path, targets: Iterable[Target]) -> Path:
    """Write ``folder``/prometheus.yml (and make ``folder``/data); return the file."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    path = folder / "prometheus.yml"
    path.write_text(json.dumps(config(targets), indent=2) + "\n")
    return path


def argv(folder: Path, port: int) -> list[str]:
    """The server's command line: our configuration and storage, on loopback only."""
    return [
        str(BINARY),
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}/",
    ]


def ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/-/ready"

"""Write k8s/base/monitoring/prometheusrule.yaml from deploy/prometheus/rules.yml.

    .venv/bin/python tools/k8s/sync_rules.py           # rewrite the PrometheusRule
    .venv/bin/python tools/k8s/sync_rules.py --check   # exit 1 if it has drifted

The PrometheusRule's ``spec.groups`` are exactly the ``groups`` of the Prometheus rule file
that the single-host deployment loads, so the alerts are written once. Until that file
exists, one placeholder group stands in (PLACEHOLDER_GROUPS) and --check says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
TARGET = ROOT / "k8s" / "base" / "monitoring" / "prometheusrule.yaml"
HEADER = "# Written by tools/k8s/sync_rules.py from {source}: edit that file, run the script.\n"
PLACEHOLDER_GROUPS: list[dict[str, Any]] = [
    {
        "name": "lethe-placeholder",
        "rules": [
            {
                "alert": "LetheTargetDown",
                "expr": 'up{namespace="lethe"} == 0',
                "for": "5m",
                "labels": {"severity": "page"},
                "annotations": {"summary": "{{ $labels.pod }} has not been scraped for 5 minutes"},
            }
        ],
    }
]


def rule_groups(rules_file: Path = RULES) -> list[dict[str, Any]]:
    """The groups of the rule file, or the placeholder while there is none."""
    if not rules_file.exists():
        return PLACEHOLDER_GROUPS
    groups = (yaml.safe_load(rules_file.read_text()) or {}).get("groups")
    if not isinstance(groups, list) or not groups:
        raise ValueError(f"{rules_file} has no groups")
    return groups


def prometheus_rule(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "lethe", "labels": {"app.kubernetes.io/part-of": "lethe"}},
        "spec": {"groups": groups},
    }


def render(rules_file: Path = RULES) -> str:
    source = rules_file.relative_to(ROOT) if rules_file.exists() else "a placeholder (no rule file yet)"
    document = prometheus_rule(rule_groups(rules_file))
    body: str = yaml.safe_dump(document, sort_keys=False, width=120)
    return HEADER.format(source=source) + body


def main() -> int:
    parser = argparse.ArgumentParser(description="sync the PrometheusRule with deploy/prometheus/rules.yml")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if not RULES.exists():
        print(
            f"note: {RULES.relative_to(ROOT)} does not exist; the placeholder group stands in",
            file=sys.stderr,
        )
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(
                f"{TARGET.relative_to(ROOT)} differs from {RULES.relative_to(ROOT)}:",
                "run tools/k8s/sync_rules.py",
            )
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

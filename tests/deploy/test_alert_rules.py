"""deploy/prometheus/rules.yml is valid, and its unit tests (rules.test.yml) pass and fire
every alert it defines at least once."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules.test.yml"
SEVERITIES = {"page", "ticket"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: tools/setup.sh installs Debian's prometheus package")
    return subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_rules_file_is_valid() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(load(RULES)['groups'][0]['rules'])} rules found" in done.stdout


def test_the_rules_unit_tests_pass() -> None:
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_fires_in_some_unit_test_and_is_silent_in_another() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for case in load(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "alert names are unique"
    assert sorted(set(names) - fired) == [], "alerts no unit test fires"
    assert sorted(set(names) - silent) == [], "alerts no unit test expects to stay silent"
    assert sorted((fired | silent) - set(names)) == [], "unit tests of alerts rules.yml does not define"


def test_every_alert_says_how_bad_it_is_and_where_its_runbook_is() -> None:
    alerts = alert_rules()
    assert {
        "LetheProcessDown",
        "LetheGrpcErrorRatioHigh",
        "LetheOutboxBacklogGrowing",
        "LetheDeadLetters",
        "LetheConsumerLagHigh",
        "LethePrivacyRequestOverdue",
        "LetheRetentionSweepStale",
        "LetheLoginThrottledStorm",
    } <= {rule["alert"] for rule in alerts}
    for rule in alerts:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert annotations["runbook"] == f"docs/operations.md#{rule['alert'].lower()}", rule["alert"]


def test_the_retention_alert_watches_every_retention_sweep_of_the_workers() -> None:
    """A retention sweep added to a worker.py must be added to the alert too."""
    declared = {
        name
        for worker in ROOT.glob("services/*/lethe_*/worker.py")
        for name in re.findall(r'Sweep\(\s*"([a-z-]+)"', worker.read_text())
    }
    retention = {name for name in declared if name.endswith(("-retention", "-tidy"))}
    assert retention == {
        "identity-retention",
        "consent-retention",
        "shop-retention",
        "newsletter-tidy",
        "analytics-retention",
    }
    (stale,) = [rule for rule in alert_rules() if rule["alert"] == "LetheRetentionSweepStale"]
    for name in retention:
        assert f'sweep="{name}"' in stale["expr"], name
        assert re.search(rf'sweep=~"[^"]*\b{name}\b', stale["expr"]), name

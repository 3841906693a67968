"""k8s/: both overlays build, every object matches its schema, and the policy holds
(tools/k8s/checks.py). No cluster and no network: kustomize from var/bin/ (make test
installs it), Kubernetes' schemas from kubernetes-validate, the operators' in k8s/schemas/."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lethe_k8s_{name}", ROOT / "tools" / "k8s" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


checks = _load("checks")
render = _load("render")
sync_rules = _load("sync_rules")


@pytest.fixture(scope="module", params=sorted(checks.IMAGE_PINNING))
def built(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, checks.build(request.param)


def test_overlay_passes_every_check(built: tuple[str, list[dict[str, Any]]]) -> None:
    overlay, objects = built
    assert {o["kind"] for o in objects} >= {"Deployment", "NetworkPolicy", "ScaledObject", "PrometheusRule"}
    assert checks.all_problems(objects, checks.IMAGE_PINNING[overlay]) == []


def test_base_is_what_render_writes() -> None:
    stale = [p for p, text in render.render().items() if not p.exists() or p.read_text() != text]
    assert not stale, "k8s/base/ is out of date: run tools/k8s/render.py"


def test_prometheus_rule_has_the_rule_files_groups() -> None:
    text = sync_rules.TARGET.read_text()
    assert text == sync_rules.render(), "run tools/k8s/sync_rules.py"


def _deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in objects if o["kind"] == "Deployment"))


def test_every_check_can_fail(built: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = built
    broken = _deployment(objects)
    spec = broken["spec"]["template"]["spec"]
    container = spec["containers"][0]
    del container["readinessProbe"], container["livenessProbe"]
    del container["resources"]["limits"]
    container["securityContext"] = {"allowPrivilegeEscalation": True}
    spec["securityContext"] = {}
    container["image"] = "lethe-identity:latest"
    container["imagePullPolicy"] = "Always"
    container["bogus"] = 1
    container["command"] = ["lethe-identity-api"]
    broken["spec"]["template"]["metadata"]["labels"] = {"app.kubernetes.io/name": "stray"}
    broken["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "stray"}}

    problems = "\n".join(checks.deployment_problems(broken))
    for word in (
        "readinessProbe",
        "livenessProbe",
        "resources.limits",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "drop ALL",
        "seccompProfile",
        "entrypoint",
    ):
        assert word in problems, word
    assert checks.schema_problems(broken), "an unknown field must fail the schema"
    assert any("NetworkPolicy" in p for p in checks.network_problems([*objects, broken]))
    no_deny = [o for o in objects if o.get("metadata", {}).get("name") != "default-deny"]
    assert any("default-deny" in p for p in checks.network_problems(no_deny))
    assert checks.image_problems([broken], "tag") and checks.image_problems([broken], "digest")
    tagged = _deployment(objects)
    tagged["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/lethe-shop:1.2.3"
    assert not checks.image_problems([tagged], "tag") and checks.image_problems([tagged], "digest")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"k": "v"}}
    assert checks.secret_problems([*objects, secret])
    bad_monitor = copy.deepcopy(next(o for o in objects if o["kind"] == "ScaledObject"))
    bad_monitor["spec"]["triggers"] = []
    assert checks.schema_problems(bad_monitor), "the CRD schema must refuse a ScaledObject without triggers"

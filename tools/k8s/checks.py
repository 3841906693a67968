"""Policy checks of the built manifests (tests/deploy/test_k8s_manifests.py).

Each check takes the objects ``kustomize build`` printed and returns a list of problems,
one sentence each; an empty list passes. They are small on purpose, so that the test can
feed them a broken object and see each one complain.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "k8s" / "overlays"
SCHEMAS = ROOT / "k8s" / "schemas"
KUBERNETES_VERSION = "1.30"
KUSTOMIZE_VERSION = "v5.8.1"
KUSTOMIZE = ROOT / "var" / "bin" / "kustomize"
# How each overlay pins the project's images (k8s/README.md): prod by digest, dev by a tag.
IMAGE_PINNING = {"dev": "tag", "prod": "digest"}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")

Obj = dict[str, Any]


def kustomize_binary() -> Path:
    path = Path(os.environ.get("KUSTOMIZE", KUSTOMIZE))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run tools/k8s/install.sh (make test does)")
    return path


def build(overlay: str) -> list[Obj]:
    """The objects of ``kustomize build k8s/overlays/<overlay>``."""
    result = subprocess.run(
        [str(kustomize_binary()), "build", str(OVERLAYS / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def name_of(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    return f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}"


# -- schemas -------------------------------------------------------------------------


def crd_schema_path(obj: Obj) -> Path:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return SCHEMAS / group / f"{str(obj.get('kind', '')).lower()}_{version}.json"


@cache
def _crd_validator(path: Path) -> Any:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def is_builtin(obj: Obj) -> bool:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def schema_problems(obj: Obj) -> list[str]:
    """Kubernetes' own kinds against its schemas (strict: no unknown fields), the operators'
    kinds against their CRD schemas in k8s/schemas/."""
    if is_builtin(obj):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            return [f"{name_of(obj)}: {where}: {exc.message}"]
        except kubernetes_validate.SchemaNotFoundError as exc:
            return [f"{name_of(obj)}: {exc.message}"]
        return []
    path = crd_schema_path(obj)
    if not path.exists():
        return [f"{name_of(obj)}: no schema {path.relative_to(ROOT)} for {obj.get('apiVersion')}"]
    return [
        f"{name_of(obj)}: {'/'.join(str(p) for p in error.path)}: {error.message}"
        for error in _crd_validator(path).iter_errors(obj)
    ]


# -- workloads -----------------------------------------------------------------------


def pod_spec(obj: Obj) -> Obj:
    spec = obj.get("spec", {})
    if obj.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return dict(spec.get("template", {}).get("spec", {}))


def pod_labels(obj: Obj) -> dict[str, str]:
    return dict(obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}))


def containers(spec: Obj) -> Iterator[Obj]:
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def deployment_problems(obj: Obj) -> list[str]:
    """Probes, requests and limits, and the restricted security context of every container."""
    problems: list[str] = []
    spec = pod_spec(obj)
    pod_security = spec.get("securityContext", {})
    where = name_of(obj)
    if not spec.get("containers"):
        problems.append(f"{where}: no containers")
    for c in spec.get("containers", []):
        for probe in ("readinessProbe", "livenessProbe"):
            if not c.get(probe):
                problems.append(f"{where} container {c.get('name')}: no {probe}")
    for c in containers(spec):
        label = f"{where} container {c.get('name')}"
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if not res.get(part, {}).get(resource):
                    problems.append(f"{label}: no {resource} in resources.{part}")
        if c.get("command"):
            problems.append(f"{label}: command replaces the image's entrypoint (tini); use args")
        sc = c.get("securityContext", {})

        def either(key: str, sc: Obj = sc) -> Any:
            return sc.get(key, pod_security.get(key))

        if either("runAsNonRoot") is not True:
            problems.append(f"{label}: runAsNonRoot is not true")
        if either("runAsUser") == 0:
            problems.append(f"{label}: runAsUser is 0")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{label}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{label}: allowPrivilegeEscalation is not false")
        if sc.get("privileged") is True:
            problems.append(f"{label}: privileged")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{label}: capabilities do not drop ALL")
        if sc.get("capabilities", {}).get("add"):
            problems.append(f"{label}: adds capabilities")
        if (either("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{label}: seccompProfile is not RuntimeDefault")
    return problems


# -- network policies ----------------------------------------------------------------


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    tests: dict[str, Callable[[str, list[str]], bool]] = {
        "In": lambda k, vs: k in labels and labels[k] in vs,
        "NotIn": lambda k, vs: k not in labels or labels[k] not in vs,
        "Exists": lambda k, vs: k in labels,
        "DoesNotExist": lambda k, vs: k not in labels,
    }
    for expression in selector.get("matchExpressions") or []:
        if not tests[expression["operator"]](expression["key"], expression.get("values", [])):
            return False
    return True


def network_problems(objects: list[Obj]) -> list[str]:
    """Every workload's pods are selected by a NetworkPolicy of their own (a non-empty pod
    selector: the default deny and the DNS policy select every pod) for ingress and for
    egress, and each namespace with workloads has a default deny."""
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    problems = []
    namespaces = set()
    for obj in objects:
        if obj.get("kind") not in WORKLOADS:
            continue
        namespace = obj.get("metadata", {}).get("namespace")
        namespaces.add(namespace)
        mine = [
            p
            for p in policies
            if p.get("metadata", {}).get("namespace") == namespace
            and p.get("spec", {}).get("podSelector")  # not the namespace-wide ones
            and selects(p["spec"]["podSelector"], pod_labels(obj))
        ]
        for direction in ("Ingress", "Egress"):
            if not any(direction in p["spec"].get("policyTypes", ["Ingress"]) for p in mine):
                problems.append(
                    f"{name_of(obj)}: no NetworkPolicy of its own selects its pods for {direction}"
                )
    for namespace in sorted(n for n in namespaces if n):
        deny = [
            p
            for p in policies
            if p.get("metadata", {}).get("namespace") == namespace
            and p["spec"].get("podSelector") in ({}, None)
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        if not deny:
            problems.append(f"namespace {namespace}: no default-deny NetworkPolicy")
    return problems


# -- secrets and images --------------------------------------------------------------


def secret_problems(objects: list[Obj]) -> list[str]:
    """Secrets are referenced, never shipped: no Secret object with data."""
    return [
        f"{name_of(o)}: a Secret with data in the manifests"
        for o in objects
        if o.get("kind") == "Secret" and (o.get("data") or o.get("stringData"))
    ]


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
TAG = re.compile(r":([\w][\w.-]{0,127})$")


def image_problems(objects: list[Obj], pinning: str) -> list[str]:
    """``digest``: every image ends in @sha256:<64 hex>; ``tag``: a tag other than latest,
    or a digest."""
    problems = []
    for obj in objects:
        if obj.get("kind") not in WORKLOADS:
            continue
        for c in containers(pod_spec(obj)):
            image = str(c.get("image", ""))
            label = f"{name_of(obj)} container {c.get('name')}: image {image!r}"
            if DIGEST.search(image):
                continue
            if pinning == "digest":
                problems.append(f"{label} is not pinned by digest")
                continue
            tag = TAG.search(image.rpartition("/")[2])
            if not tag or tag.group(1) == "latest":
                problems.append(f"{label} has no tag other than latest")
    return problems


def all_problems(objects: list[Obj], pinning: str) -> list[str]:
    problems = [p for o in objects for p in schema_problems(o)]
    problems += [p for o in objects if o.get("kind") == "Deployment" for p in deployment_problems(o)]
    problems += network_problems(objects)
    problems += secret_problems(objects)
    problems += image_problems(objects, pinning)
    return problems


def main() -> int:
    failed = 0
    for overlay, pinning in IMAGE_PINNING.items():
        problems = all_problems(build(overlay), pinning)
        for problem in problems:
            print(f"{overlay}: {problem}")
        failed += len(problems)
        if not problems:
            print(f"{overlay}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Turn an upstream CustomResourceDefinition into the JSON schema kept in k8s/schemas/.

    .venv/bin/python tools/k8s/crd2schema.py CRD.yaml VERSION OUT.json [--opaque PATH ...]

The ``openAPIV3Schema`` of the served ``VERSION`` becomes a JSON schema the way
kubeconform's ``openapi2jsonschema`` does it: descriptions are dropped,
``x-kubernetes-int-or-string`` becomes "integer or string", ``nullable`` adds
``null``, a Go regexp's leading ``^(?i)`` becomes Python's ``(?i)^``, and every object
that lists its properties refuses unknown ones unless the
CRD says ``x-kubernetes-preserve-unknown-fields`` (the API server prunes those
silently; here a typo is an error). ``apiVersion`` and ``kind`` are pinned.
``--opaque spec.override`` keeps a subtree as a bare object (a trim, named in the
schema's ``$comment`` and in k8s/schemas/README.md). Run once per upgrade of an operator.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml


def convert(node: Any) -> Any:
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {
            "description",
            "x-kubernetes-list-type",
            "x-kubernetes-list-map-keys",
            "x-kubernetes-map-type",
        }:
            continue
        if key == "x-kubernetes-validations":
            continue
        if key in {"properties", "patternProperties", "definitions"}:
            out[key] = {name: convert(sub) for name, sub in value.items()}
        else:
            out[key] = convert(value)
    pattern = out.get("pattern")
    if isinstance(pattern, str) and pattern.startswith("^(?i)"):
        # Go's regexp takes flags anywhere; Python's only at the start (same language).
        out["pattern"] = "(?i)^" + pattern[len("^(?i)") :]
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    out.pop("x-kubernetes-embedded-resource", None)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def make_opaque(schema: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    node = schema
    for part in parents:
        node = node["properties"][part]
    node["properties"][last] = {"type": "object"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crd", type=Path)
    parser.add_argument("version")
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", required=True, help="upstream repository, tag and path, for $comment")
    parser.add_argument("--opaque", action="append", default=[])
    args = parser.parse_args()
    crd = yaml.safe_load(args.crd.read_text())
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == args.version]
    schema = convert(served["schema"]["openAPIV3Schema"])
    for path in args.opaque:
        make_opaque(schema, path)
    schema["properties"]["apiVersion"] = {"const": f"{group}/{args.version}"}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {"type": "object"}
    schema.setdefault("required", [])
    for name in ("apiVersion", "kind", "metadata"):
        if name not in schema["required"]:
            schema["required"].append(name)
    comment = f"{kind} {group}/{args.version} from {args.source}"
    if args.opaque:
        comment += "; trimmed to a bare object: " + ", ".join(args.opaque)
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": comment, **schema}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

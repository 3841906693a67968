"""Generate Python code from protos/lethe/**.proto into protos/gen/python.

Run through ``make protos``. The output is not committed; ``tools/setup.sh``
regenerates it whenever a .proto file changes and installs it as the
``lethe-protos`` package.
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = PROTOS / "gen" / "python"


def main() -> int:
    sources = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "lethe").rglob("*.proto"))
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{well_known}",
            f"--python_out={OUT}",
            f"--pyi_out={OUT}",
            f"--grpc_python_out={OUT}",
            *sources,
        ]
    )
    if code != 0:
        print("protoc failed", file=sys.stderr)
        return int(code)
    (OUT / "lethe" / "py.typed").touch()
    print(f"generated {len(sources)} proto files into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

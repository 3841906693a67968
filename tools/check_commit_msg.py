"""A commit message's shape (the commit-msg hook in .pre-commit-config.yaml).

    python tools/check_commit_msg.py .git/COMMIT_EDITMSG

The subject is 72 characters at most; details go in the body, after one blank line.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUBJECT_MAX = 72


def problems(message: str) -> list[str]:
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    if not lines or not lines[0].strip():
        return ["the first line (the subject) is empty"]
    found = []
    if len(lines[0]) > SUBJECT_MAX:
        found.append(
            f"the subject has {len(lines[0])} characters; at most {SUBJECT_MAX}, details go in the body"
        )
    if len(lines) > 1 and lines[1].strip():
        found.append("the second line must be blank: subject, blank line, body")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(Path(argv[1]).read_text(encoding="utf-8"))
    for problem in found:
        print(f"commit message: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

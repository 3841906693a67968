"""The commit-msg hook's rule: a subject of 72 characters at most, then a blank line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "check_commit_msg.py"

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these


def check(tmp_path: Path, message: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message, encoding="utf-8")
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True)


def test_a_short_subject_with_a_body_passes(tmp_path: Path) -> None:
    done = check(tmp_path, "Shop: a declined card no longer poisons its key\n\nDetails here.\n")
    assert done.returncode == 0, done.stderr


def test_a_subject_of_exactly_72_passes_and_73_fails(tmp_path: Path) -> None:
    assert check(tmp_path, "x" * 72 + "\n").returncode == 0
    done = check(tmp_path, "x" * 73 + "\n")
    assert done.returncode == 1
    assert "73 characters; at most 72" in done.stderr


def test_the_body_must_follow_a_blank_line(tmp_path: Path) -> None:
    done = check(tmp_path, "Subject\nbody right under it\n")
    assert done.returncode == 1
    assert "second line must be blank" in done.stderr


def test_comments_are_ignored_and_an_empty_subject_fails(tmp_path: Path) -> None:
    assert check(tmp_path, "# Please enter the commit message\nSubject\n").returncode == 0
    assert check(tmp_path, "# only a comment\n\n").returncode == 1

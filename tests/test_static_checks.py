"""Static checks are part of the suite, so CI runs them: mypy with the committed configuration
(pyproject.toml: the whole product tree), `mypy --strict` on the SDK and the statistics, and ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [
        ["mypy"],
        ["mypy", "--strict", "sdk", "experiments/stats"],
        ["ruff", "check", "."],
    ],
    ids=["mypy", "mypy-strict-sdk-and-stats", "ruff"],
)
def test_static_check_passes(command: list[str]) -> None:
    checked = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, f"{' '.join(command)} failed:\n{checked.stdout}{checked.stderr}"

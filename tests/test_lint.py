"""The code is held to its lint and type checks by the test command itself (`./dev test`, so CI runs them):
ruff (pyflakes and pycodestyle's errors, and the formatter; settings in pyproject.toml) on everything, mypy on the
library and the dashboard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]])
def test_clean(command):
    tool = BIN / command[0]
    if not tool.exists():
        pytest.skip(f"{command[0]} is not installed beside this Python (pip install -e .[test])")
    done = subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

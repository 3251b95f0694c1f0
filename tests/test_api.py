"""The public API of fer_core, used as the README shows it; importing the package loads nothing heavy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import fer_core

ROOT = Path(__file__).resolve().parents[1]


def test_every_exported_name_resolves():
    for name in fer_core.__all__:
        assert getattr(fer_core, name) is not None, name
    with pytest.raises(AttributeError):
        fer_core.no_such_name  # noqa: B018


def test_importing_the_package_loads_no_model_code():
    code = (
        "import sys, fer_core; heavy = [m for m in ('cv2', 'dlib', 'av', 'ai_edge_litert', 'tensorflow') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_the_readme_python_example_runs(video_path, image_path, tmp_path, monkeypatch):
    """The README's Python block, run with real media in place of its file names."""
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    block = (
        block.replace('"interview.mp4"', repr(str(video_path("wifs2018_demo_0001_blink.mp4"))))
        .replace('"photo.jpg"', repr(str(image_path("happy_fer_justin.jpg"))))
        .replace('"results/"', repr(str(tmp_path / "results")))
    )
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["analysis"].faces and namespace["result"].records
    assert (tmp_path / "results").is_dir()

"""Shared fixtures: paths to the team's real media and FER2013 files (never copied into the repo).

``FER_SHARED_DATA`` overrides the data folder (default: ``../shared/data`` beside the checkout). Tests that need
a file skip with the reason when it is absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# aiortc (under streamlit-webrtc) segfaults in pylibsrtp's import when TensorFlow was imported first in the same
# process (both bring their own TLS/crypto symbols); the training tests import TensorFlow, the dashboard tests
# aiortc. Importing aiortc first is safe in either order of tests.
import aiortc  # noqa: E402,F401  isort: skip

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data"))
MEDIA = SHARED_DATA / "media"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test media {path} is absent (set FER_SHARED_DATA to the shared data folder)")
    return path


@pytest.fixture(autouse=True)
def _keep_main_module(monkeypatch):
    """Streamlit's AppTest leaves its script as ``sys.modules["__main__"]``; a later test's "spawn" process would
    run that script (a function's source, without its arguments) and fail before its own code: put it back."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test of a module with a ``diagnostics()`` function gets what it returns as a report section (the
    browser tests: each open page's text and the server's log with its threads' stacks)."""
    outcome = yield
    report = outcome.get_result()
    diagnostics = getattr(getattr(item, "module", None), "diagnostics", None)
    if report.failed and callable(diagnostics):
        try:
            report.sections.append(("diagnostics", diagnostics()))
        except Exception as exc:  # noqa: BLE001 - the failure itself must still be reported
            report.sections.append(("diagnostics", f"could not be gathered: {exc!r}"))


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return _need(MEDIA)


@pytest.fixture(scope="session")
def video_path():
    """``video_path("wifs2018_demo_0001_blink.mp4")`` -> Path, skipping when the file is absent."""
    return lambda name: _need(MEDIA / "videos" / name)


@pytest.fixture(scope="session")
def image_path():
    return lambda name: _need(MEDIA / "images" / name)


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    return _need(SHARED_DATA / "fer2013")

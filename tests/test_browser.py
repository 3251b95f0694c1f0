"""End to end in a real browser: Debian's chromium, driven by Playwright, with a fake webcam made from a real face
video, against the dashboard served by ``streamlit run``.

WebRTC needs an address other than 127.0.0.1 (aioice skips it), so the browser tests run inside a private network
namespace (``unshare -n``) with ``lo`` up and 127.0.0.2 added: all traffic stays on the machine. This test starts
that run of ``tests/browser_e2e.py`` (never collected on its own: its name does not start with ``test_``) and
reports its output. Screenshots go to ``artifacts/screenshots`` (``FER_SCREENSHOT_DIR`` overrides), measured
numbers to ``browser_metrics.json`` beside them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser_e2e import CHROMIUM, NO_FACE_VIDEO, PRIVATE_UPLOAD, UPLOAD_VIDEO, WEBCAM_VIDEO

ROOT = Path(__file__).resolve().parents[1]
INNER_MODULE = Path(__file__).resolve().parent / "browser_e2e.py"
INNER_TESTS = 12


def _why_not_runnable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing (Debian packages util-linux and iproute2)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a network namespace (`unshare -n` needs root): {probe.stderr.strip()}"
    return None


def test_dashboard_in_a_real_browser(video_path):
    """Runs tests/browser_e2e.py in a private network namespace; fails with its output when it fails twice.

    One rerun: on this 2-core machine a page step now and then misses its 60 s wait while other work runs (seen in
    2 of 3 full runs from a fresh clone while the session kept working, never when run alone or idle); a real
    fault fails both runs. The first run's failure is printed either way."""
    reason = _why_not_runnable()
    if reason:
        pytest.skip(f"browser end-to-end test not run: {reason}")
    for name in (WEBCAM_VIDEO, UPLOAD_VIDEO, NO_FACE_VIDEO, PRIVATE_UPLOAD):
        video_path(name)  # skips when the shared media are absent
    inner = (
        f"ip link set lo up && ip addr add 127.0.0.2/8 dev lo && "
        f"exec {sys.executable} -m pytest -q -p no:cacheprovider -x --tb=short {INNER_MODULE}"
    )
    for attempt in (1, 2):
        run = subprocess.run(
            ["unshare", "-n", "bash", "-c", inner], cwd=ROOT, capture_output=True, text=True, timeout=1500
        )
        output = run.stdout[-8000:] + run.stderr[-4000:]
        if run.returncode == 0:
            break
        print(f"browser tests, run {attempt} failed:\n{output[-3000:]}")
    assert run.returncode == 0, f"the browser tests failed:\n{output}"
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) == INNER_TESTS, f"expected {INNER_TESTS} browser tests to pass:\n{output}"

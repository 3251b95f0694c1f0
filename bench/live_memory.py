"""Memory and responsiveness of the dashboard over a long live session: a real browser (chromium, fake webcam
looping a real face video) streams to ``streamlit run dashboard/app.py`` for ``--minutes``, and every
``--every`` seconds the server's resident memory, the frames analysed, the frame rate, and the live panel's
refresh interval (seconds between two updates of "Frames analysed", as the browser sees them; the panel asks for
one per second) are recorded.

    .venv/bin/python bench/live_memory.py --minutes 15 --json bench/live_memory.json

Needs root for a private network namespace (WebRTC skips 127.0.0.1): the script re-runs itself inside one, as the
browser tests do (tests/browser_e2e.py, whose helpers it uses). Prints a Markdown table of the curve.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

INSIDE = "FER_BENCH_IN_NETNS"


def _panel_refresh_s(page, seconds: float) -> list[float]:
    """Seconds between successive changes of the "Frames analysed" number, watched for ``seconds``."""
    from browser_e2e import metric_value

    gaps, last_value, last_change = [], None, None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = metric_value(page, "Frames analysed")
        now = time.monotonic()
        if value != last_value:
            if last_change is not None:
                gaps.append(now - last_change)
            last_value, last_change = value, now
        time.sleep(0.05)
    return gaps


def measure(minutes: float, every_s: float, video: str) -> list[dict]:
    from browser_e2e import (
        CHROMIUM,
        chromium_args,
        metric_value,
        serve_dashboard,
        server_memory_mb,
        start_live,
        write_y4m,
    )
    from playwright.sync_api import sync_playwright

    media = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "media" / "videos"
    rows = []
    with tempfile.TemporaryDirectory() as tmp, serve_dashboard(Path(tmp)) as server:
        webcam = write_y4m(media / video, Path(tmp) / "webcam.y4m", seconds=20)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=chromium_args(webcam))
            page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
            page.set_default_timeout(60_000)
            before = server_memory_mb(server["pid"])
            start_live(page, server)
            started = time.monotonic()
            while True:
                elapsed = time.monotonic() - started
                gaps = _panel_refresh_s(page, min(5.0, every_s / 2))
                memory = server_memory_mb(server["pid"])
                rows.append(
                    {
                        "minute": round(elapsed / 60, 2),
                        "rss_mb": memory["rss"],
                        "peak_rss_mb": memory["peak"],
                        "frames_analysed": int(metric_value(page, "Frames analysed")),
                        "frames_per_second": float(metric_value(page, "Frames per second")),
                        "panel_refresh_median_s": round(statistics.median(gaps), 2) if gaps else None,
                        "panel_refresh_max_s": round(max(gaps), 2) if gaps else None,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
                if elapsed >= minutes * 60:
                    break
                time.sleep(max(0.0, every_s - (time.monotonic() - started - elapsed)))
            browser.close()
    rows.insert(0, {"minute": None, "rss_mb": before["rss"], "peak_rss_mb": before["peak"], "note": "before START"})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| minute | RSS MB | peak RSS MB | frames analysed | frames/s | panel refresh median / max (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["minute"] is None:
            lines.append(f"| before START | {r['rss_mb']} | {r['peak_rss_mb']} | | | |")
        else:
            lines.append(
                f"| {r['minute']:.1f} | {r['rss_mb']} | {r['peak_rss_mb']} | {r['frames_analysed']} | "
                f"{r['frames_per_second']:.1f} | {r['panel_refresh_median_s']} / {r['panel_refresh_max_s']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between two samples")
    parser.add_argument("--video", default="fer_woman2.mp4", help="shared face video looped as the webcam")
    parser.add_argument("--json", type=Path, help="write the samples here")
    args = parser.parse_args()
    if not os.environ.get(INSIDE):
        inner = f"ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec {sys.executable} " + " ".join(
            map(str, [Path(__file__).resolve(), *sys.argv[1:]])
        )
        sys.exit(subprocess.run(["unshare", "-n", "bash", "-c", inner], env={**os.environ, INSIDE: "1"}).returncode)
    rows = measure(args.minutes, args.every, args.video)
    if args.json:
        args.json.write_text(json.dumps({"minutes": args.minutes, "video": args.video, "samples": rows}, indent=1))
    print(markdown(rows))


if __name__ == "__main__":
    main()

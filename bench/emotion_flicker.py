"""How often the emotion label changes (flicker), raw and smoothed, and what the smoothing costs in lag.

    .venv/bin/python bench/emotion_flicker.py [--json OUT] [--model fast|accurate|FOLDER]

Every frame of each one-face shared clip goes through ``analyze_video`` (default settings: no smoothing in the
records). Per clip: label changes per second of the face's dominant emotion, (a) raw, per frame; (b) the dashboard's
timeline view, each probability averaged over a centred 1 s window (``fer_core.timeline.smoothed_probabilities``:
no lag, but it needs the following half second, so offline only); (c) the Live page's running average with weight
0.5 and 0.8 on the past ("Balanced", "Steady"); (d) the exported readings, where a top probability under 40% reads
"Uncertain": per frame, ``emotion_smoothed`` (the 1 s centred average) and ``emotion_of_second`` (one reading per
whole second), with the share of frames each reads as Uncertain. The lag: the median time each smoothed label takes to follow a
lasting change of the raw label (the new label holding 15 frames), in seconds at the clip's frame rate.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import frames as bench
import numpy as np
import pandas as pd

from fer_core.export import export_table
from fer_core.labels import EMOTIONS, UNCERTAIN, readings
from fer_core.model_file import model_folder
from fer_core.timeline import smoothed_probabilities
from fer_core.video import analyze_video

CLIPS = (
    "wifs2018_demo_0001_blink.mp4",
    "fer_woman2.mp4",
    "liveportrait_d3_expressions.mp4",
    "liveportrait_d12_talking.mp4",
    "liveportrait_d18_surprise.mp4",
    "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4",
    "sadtalker_WDA_KatieHill_000.mp4",
)
COLUMNS = [f"p_{e.lower()}" for e in EMOTIONS]


def changes_per_second(p: np.ndarray, seconds: float) -> float:
    labels = p.argmax(axis=1)
    return float((labels[1:] != labels[:-1]).sum()) / seconds if seconds > 0 else 0.0


def reading_changes_per_second(labels: np.ndarray, seconds: float) -> float:
    return float((labels[1:] != labels[:-1]).sum()) / seconds if seconds > 0 else 0.0


def running_average(p: np.ndarray, weight: float) -> np.ndarray:
    out = np.empty_like(p)
    out[0] = p[0]
    for i in range(1, len(p)):
        out[i] = weight * out[i - 1] + (1 - weight) * p[i]
    return out


def follow_delay(raw: np.ndarray, smooth: np.ndarray, hold: int = 15) -> float | None:
    """Median frames the smoothed label takes to follow a lasting change of the raw one (the new raw label holds
    ``hold`` frames); negative when it changes before the raw label does (a centred window sees ahead)."""
    a, b = raw.argmax(axis=1), smooth.argmax(axis=1)
    delays = []
    for i in range(1, len(a) - hold):
        if a[i] != a[i - 1] and (a[i : i + hold] == a[i]).all():
            window = range(max(i - hold, 0), i + hold)
            hits = [j for j in window if b[j] == a[i] and (j == 0 or b[j - 1] != a[i])]
            if hits:
                delays.append(min(hits, key=lambda j: abs(j - i)) - i)
    return float(np.median(delays)) if delays else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--detect-every", type=int, default=3, help="as fer analyze --detect-every")
    parser.add_argument("--detector", choices=("hog", "blazeface"), default="hog", help="as fer analyze --detector")
    parser.add_argument("--model", default="fast", help="as fer analyze --model: fast, accurate or a model folder")
    args = parser.parse_args()
    settings = replace(
        bench.pipeline_settings(args.detect_every, args.detector), model_dir=str(model_folder(args.model))
    )
    rows = []
    for name in CLIPS:
        analysis = analyze_video(
            bench.video_path(name),
            write_video=False,
            settings=settings,
        )
        table = export_table(analysis.records)
        track = table["track_id"].value_counts().index[0]  # the face seen longest
        rows_face = table[table["track_id"] == track].sort_values("time_s")
        raw = rows_face[COLUMNS].to_numpy()
        seconds = float(rows_face["time_s"].iloc[-1] - rows_face["time_s"].iloc[0])
        centred = smoothed_probabilities(rows_face)[COLUMNS].to_numpy()
        row = {
            "clip": name,
            "seconds": round(seconds, 1),
            "raw": round(changes_per_second(raw, seconds), 2),
            "centred_1s": round(changes_per_second(centred, seconds), 2),
        }
        delay = follow_delay(raw, centred)
        row["centred_1s_delay_s"] = None if delay is None else round(delay / analysis.fps, 3)
        for label, weight in (("balanced_0.5", 0.5), ("steady_0.8", 0.8)):
            smooth = running_average(raw, weight)
            delay = follow_delay(raw, smooth)
            row[label] = round(changes_per_second(smooth, seconds), 2)
            row[f"{label}_delay_s"] = None if delay is None else round(delay / analysis.fps, 3)
        for label, series in (
            ("reading_raw", readings(raw)),
            ("reading_smoothed", rows_face["emotion_smoothed"].to_numpy()),
            ("reading_of_second", rows_face["emotion_of_second"].to_numpy()),
        ):
            row[label] = round(reading_changes_per_second(series, seconds), 2)
            row[f"{label}_uncertain"] = round(float((series == UNCERTAIN).mean()), 3)
        rows.append(row)
        print(row)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False))
    means = {c: round(float(frame[c].mean()), 3) for c in frame.columns if c not in ("clip", "seconds")}
    print("mean:", means)
    if args.json:
        args.json.write_text(json.dumps({"machine": bench.machine(), "clips": rows, "mean": means}, indent=1))


if __name__ == "__main__":
    main()

"""Time series derived from the records table (one row per face per analysed frame), shared by the live and the
recorded-video views, the exports and the summaries: blink rate over time and how it compares with people in
conversation; emotion readings smoothed over time, per second, and the stretches of one reading."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer_core.labels import UNCERTAIN, readings
from fer_core.records import MAX_GAP_S, MIN_SECONDS_FOR_RATE, PROBABILITY_COLUMNS, FaceSummary

# Typical spontaneous blink rate of adults during conversation, blinks per minute. Bentivoglio et al. (1997),
# "Analysis of blink rate patterns in normal subjects", Movement Disorders 12(6):1028-1034, measured a mean of
# about 26/min while talking (17/min at rest, 4.5/min reading), with wide spread between people.
TYPICAL_CONVERSATION_BLINKS_PER_MIN: tuple[float, float] = (10.0, 26.0)
# A blink rate is compared with the typical range only after this long on screen (seconds): blinks come in bursts
# and pauses of several seconds, so a rate over a few seconds says nothing about a person.
MIN_SECONDS_FOR_VERDICT = 30.0
BLINK_RANGE_SOURCE = (
    "typical adult range in conversation, about 10-26 blinks/min "
    "(Bentivoglio et al. 1997, Movement Disorders 12:1028-1034)"
)


def blink_rate_series(table: pd.DataFrame, min_seconds: float = MIN_SECONDS_FOR_RATE) -> pd.DataFrame:
    """Running blink rate per face: columns ``track_id``, ``time_s``, ``blinks_per_minute`` (blinks so far / time
    on screen so far, as :func:`fer_core.records.seconds_on_screen` counts it, from ``min_seconds`` on; earlier
    rows are left out as too short for a rate)."""
    columns = ["track_id", "time_s", "blinks_per_minute"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    parts = []
    for track_id, rows in table.sort_values("time_s").groupby("track_id", sort=True):
        steps = rows["time_s"].diff().fillna(0.0)
        elapsed = steps.where(steps <= MAX_GAP_S, 0.0).cumsum()  # time away (a face that left and came back) left out
        keep = elapsed >= min_seconds
        parts.append(
            pd.DataFrame(
                {
                    "track_id": track_id,
                    "time_s": rows["time_s"][keep],
                    "blinks_per_minute": 60.0 * rows["blink_count"][keep] / elapsed[keep],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def compare_blink_rate(rate: float | None, typical: tuple[float, float] = TYPICAL_CONVERSATION_BLINKS_PER_MIN) -> str:
    """``"below"``, ``"within"`` or ``"above"`` the typical range, or ``"n/a"`` when there is no rate."""
    if rate is None or rate != rate:  # None or NaN
        return "n/a"
    low, high = typical
    return "below" if rate < low else "above" if rate > high else "within"


def mm_ss(seconds: float) -> str:
    """``83.4`` -> ``"1:23"`` (hours as ``"1:02:03"``)."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def is_part(start: float | None, end: float | None) -> bool:
    """Whether a start and an end (seconds or frames; None or 0: the video's start, None: its end) leave out some
    of the video."""
    return bool(start) or end is not None


def part_words(start_s: float | None, end_s: float | None) -> str:
    """The part of a video from ``start_s`` to ``end_s`` seconds (None: the start / the end) in words:
    ``"0:02 to 0:04"``, ``"1:00 to the end"``, or ``""`` for the whole video."""
    if not is_part(start_s, end_s):
        return ""
    return f"{mm_ss(start_s or 0.0)} to {mm_ss(end_s) if end_s is not None else 'the end'}"


def parse_time(text: str) -> float:
    """The inverse of :func:`mm_ss`: ``"83.4"`` (seconds), ``"1:23"``, ``"1:23.5"`` or ``"1:02:03"`` -> seconds.
    Raises ValueError for anything else, negative times included."""
    parts = text.strip().split(":")
    try:
        if len(parts) > 3 or any(not p.strip() for p in parts):
            raise ValueError
        *whole, last = parts
        seconds = float(last)
        if not 0 <= seconds < float("inf") or (whole and seconds >= 60):
            raise ValueError
        units = [int(p) for p in whole]
        if any(u < 0 for u in units) or (len(units) == 2 and units[1] >= 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"expected a time as seconds, m:ss or h:mm:ss; got {text!r}") from None
    minutes = units[-1] if units else 0
    hours = units[-2] if len(units) == 2 else 0
    return hours * 3600 + minutes * 60 + seconds


def blink_verdict(rate: float | None, seconds_on_screen: float, min_seconds: float = MIN_SECONDS_FOR_VERDICT) -> str:
    """How a blink rate compares with people in conversation, in words: ``"within the usual range"``, ``"below
    the usual range"``, ``"above the usual range"``, or why there is no verdict yet."""
    if rate is None or rate != rate or seconds_on_screen < min_seconds:
        return f"needs {min_seconds:.0f} s on screen ({seconds_on_screen:.0f} s so far)"
    return f"{compare_blink_rate(rate)} the usual range"


def plain_summary(face: FaceSummary) -> str:
    """One face in a sentence: ``"Face #1: mostly Neutral, smiling 12% of the time, uncertain 15% of the time, 18
    blinks a minute (within the usual range), 1:23 on screen."``"""
    share = face.emotion_share
    parts = [] if face.dominant_emotion == UNCERTAIN else [f"mostly {face.dominant_emotion}"]
    if face.dominant_emotion != "Happy" and share.get("Happy", 0.0) >= 0.01:
        parts.append(f"smiling {share['Happy']:.0%} of the time")
    skip = (face.dominant_emotion, "Happy", UNCERTAIN)
    others = sorted(((v, e) for e, v in share.items() if e not in skip), reverse=True)
    if others and others[0][0] >= 0.1:
        parts.append(f"{others[0][1]} {others[0][0]:.0%}")
    if share.get(UNCERTAIN, 0.0) >= 0.1:
        parts.append(f"uncertain {share[UNCERTAIN]:.0%} of the time")
    rate, seconds = face.blinks_per_minute, face.time_on_screen_s
    verdict = blink_verdict(rate, seconds)
    count = face.blink_count
    if rate is None:
        parts.append(f"{count} blink{'' if count == 1 else 's'} (too short for a rate)")
    elif seconds < MIN_SECONDS_FOR_VERDICT:
        parts.append(f"{rate:.0f} blinks a minute so far (no verdict before {MIN_SECONDS_FOR_VERDICT:.0f} s)")
    else:
        parts.append(f"{rate:.0f} blinks a minute ({verdict})")
    return f"Face {face.label}: " + ", ".join(parts) + f", {mm_ss(seconds)} on screen."


# Emotion series: the records keep each frame's probabilities; these readings smooth them over time.
SMOOTHING_WINDOW_S = 1.0  # a centred window: each frame's reading also sees the half second after it
READING_COLUMNS: tuple[str, ...] = ("emotion_smoothed", "emotion_of_second")  # what with_readings adds


def smoothed_probabilities(rows: pd.DataFrame, window_s: float = SMOOTHING_WINDOW_S) -> pd.DataFrame:
    """One face's records (sorted by ``time_s``) with each ``p_<emotion>`` replaced by its mean over a centred
    window of ``window_s`` seconds; a stay on screen is never averaged with another (gaps over ``MAX_GAP_S``)."""
    if rows.empty or window_s <= 0:
        return rows
    stay = (rows["time_s"].diff() > MAX_GAP_S).cumsum()
    parts = []
    for _, part in rows.groupby(stay, sort=True):
        indexed = part.set_index(pd.to_timedelta(part["time_s"], unit="s"))
        means = indexed[list(PROBABILITY_COLUMNS)].rolling(pd.Timedelta(seconds=window_s), center=True, min_periods=1)
        averaged = means.mean()
        parts.append(part.assign(**{c: averaged[c].to_numpy() for c in PROBABILITY_COLUMNS}))
    return pd.concat(parts)


def with_readings(table: pd.DataFrame, window_s: float = SMOOTHING_WINDOW_S) -> pd.DataFrame:
    """The records table with two columns added per row: ``emotion_smoothed``, the reading of the probabilities
    averaged over a centred ``window_s`` window (:func:`smoothed_probabilities`), and ``emotion_of_second``, the
    reading of the mean probabilities of that face over the whole second the row falls in (as the summary's
    ``emotion_per_second``). Readings are an emotion or ``Uncertain`` (:func:`readings`)."""
    table = table.copy()
    if table.empty:
        return table.assign(**{c: pd.Series(dtype=object) for c in READING_COLUMNS})
    smoothed = pd.concat(
        smoothed_probabilities(rows.sort_values("time_s"), window_s) for _, rows in table.groupby("track_id")
    )
    table["emotion_smoothed"] = pd.Series(readings(smoothed[list(PROBABILITY_COLUMNS)].to_numpy()), smoothed.index)
    second = table["time_s"].astype(float).floordiv(1.0)
    means = table.groupby([table["track_id"], second])[list(PROBABILITY_COLUMNS)].transform("mean")
    table["emotion_of_second"] = readings(means.to_numpy())
    return table


def dominant_runs(rows: pd.DataFrame) -> pd.DataFrame:
    """Stretches of one reading (an emotion, or ``Uncertain`` under the level) in one face's records (sorted by
    ``time_s``): columns ``emotion``, ``start_s``, ``end_s`` (each record stands until the next one, or for the
    median frame step at the end of a stay; a gap over ``MAX_GAP_S`` ends a stretch)."""
    if rows.empty:
        return pd.DataFrame(columns=["emotion", "start_s", "end_s"])
    emotion = readings(rows[list(PROBABILITY_COLUMNS)].to_numpy())
    time = rows["time_s"].to_numpy(dtype=float)
    step = float(np.median(np.diff(time))) if len(time) > 1 else 1.0 / 30
    following = np.append(time[1:], time[-1] + step)
    away = following - time > MAX_GAP_S
    end = np.where(away, time + step, following)
    new_run = np.ones(len(time), dtype=bool)
    new_run[1:] = (emotion[1:] != emotion[:-1]) | away[:-1]
    run = np.cumsum(new_run) - 1
    frame = pd.DataFrame({"run": run, "emotion": emotion, "start_s": time, "end_s": end})
    return frame.groupby("run").agg(emotion=("emotion", "first"), start_s=("start_s", "min"), end_s=("end_s", "max"))

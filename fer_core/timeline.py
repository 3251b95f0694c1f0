"""Time series derived from the records table (one row per face per analysed frame), shared by the live and the
recorded-video views: blink rate over time, and how a blink rate compares with people in conversation."""

from __future__ import annotations

import pandas as pd

from fer_core.records import MAX_GAP_S, MIN_SECONDS_FOR_RATE

# Typical spontaneous blink rate of adults during conversation, blinks per minute. Bentivoglio et al. (1997),
# "Analysis of blink rate patterns in normal subjects", Movement Disorders 12(6):1028-1034, measured a mean of
# about 26/min while talking (17/min at rest, 4.5/min reading), with wide spread between people.
TYPICAL_CONVERSATION_BLINKS_PER_MIN: tuple[float, float] = (10.0, 26.0)
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

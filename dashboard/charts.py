"""Plotly figures for the dashboard. Each takes plain data (the records table, summaries, the run record) and
returns a figure; none calls Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer_core.draw import track_colour
from fer_core.labels import EMOTIONS, SHARE_LABELS, UNCERTAIN, UNCERTAIN_BELOW
from fer_core.records import MAX_GAP_S, FaceSummary
from fer_core.timeline import (
    SMOOTHING_WINDOW_S,
    TYPICAL_CONVERSATION_BLINKS_PER_MIN,
    blink_rate_series,
    dominant_runs,
    mm_ss,
    smoothed_probabilities,
)

EMOTION_COLOURS = {
    "Angry": "#d62728",
    "Disgust": "#8c564b",
    "Fear": "#9467bd",
    "Happy": "#2ca02c",
    "Sad": "#1f77b4",
    "Surprise": "#ff7f0e",
    "Neutral": "#7f7f7f",
    UNCERTAIN: "#d9d9d9",  # no emotion read with enough confidence (see fer_core.labels.UNCERTAIN_BELOW)
}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300, legend=dict(orientation="h", y=-0.25))


def face_colour(track_id: int) -> str:
    """The colour a face has in the annotated video, as CSS (the drawing uses BGR)."""
    b, g, r = track_colour(track_id)
    return f"rgb({r},{g},{b})"


def _time_axis(last_s: float) -> dict:
    """An x axis in seconds whose ticks read m:ss, about 6-10 of them."""
    steps = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
    step = next((s for s in steps if last_s / s <= 10), steps[-1])
    ticks = [float(t) for t in np.arange(0.0, last_s + step, step)]
    return dict(title="time (m:ss)", tickvals=ticks, ticktext=[mm_ss(t) for t in ticks], range=[0, max(last_s, 1.0)])


def emotion_timeline(
    table: pd.DataFrame,
    track_id: int,
    emotions: tuple[str, ...] = EMOTIONS,
    title: str | None = None,
    raw: bool = False,
    window_s: float = SMOOTHING_WINDOW_S,
    label: str | None = None,
) -> go.Figure:
    """One face of the records table over time: each emotion in ``emotions`` as a line, averaged over ``window_s``
    seconds (``raw``: the per-frame output), and a band of the dominant emotion under it; ``label``: how the face is
    called (default ``#<track_id>``). Hover names the emotion,
    its probability and the time as m:ss; every point carries its time in seconds as ``customdata[0]`` (what a click
    on the chart hands back, see :func:`clicked_time`)."""
    rows = table[table["track_id"] == track_id].sort_values("time_s")
    shown = rows if raw else smoothed_probabilities(rows, window_s)
    lines = _break_at_gaps(shown)
    times = lines["time_s"].to_numpy(dtype=float)
    clock = [mm_ss(t) if t == t else "" for t in times]
    when = np.column_stack([times, clock])  # the same for every line
    fig = go.Figure()
    for emotion in emotions:
        fig.add_scatter(
            x=times,
            y=lines[f"p_{emotion.lower()}"],
            mode="lines+markers",  # invisible markers: Plotly selects (and hands back) clicked markers only
            name=emotion,
            legendgroup=emotion,
            line=dict(color=EMOTION_COLOURS.get(emotion), width=2),
            marker=dict(size=8, opacity=0),
            selected=dict(marker=dict(opacity=0)),
            unselected=dict(marker=dict(opacity=0)),
            customdata=when,
            hovertemplate=f"{emotion} %{{y:.0%}} at %{{customdata[1]}}<extra></extra>",
        )
    for emotion, runs in dominant_runs(shown).groupby("emotion", sort=False):
        fig.add_bar(
            x=(runs["end_s"] - runs["start_s"]).to_numpy(),
            base=runs["start_s"].to_numpy(),
            y=["mostly"] * len(runs),
            orientation="h",
            yaxis="y2",
            name=emotion,
            legendgroup=emotion,
            showlegend=False,
            marker=dict(color=EMOTION_COLOURS.get(str(emotion)), line_width=0),
            customdata=np.column_stack(
                [runs["start_s"], [f"{mm_ss(a)}-{mm_ss(b)}" for a, b in zip(runs["start_s"], runs["end_s"])]]
            ),
            hovertemplate=f"{_band_words(str(emotion))}, %{{customdata[1]}}<extra></extra>",
        )
    view = "per frame" if raw else f"averaged over {window_s:g} s"
    fig.update_layout(
        title=title or f"Face {label or f'#{track_id}'}: emotion over time ({view})",
        xaxis={**_time_axis(float(rows["time_s"].max()) if len(rows) else 1.0), "anchor": "y2"},
        yaxis=dict(title="probability", range=[0, 1], tickformat=".0%", domain=[0.2, 1.0]),
        yaxis2=dict(domain=[0.0, 0.12], showticklabels=True, fixedrange=True),
        barmode="overlay",
        bargap=0.0,
        hovermode="closest",
        clickmode="event+select",
        **{**_LAYOUT, "height": 340},
    )
    return fig


def _band_words(reading: str) -> str:
    if reading == UNCERTAIN:
        return f"uncertain (no emotion at {UNCERTAIN_BELOW:.0%} or more)"
    return f"mostly {reading}"


def clicked_time(selection: object) -> float | None:
    """The time in seconds of the first point clicked or selected on an :func:`emotion_timeline`, from the
    selection state Streamlit keeps for the chart (None when nothing is selected)."""
    try:
        points = selection["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if data:
            try:
                return max(float(data[0]), 0.0)
            except (TypeError, ValueError):
                continue
    return None


def emotion_share_bars(faces: list[FaceSummary]) -> go.Figure:
    """One 100% bar per face: the share of its frames each emotion was read (and ``Uncertain``, in light grey), in the
    emotions' colours, faces in the given order."""
    fig = _stacked_shares([face.label for face in faces], [face.emotion_share for face in faces], horizontal=True)
    fig.update_layout(
        title="Share of time per emotion",
        barmode="stack",
        xaxis=dict(range=[0, 1], visible=False),
        yaxis=dict(autorange="reversed", type="category"),
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.2),
        height=120 + 34 * len(faces),
    )
    return fig


def _stacked_shares(names: list[str], shares: list[dict[str, float]], horizontal: bool) -> go.Figure:
    """One bar per name, stacked from the share (0..1) of each reading in the emotions' colours; bars along the y
    axis when ``horizontal``, else along x."""
    fig = go.Figure()
    along, value = ("y", "x") if horizontal else ("x", "y")
    for emotion in SHARE_LABELS:
        values = [share.get(emotion, 0.0) for share in shares]
        fig.add_bar(
            **{along: names, value: values},
            orientation="h" if horizontal else "v",
            name=emotion,
            marker_color=EMOTION_COLOURS[emotion],
            text=[f"{v:.0%}" if v >= 0.08 else "" for v in values],
            textposition="inside",
            hovertemplate=f"%{{{along}}}: {emotion} %{{{value}:.0%}} of the time<extra></extra>",
        )
    return fig


def _break_at_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (sorted by ``time_s``) with an empty row inside every gap longer than ``MAX_GAP_S`` (the face was
    away), so a line chart breaks there instead of joining across it."""
    gaps = rows["time_s"].diff() > MAX_GAP_S
    if not gaps.any():
        return rows
    breaks = pd.DataFrame({"time_s": (rows["time_s"].shift()[gaps] + rows["time_s"][gaps]) / 2})
    return pd.concat([rows, breaks]).sort_values("time_s", kind="stable")


def blink_rate_chart(table: pd.DataFrame, names: dict[int, str] | None = None) -> go.Figure:
    """Running blink rate (blinks per minute) per face over time, with the typical conversation range shaded;
    ``names``: track id -> the name a user gave the face."""
    rates = blink_rate_series(table)
    fig = go.Figure()
    low, high = TYPICAL_CONVERSATION_BLINKS_PER_MIN
    fig.add_hrect(
        y0=low,
        y1=high,
        fillcolor="#2ca02c",
        opacity=0.12,
        line_width=0,
        annotation_text="typical in conversation",
        annotation_position="top left",
    )
    for track_id, rows in rates.groupby("track_id", sort=True):
        rows = _break_at_gaps(rows)
        fig.add_scatter(
            x=rows["time_s"],
            y=rows["blinks_per_minute"],
            mode="lines",
            name=f"face #{track_id}" + (f" {names[int(track_id)]}" if names and names.get(int(track_id)) else ""),
            line=dict(color=face_colour(int(track_id)), width=2),
        )
    top = max(40.0, float(rates["blinks_per_minute"].max()) * 1.1) if len(rates) else 40.0
    last = float(rates["time_s"].max()) if len(rates) else 1.0
    fig.update_layout(
        title="Blink rate per face (from 5 s on screen)",
        xaxis=_time_axis(last),
        yaxis=dict(title="blinks per minute", range=[-1, top]),
        **_LAYOUT,
    )
    return fig


def emotion_share_chart(shares: dict[str, dict[str, float]], title: str = "Share of time per emotion") -> go.Figure:
    """Grouped bars: for each series name (a face, or a saved entry), the share (0..1) of each emotion and of
    ``Uncertain``."""
    fig = go.Figure()
    for name, share in shares.items():
        fig.add_bar(x=list(SHARE_LABELS), y=[share.get(e, 0.0) for e in SHARE_LABELS], name=name)
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="share of frames", tickformat=".0%"), **_LAYOUT)
    return fig


def entries_share_chart(labels: list[str], shares: list[dict[str, float]]) -> go.Figure:
    """One 100% bar per saved entry, in the given (time) order: the share of its frames each emotion was read, all
    its faces together, in the emotions' colours (``Uncertain`` light grey)."""
    fig = _stacked_shares(labels, shares, horizontal=False)
    fig.update_layout(
        title="Share of time per emotion, entry by entry",
        barmode="stack",
        xaxis=dict(type="category"),
        yaxis=dict(range=[0, 1], tickformat=".0%", title="share of frames"),
        **_LAYOUT,
    )
    return fig


def entries_blink_chart(labels: list[str], rates: list[float | None]) -> go.Figure:
    """Blinks per minute of each saved entry (its faces' rates, weighted by time on screen), in the given order,
    with the typical conversation range shaded; entries too short for a rate are left out."""
    fig = go.Figure()
    low, high = TYPICAL_CONVERSATION_BLINKS_PER_MIN
    fig.add_hrect(y0=low, y1=high, fillcolor="#2ca02c", opacity=0.12, line_width=0)
    kept = [(label, rate) for label, rate in zip(labels, rates) if rate is not None]
    fig.add_scatter(
        x=[label for label, _ in kept],
        y=[rate for _, rate in kept],
        mode="lines+markers",
        name="blinks per minute",
        line=dict(color="#1f77b4", width=2),
        hovertemplate="%{x}: %{y:.1f} blinks/min<extra></extra>",
    )
    top = max([40.0] + [rate * 1.1 for _, rate in kept])
    fig.update_layout(
        title="Blink rate, entry by entry (typical in conversation shaded)",
        xaxis=dict(type="category", categoryorder="array", categoryarray=labels),
        yaxis=dict(title="blinks per minute", range=[0, top]),
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def training_curve(history: list[dict], metric: str, title: str, log_y: bool = False) -> go.Figure:
    """``metric`` (and ``val_<metric>`` when present) per epoch from the run's history records."""
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig = go.Figure()
    for key, name in ((metric, "train"), (f"val_{metric}", "validation")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            fig.add_scatter(x=epochs, y=values, mode="lines+markers", name=name)
    fig.update_layout(title=title, xaxis_title="epoch", **_LAYOUT)
    if log_y:  # four decades below the top: a schedule that ends at zero (cosine) does not squash the rest
        top = max((h[metric] for h in history if isinstance(h.get(metric), (int, float)) and h[metric] > 0), default=1)
        fig.update_yaxes(type="log", dtick=1, tickformat=".0e", range=[np.log10(top) - 4, np.log10(top) + 0.2])
    return fig


def confusion_heatmap(matrix: list[list[int]], labels: list[str], normalise: bool = True) -> go.Figure:
    """Confusion matrix (rows: true class, columns: predicted), as counts or as shares of each true class."""
    counts = np.asarray(matrix, dtype=float)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalise else counts
    text = [[f"{v:.0%}" if normalise else f"{int(v)}" for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalise else None,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Confusion matrix" + (" (share of each true class)" if normalise else " (counts)"),
        xaxis_title="predicted",
        yaxis=dict(title="true", autorange="reversed"),
        margin=dict(l=10, r=10, t=40, b=10),
        height=460,
    )
    return fig


def reliability_diagram(calibration: dict) -> go.Figure:
    """Accuracy against the top probability, per bin of faces, before and after the model's temperature (a
    ``calibration`` record of :func:`fer_core.calibration.calibration_record`), with the diagonal of perfect
    calibration; hover gives each bin's faces."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line=dict(color="#bbbbbb", dash="dot")
    )
    styles = (
        ("before", "network's own", "#ff7f0e"),
        ("after", f"at temperature {calibration['temperature']:.2f}", "#1f77b4"),
    )
    for key, words, colour in styles:
        bins = [b for b in calibration[key]["bins"] if b["faces"]]
        fig.add_scatter(
            x=[b["confidence"] for b in bins],
            y=[b["accuracy"] for b in bins],
            mode="lines+markers",
            name=f"{words} (error {calibration[key]['ece']:.1%})",
            line=dict(color=colour),
            customdata=[[b["faces"], b["low"], b["high"]] for b in bins],
            hovertemplate="top probability %{customdata[1]:.0%}-%{customdata[2]:.0%}: right on %{y:.0%} of "
            "%{customdata[0]} faces (mean top probability %{x:.0%})<extra></extra>",
        )
    fig.update_layout(
        title="Reliability: how often the top emotion is right, by its probability",
        xaxis=dict(title="top probability", range=[0, 1], tickformat=".0%"),
        yaxis=dict(title="accuracy", range=[0, 1], tickformat=".0%"),
        **{**_LAYOUT, "height": 380},
    )
    return fig

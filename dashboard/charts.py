"""Plotly figures for the dashboard. Each takes plain data (the records table, summaries, the run record) and
returns a figure; none calls Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer_core.draw import track_colour
from fer_core.labels import EMOTIONS
from fer_core.records import MAX_GAP_S
from fer_core.timeline import TYPICAL_CONVERSATION_BLINKS_PER_MIN, blink_rate_series

EMOTION_COLOURS = {
    "Angry": "#d62728",
    "Disgust": "#8c564b",
    "Fear": "#9467bd",
    "Happy": "#2ca02c",
    "Sad": "#1f77b4",
    "Surprise": "#ff7f0e",
    "Neutral": "#7f7f7f",
}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300, legend=dict(orientation="h", y=-0.25))


def face_colour(track_id: int) -> str:
    """The colour a face has in the annotated video, as CSS (the drawing uses BGR)."""
    b, g, r = track_colour(track_id)
    return f"rgb({r},{g},{b})"


def emotion_timeline(
    table: pd.DataFrame, track_id: int, emotions: tuple[str, ...] = EMOTIONS, title: str | None = None
) -> go.Figure:
    """Probability of each emotion in ``emotions`` over time (seconds) for one face of the records table."""
    rows = _break_at_gaps(table[table["track_id"] == track_id].sort_values("time_s"))
    fig = go.Figure()
    for emotion in emotions:
        fig.add_scatter(
            x=rows["time_s"],
            y=rows[f"p_{emotion.lower()}"],
            mode="lines",
            name=emotion,
            line=dict(color=EMOTION_COLOURS.get(emotion), width=2),
        )
    fig.update_layout(
        title=title or f"Face #{track_id}: emotion over time",
        xaxis_title="time (s)",
        yaxis=dict(title="probability", range=[0, 1]),
        **_LAYOUT,
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


def blink_rate_chart(table: pd.DataFrame) -> go.Figure:
    """Running blink rate (blinks per minute) per face over time, with the typical conversation range shaded."""
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
            name=f"face #{track_id}",
            line=dict(color=face_colour(int(track_id)), width=2),
        )
    top = max(40.0, float(rates["blinks_per_minute"].max()) * 1.1) if len(rates) else 40.0
    fig.update_layout(
        title="Blink rate per face (from 5 s on screen)",
        xaxis_title="time (s)",
        yaxis=dict(title="blinks per minute", range=[-1, top]),
        **_LAYOUT,
    )
    return fig


def emotion_share_chart(shares: dict[str, dict[str, float]], title: str = "Share of time per emotion") -> go.Figure:
    """Grouped bars: for each series name (a face, or a saved entry), the share (0..1) of each emotion."""
    fig = go.Figure()
    for name, share in shares.items():
        fig.add_bar(x=list(EMOTIONS), y=[share.get(e, 0.0) for e in EMOTIONS], name=name)
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="share of frames", tickformat=".0%"), **_LAYOUT)
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
    if log_y:
        fig.update_yaxes(type="log", dtick=1, tickformat=".0e")
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

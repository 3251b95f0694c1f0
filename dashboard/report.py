"""One analysis as a self-contained HTML file a researcher can hand on: what was analysed and how (settings, the
emotion model and its accuracy), each face in a sentence and in a table, the share of each emotion, a timeline per
face and the blink rates. Plotly's script is inlined once, so the file opens offline and fetches nothing."""

from __future__ import annotations

import html
from datetime import datetime, timezone

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from dashboard import charts
from dashboard.components import summary_table
from fer_core.records import face_summaries
from fer_core.timeline import BLINK_RANGE_SOURCE, mm_ss, part_words, plain_summary

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } th, td { border: 1px solid #ddd; padding: 4px 10px; }
th { background: #f4f4f4; text-align: left; } .note { color: #666; font-size: 0.9em; } h1 { margin-bottom: 0.2em; }
"""


def _figure(figure: go.Figure) -> str:
    figure.update_layout(margin=dict(l=80, r=20, t=50, b=40))  # room for the axis titles outside Streamlit
    return pio.to_html(figure, full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def report_html(title: str, summary: dict, table: pd.DataFrame, model: dict | None = None) -> str:
    """The report of one analysis: ``summary`` as in a JSON summary (``faces`` holds the per-face summaries; the
    analysis settings are read from it where present), ``table`` the records table, ``model`` what to say about
    the emotion model (e.g. ``{"name": "fast", "accuracy": 0.669, "split": "FER2013 PublicTest"}``)."""
    faces = face_summaries(summary)
    settings = {
        "source": summary.get("source", title),
        "frames analysed": summary.get("frames_analysed"),
        "every n-th frame": summary.get("every"),
        "duration": mm_ss(summary["duration_s"]) if summary.get("duration_s") is not None else None,
        "part of the video": part_words(summary.get("start_s"), summary.get("end_s")),
        "emotion model": summary.get("emotion_model") or (model or {}).get("name"),
    }
    if model and model.get("accuracy") is not None:
        settings["model accuracy"] = f"{model['accuracy']:.1%} on {model.get('split', 'FER2013 PublicTest')}"
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in settings.items() if v
    )
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Facial emotion analysis, made {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
        "Emotion readings are a model's estimate from the face alone, frame by frame.</p>",
        f"<table>{rows}</table>",
    ]
    parts += [f"<p class='note'>{html.escape(w)}</p>" for w in summary.get("warnings", [])]
    if not faces:
        parts.append("<p>No face was found.</p>")
    else:
        parts.append("<h2>Faces</h2>")
        parts += [f"<p>{html.escape(plain_summary(face))}</p>" for face in faces]
        parts.append(summary_table(faces).to_html(index=False, border=0))
        parts.append(f"<p class='note'>Blink rates: {html.escape(BLINK_RANGE_SOURCE)}.</p>")
        parts.append(_figure(charts.emotion_share_bars(faces)))
        for face in sorted(faces, key=lambda f: -f.time_on_screen_s):
            if (table["track_id"] == face.track_id).any():
                parts.append(_figure(charts.emotion_timeline(table, face.track_id, label=face.label)))
        parts.append(_figure(charts.blink_rate_chart(table, {f.track_id: f.name for f in faces if f.name})))
    script = f"<script>{get_plotlyjs()}</script>"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{script}</head>"
        f"<body>{''.join(parts)}</body></html>"
    )

"""Page pieces shared by the Live, Recorded video and History pages. ``*_ui`` functions draw widgets and return
plain values; the tables they show are built by plain functions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection
from pathlib import Path
from typing import Literal

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import history_store

from fer_core.labels import EMOTIONS, reading
from fer_core.live import LiveSnapshot
from fer_core.export import faces_table
from fer_core.records import MAX_FACE_NAME, FaceSummary, face_summaries
from fer_core.store import EntryInfo, HistoryStore
from fer_core.timeline import BLINK_RANGE_SOURCE, blink_verdict, mm_ss

log = logging.getLogger(__name__)

CAMERA_HELP = Path(__file__).with_name("camera_help.html")
TIMELINE_KEY = "{key}-timeline"  # the chart whose clicked point a page can read (see charts.clicked_time)


PLAYER_MAX_HEIGHT = 560  # pixels: a portrait phone video is shown narrower instead of a page tall


def player_width(video: Path) -> int | Literal["stretch"]:
    """The player's width in pixels for a portrait video (so it is at most PLAYER_MAX_HEIGHT tall), else
    "stretch". The file is probed once per path and modification time, not on every rerun of the page."""
    try:
        stamp = video.stat().st_mtime_ns
    except OSError:
        return "stretch"
    return _player_width(str(video), stamp)


@st.cache_data(show_spinner=False, max_entries=64)
def _player_width(video: str, stamp: int) -> int | Literal["stretch"]:
    from fer_core.decode import probe_video
    from fer_core.errors import FerError

    try:
        info = probe_video(video)
    except FerError:
        return "stretch"
    if info.height > info.width:
        return max(int(PLAYER_MAX_HEIGHT * info.width / info.height), 160)
    return "stretch"


RECENT_S = 2.0  # the panel's "last 2 s": a steadier reading than any single frame


def current_faces_table(snapshot: LiveSnapshot, recent_s: float = RECENT_S) -> pd.DataFrame:
    """The faces of the latest frame: identity, the reading (an emotion, or Uncertain) that dominated their last
    ``recent_s`` seconds and its share of those frames, eyes, blinks (and per minute from 5 s on screen). (Each
    frame's own emotion and probability are on the video itself: a one-second refresh could only show an older
    frame's numbers beside it.)"""
    rates = {s.track_id: s.blinks_per_minute for s in snapshot.summaries}
    rows = []
    for r in snapshot.current:
        points = [p for p in snapshot.faces.get(r.track_id, []) if p.time_s >= r.time_s - recent_s] or [r]
        recent = [reading(p.probabilities) for p in points]  # an emotion, or Uncertain under the level
        mostly = max(set(recent), key=recent.count)
        rate = rates.get(r.track_id)
        rows.append(
            {
                "face": f"#{r.track_id}",
                f"mostly, last {recent_s:.0f} s": mostly,
                "share": 100 * recent.count(mostly) / len(recent),
                "eyes": "closed" if r.eyes_closed else "open",
                # the count and the rate in one column, so that the table fits beside the video
                "blinks": f"{r.blink_count}" if rate is None else f"{r.blink_count} ({rate:.0f}/min)",
            }
        )
    return pd.DataFrame(rows)


def summary_table(faces: list[FaceSummary]) -> pd.DataFrame:
    """One row per face summary (as saved in a JSON summary): time on screen, dominant emotion, blinks, blinks per
    minute and how that compares with people in conversation (said in words while there is no rate yet)."""
    rows = []
    for face in faces:
        rate = face.blinks_per_minute
        rows.append(
            {
                "face": face.label,
                "on screen": mm_ss(face.time_on_screen_s),
                "mostly": face.dominant_emotion,
                "blinks": face.blink_count,
                "blinks/min": "needs 5 s on screen" if rate is None else f"{rate:.1f}",
                "vs typical 10-26/min": blink_verdict(rate, face.time_on_screen_s),
            }
        )
    return pd.DataFrame(rows)


def summary_table_ui(faces: list[FaceSummary], key: str = "faces") -> None:
    """The per-face table and, beside it, the share of time each emotion was dominant, one bar per face."""
    if not faces:
        st.info("No face was found.")
        return
    table, shares = st.columns([3, 2])
    with table:
        st.dataframe(summary_table(faces), hide_index=True, width="stretch")
        st.caption(
            f"Blinks per minute need 5 s on screen, a comparison 30 s (blinks come in bursts). "
            f"Reference: {BLINK_RANGE_SOURCE}."
        )
    with shares:
        st.plotly_chart(charts.emotion_share_bars(faces), width="stretch", key=f"{key}-shares")


def face_choice_ui(
    table: pd.DataFrame, key: str, present: Collection[int] = (), names: dict[int, str] | None = None
) -> int:
    """Which face to draw: every face of the records table can be chosen, the one seen longest first. Until the user
    picks one, the face shown is the one seen longest among ``present`` (live: the faces in the latest frame), else
    among all: a live chart does not stay on a face that left. ``names``: track id -> the name a user gave it."""
    counts = table["track_id"].value_counts()
    faces = [int(t) for t in counts.index]
    widget, picked = f"{key}-face", f"{key}-face-picked"
    if st.session_state.get(widget) not in faces:
        st.session_state[picked] = False  # the face picked is gone (a new stream, a face forgotten)
    if not st.session_state.get(picked):
        st.session_state[widget] = next((f for f in faces if f in present), faces[0])

    def mark_picked() -> None:
        st.session_state[picked] = True

    def label(track_id: int) -> str:
        name = (names or {}).get(track_id)
        return f"#{track_id} {name}" if name else f"#{track_id}"

    if len(faces) <= 8:
        chosen = st.segmented_control(
            "Face", faces, format_func=label, key=widget, required=True, on_change=mark_picked
        )
    else:
        chosen = st.selectbox("Face", faces, format_func=label, key=widget, on_change=mark_picked)
    return int(chosen if chosen is not None else faces[0])


def face_charts_ui(
    table: pd.DataFrame,
    emotions: tuple[str, ...] = EMOTIONS,
    key: str = "faces",
    seekable: bool = False,
    present: Collection[int] = (),
    names: dict[int, str] | None = None,
) -> None:
    """One face's emotion timeline (averaged over 1 s with a band of the dominant emotion; per-frame output one
    toggle away) and the blink rate of every face. ``seekable``: a click on the timeline is kept for the page
    (read it with ``charts.clicked_time(st.session_state.get(TIMELINE_KEY.format(key=key)))``). ``present``: the
    faces on screen now, shown first (:func:`face_choice_ui`). ``names``: track id -> the name a user gave it."""
    if table.empty:
        st.info("No face data yet.")
        return
    choose, raw_toggle = st.columns([3, 2])
    with choose:
        track_id = face_choice_ui(table, key, present, names)
    with raw_toggle:
        raw = st.toggle("Per frame", key=f"{key}-raw", help="Each frame's output instead of the 1 s average")
    name = (names or {}).get(track_id)
    figure = charts.emotion_timeline(table, track_id, emotions, raw=raw, label=f"#{track_id} {name}" if name else None)
    chart_key = TIMELINE_KEY.format(key=key)
    if seekable:
        st.plotly_chart(figure, width="stretch", key=chart_key, on_select="rerun", selection_mode="points")
        st.caption("Click a point of the timeline to play the video from that second.")
    else:
        st.plotly_chart(figure, width="stretch", key=chart_key)
    st.plotly_chart(charts.blink_rate_chart(table, names), width="stretch", key=f"{key}-blinks")


def face_names_ui(faces: list[FaceSummary], key: str) -> dict[int, str] | None:
    """A field per face to name it (e.g. Interviewer, Candidate), in a collapsed section; the names (track id ->
    name, "" for none) when the user applies them, else None. Names show in the tables, charts, report and exports
    (and in the history, once saved there)."""
    if not faces:
        return None
    with st.expander("Name the faces"):
        with st.form(key=f"{key}-names-form", border=False):
            names = {
                face.track_id: st.text_input(
                    f"Face #{face.track_id}",
                    value=face.name,
                    max_chars=MAX_FACE_NAME,
                    key=f"{key}-name-{face.track_id}",
                    placeholder="e.g. Interviewer",
                )
                for face in faces
            }
            if st.form_submit_button("Apply the names", icon=":material/badge:"):
                return names
    return None


def all_faces_table(store: HistoryStore, entries: list[EntryInfo]) -> pd.DataFrame:
    """One row per face of every entry listed (newest entry first): the entry's id, name, kind and saving time
    (UTC, ISO 8601), then the per-face columns of :func:`fer_core.export.faces_table`."""
    summaries = store.summaries([e.id for e in entries])
    parts = []
    for e in entries:
        if e.id not in summaries:
            continue
        faces = faces_table(face_summaries(summaries[e.id]))
        entry = {"entry_id": e.id, "entry_name": e.name, "kind": e.kind, "saved_utc": e.created_at.isoformat()}
        for i, (column, value) in enumerate(entry.items()):
            faces.insert(i, column, value)
        parts.append(faces)
    columns = ["entry_id", "entry_name", "kind", "saved_utc", *faces_table([]).columns]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def save_to_history_ui(kind: str, default_name: str, summary: dict, table: pd.DataFrame, key: str) -> int | None:
    """A name field and a save button; returns the new entry's id once saved (nothing is saved otherwise)."""
    saved = st.session_state.get(f"{key}-saved-id")
    if saved is not None:
        st.success(f"Saved to the history as entry {saved}.", icon=":material/check:")
        return saved
    with st.form(key=f"{key}-save-form", border=False):
        name = st.text_input("Name in the history", value=default_name, key=f"{key}-name", max_chars=120)
        if st.form_submit_button("Save to history", icon=":material/save:"):
            try:
                entry_id = history_store().save(name, kind, summary, table)
            except (ValueError, TypeError, OSError, sqlite3.Error) as exc:
                log.exception("saving to the history failed")
                st.error(f"Not saved: {exc}")
                return None
            st.session_state[f"{key}-saved-id"] = entry_id
            st.success(f"Saved to the history as entry {entry_id}.", icon=":material/check:")
            return entry_id
    return None


def camera_help_ui() -> None:
    """Under the webcam: camera problems (permission denied, no camera, camera busy, plain http on a network
    address) said in plain words with the fix; empty while all is well."""
    st.iframe(CAMERA_HELP, height=120)


def report_downloads_ui(title: str, stem: str, summary: dict, table: pd.DataFrame, key: str) -> None:
    """Download buttons for the per-face summary (CSV) and the self-contained HTML report; both are made only
    when clicked."""
    from dashboard.common import model_accuracy
    from dashboard.report import report_html

    choice = summary.get("emotion_model")
    model = {"name": choice, "accuracy": model_accuracy(choice)} if choice in ("fast", "accurate") else None
    st.download_button(
        "Faces (CSV)",
        lambda: faces_table(face_summaries(summary)).to_csv(index=False).encode(),
        f"{stem}.faces.csv",
        "text/csv",
        icon=":material/download:",
        on_click="ignore",  # a download needs no rerun of the page
        key=f"{key}-dl-faces",
        help="One row per face: time on screen, share of each emotion, mean probabilities, blinks.",
    )
    st.download_button(
        "Report (HTML)",
        lambda: report_html(title, summary, table, model).encode(),
        f"{stem}.report.html",
        "text/html",
        icon=":material/download:",
        on_click="ignore",  # a download needs no rerun of the page
        key=f"{key}-dl-report",
        help="One file to hand on: settings, model and accuracy, each face in words, charts. Opens offline.",
    )

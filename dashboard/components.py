"""Page pieces shared by the Live, Recorded video and History pages. ``*_ui`` functions draw widgets and return
plain values; the tables they show are built by plain functions."""

from __future__ import annotations

import logging
import sqlite3

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import history_store
from fer_core.labels import EMOTIONS
from fer_core.timeline import BLINK_RANGE_SOURCE, compare_blink_rate

log = logging.getLogger(__name__)

MAX_TIMELINES = 6  # faces drawn as timelines; more would make the page unreadable


def summary_table(faces: list[dict]) -> pd.DataFrame:
    """One row per face summary (as saved in a JSON summary): time on screen, share of each emotion, dominant
    emotion, blinks, blinks per minute and how that compares with people in conversation."""
    rows = []
    for face in faces:
        rate = face.get("blinks_per_minute")
        row = {
            "face": f"#{face['track_id']}",
            "on screen (s)": round(face["time_on_screen_s"], 1),
            "frames": face["frames"],
            "dominant emotion": face["dominant_emotion"],
            "blinks": face["blink_count"],
            "blinks/min": None if rate is None else round(rate, 1),
            "vs typical 10-26/min": compare_blink_rate(rate),
        }
        row.update({e: face["emotion_share"].get(e, 0.0) for e in EMOTIONS})
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table_ui(faces: list[dict]) -> None:
    if not faces:
        st.info("No face was found.")
        return
    st.dataframe(
        summary_table(faces),
        hide_index=True,
        width="stretch",
        column_config={
            e: st.column_config.ProgressColumn(e, format="percent", min_value=0, max_value=1, width="small")
            for e in EMOTIONS
        },
    )
    st.caption(
        f"Emotion columns: share of analysed frames in which it was the dominant emotion. Blinks/min needs "
        f"at least 5 s on screen. Reference: {BLINK_RANGE_SOURCE}; webcam lighting and the model's blink "
        "detector add their own error."
    )


def face_charts_ui(table: pd.DataFrame, emotions: tuple[str, ...] = EMOTIONS, key: str = "faces") -> None:
    """An emotion timeline per face (tabs, the faces seen longest first) and the blink rate of every face."""
    if table.empty:
        st.info("No face data yet.")
        return
    counts = table["track_id"].value_counts()
    faces = [int(t) for t in counts.index[:MAX_TIMELINES]]
    if len(counts) > MAX_TIMELINES:
        st.caption(f"Timelines of the {MAX_TIMELINES} faces seen longest (of {len(counts)}).")
    tabs = st.tabs([f"Face #{t}" for t in faces])
    for tab, track_id in zip(tabs, faces):
        with tab:
            st.plotly_chart(
                charts.emotion_timeline(table, track_id, emotions), width="stretch", key=f"{key}-timeline-{track_id}"
            )
    st.plotly_chart(charts.blink_rate_chart(table), width="stretch", key=f"{key}-blinks")


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

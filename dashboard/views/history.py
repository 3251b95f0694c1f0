"""History page: saved live sessions and video analyses (SQLite, see :mod:`fer_core.store`): list, open,
compare two side by side, follow them over time (e.g. one person's practice sessions), delete."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import history_store, plain_label, plain_markdown
from dashboard.components import (
    all_faces_table,
    face_charts_ui,
    face_names_ui,
    report_downloads_ui,
    summary_table_ui,
)
from fer_core.errors import HistoryError
from fer_core.labels import SHARE_LABELS
from fer_core.model_file import model_words
from fer_core.records import face_names, face_summaries
from fer_core.store import Entry, EntryInfo
from fer_core.timeline import part_words

log = logging.getLogger(__name__)


def label(info: EntryInfo) -> str:
    return f"{info.id}: {info.name} ({info.kind}, {info.created_at:%Y-%m-%d %H:%M})"


def overall_share(summary: dict) -> dict[str, float]:
    """Share of each emotion over all faces of an entry, weighted by each face's analysed frames."""
    faces = face_summaries(summary)
    frames = sum(f.frames for f in faces)
    if not frames:
        return dict.fromkeys(SHARE_LABELS, 0.0)
    return {e: sum(f.emotion_share.get(e, 0.0) * f.frames for f in faces) / frames for e in SHARE_LABELS}


def overall_blink_rate(summary: dict) -> float | None:
    """Blinks per minute over all faces of an entry that were on screen long enough for a rate, weighted by their
    time on screen; None when none was."""
    rated = [
        (f.blinks_per_minute, f.time_on_screen_s)
        for f in face_summaries(summary)
        if f.blinks_per_minute is not None and f.time_on_screen_s > 0
    ]
    seconds = sum(on_screen for _, on_screen in rated)
    return sum(rate * on_screen for rate, on_screen in rated) / seconds if seconds else None


def blink_table(summary: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "face": f.label,
                "blinks": f.blink_count,
                "blinks/min": "needs 5 s on screen" if f.blinks_per_minute is None else f"{f.blinks_per_minute:.1f}",
            }
            for f in face_summaries(summary)
        ]
    )


def _delete(entry_id: int) -> None:
    history_store().delete(entry_id)
    st.session_state.pop("history_confirm_delete", None)
    st.session_state["history_deleted"] = entry_id


def _ask_delete(entry_id: int) -> None:
    st.session_state["history_confirm_delete"] = entry_id


def _rename(entry_id: int) -> None:
    name = st.session_state.get(f"history-name-{entry_id}", "")
    try:
        history_store().rename(entry_id, name)
        st.session_state["history_renamed"] = entry_id
    except ValueError as exc:
        st.session_state["history_rename_error"] = str(exc)


def open_ui(entry: Entry) -> None:
    info = entry.info
    part = part_words(entry.summary.get("start_s"), entry.summary.get("end_s"))
    model = model_words(entry.summary.get("model"))
    st.caption(
        f"{info.kind} · saved {info.created_at:%Y-%m-%d %H:%M} UTC · {info.faces} face(s) · {info.duration_s:.1f} s"
        + (f" ({part})" if part else "")
        + (f" · {model}" if model else "")
    )
    applied = face_names_ui(face_summaries(entry.summary), key=f"history-{info.id}")
    if applied is not None:
        history_store().name_faces(info.id, applied)
        st.rerun()
    summary_table_ui(face_summaries(entry.summary), key=f"history-{info.id}")
    face_charts_ui(entry.table, key=f"history-{info.id}", names=face_names(entry.summary))
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Table (CSV)",
            entry.table.to_csv(index=False).encode(),
            f"history-{info.id}.csv",
            "text/csv",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun of the page
            key=f"history-dl-{info.id}",
        )
        report_downloads_ui(info.name, f"history-{info.id}", entry.summary, entry.table, key=f"history-{info.id}")
    right.button(
        "Delete this entry",
        on_click=_ask_delete,
        args=(info.id,),
        icon=":material/delete:",
        key=f"history-delete-{info.id}",
        type="secondary",
    )
    if st.session_state.get("history_confirm_delete") == info.id:
        st.warning(
            f"Delete **{plain_markdown(info.name)}** for good? Its summary and table cannot be recovered.",
            icon=":material/warning:",
        )
        yes, no = st.columns(2)
        yes.button(
            "Yes, delete it", on_click=_delete, args=(info.id,), type="primary", key=f"history-delete-yes-{info.id}"
        )
        no.button(
            "Keep it",
            on_click=lambda: st.session_state.pop("history_confirm_delete", None),
            key=f"history-delete-no-{info.id}",
        )
    with st.form(key=f"history-rename-form-{info.id}", border=False):
        st.text_input("Name", value=info.name, key=f"history-name-{info.id}", max_chars=120)
        st.form_submit_button("Rename", on_click=_rename, args=(info.id,), icon=":material/edit:")


KIND_NAMES = {"live": "Live sessions", "video": "Recorded videos"}


def over_time_ui(store, entries: list[EntryInfo]) -> None:
    """The entries of one kind oldest first: each one's share of time per emotion and its blink rate, so that
    someone practising sees how their sessions change."""
    kinds = [k for k in KIND_NAMES if any(e.kind == k for e in entries)]
    kind = st.radio("Entries", kinds, format_func=KIND_NAMES.__getitem__, horizontal=True, key="history_trend_kind")
    chosen = sorted((e for e in entries if e.kind == kind), key=lambda e: (e.created_at, e.id))
    if len(chosen) < 2:
        st.info(f"Save at least two {KIND_NAMES[str(kind)].lower()} to follow them over time.")
        return
    summaries = store.summaries([e.id for e in chosen])
    chosen = [e for e in chosen if e.id in summaries]
    labels = [f"{e.id}: {plain_label(e.name)} ({e.created_at:%m-%d %H:%M})" for e in chosen]
    st.plotly_chart(
        charts.entries_share_chart(labels, [overall_share(summaries[e.id]) for e in chosen]),
        width="stretch",
        key="history-trend-shares",
    )
    st.plotly_chart(
        charts.entries_blink_chart(labels, [overall_blink_rate(summaries[e.id]) for e in chosen]),
        width="stretch",
        key="history-trend-blinks",
    )
    st.caption(
        "One bar per saved entry, oldest first, all its faces together (weighted by frames analysed); blink rates "
        "only for entries with a face on screen long enough for one (5 s)."
    )


def compare_ui(a: Entry, b: Entry) -> None:
    st.plotly_chart(
        charts.emotion_share_chart(
            {plain_label(a.info.name): overall_share(a.summary), plain_label(b.info.name): overall_share(b.summary)},
            "Share of time per emotion (all faces)",
        ),
        width="stretch",
        key="history-compare-shares",
    )
    for column, entry in zip(st.columns(2), (a, b)):
        with column:
            st.markdown(f"**{plain_markdown(entry.info.name)}**")
            faces = face_summaries(entry.summary)
            st.plotly_chart(
                charts.emotion_share_chart({plain_label(f.label): f.emotion_share for f in faces}, "Per face"),
                width="stretch",
                key=f"history-compare-faces-{entry.info.id}",
            )
            st.dataframe(blink_table(entry.summary), hide_index=True, width="stretch")


st.title("History")
try:
    store = history_store()
    entries, unreadable = store.scan()
except HistoryError as exc:
    st.error(f"The history cannot be shown: {plain_markdown(str(exc))}.", icon=":material/error:")
    st.stop()
st.caption(
    f"Saved sessions and analyses, in {plain_markdown(str(store.path))} (set FER_DATA_DIR to keep them "
    "elsewhere). Nothing is saved unless you click Save on the Live or Recorded video page."
    + (
        ""
        if store.owner is None
        else f" Signed in as {plain_markdown(store.owner)}: you see what you saved, and entries saved before "
        "people signed in (marked shared), never another person's."
    )
)
deleted = st.session_state.pop("history_deleted", None)
if deleted is not None:
    st.success(f"Deleted entry {deleted}.")
if (renamed := st.session_state.pop("history_renamed", None)) is not None:
    st.success(f"Renamed entry {renamed}.")
if (problem := st.session_state.pop("history_rename_error", None)) is not None:
    st.error(f"Not renamed: {problem}.")
if unreadable:
    st.warning(
        f"{len(unreadable)} saved entr{'y is' if len(unreadable) == 1 else 'ies are'} damaged and cannot be "
        f"shown: {', '.join(str(i) for i, _ in unreadable)}. The others are below.",
        icon=":material/warning:",
    )
if not entries:
    st.info("Nothing saved yet." if not unreadable else "No other entry.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "id": e.id,
                "name": e.name,
                "kind": e.kind,
                **({} if store.owner is None else {"saved by": e.owner or "(shared)"}),
                "saved (UTC)": f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                "faces": e.faces,
                "seconds": round(e.duration_s, 1),
            }
            for e in entries
        ]
    ),
    hide_index=True,
    width="stretch",
)
st.download_button(
    "All entries, one row per face (CSV)",
    lambda: all_faces_table(store, entries).to_csv(index=False).encode(),
    "history-faces.csv",
    "text/csv",
    icon=":material/download:",
    on_click="ignore",  # a download needs no rerun of the page
    key="history-dl-all",
    help="Every entry listed here: its name, kind and date, then each face's time on screen, share of each "
    "emotion, mean probabilities and blinks, for a spreadsheet or a study's statistics.",
)
by_id = {e.id: e for e in entries}
open_tab, compare_tab, trend_tab = st.tabs(["Open", "Compare two", "Over time"])
with open_tab:
    chosen = st.selectbox("Entry", list(by_id), format_func=lambda i: label(by_id[i]), key="history_open")
    if chosen is not None:
        try:
            open_ui(store.load(chosen))
        except HistoryError as exc:
            st.error(f"{plain_markdown(str(exc))}.", icon=":material/error:")
with compare_tab:
    if len(entries) < 2:
        st.info("Save at least two entries to compare them.")
    else:
        left, right = st.columns(2)
        a = left.selectbox("First", list(by_id), index=0, format_func=lambda i: label(by_id[i]), key="history_a")
        b = right.selectbox("Second", list(by_id), index=1, format_func=lambda i: label(by_id[i]), key="history_b")
        if a == b:
            st.info("Choose two different entries to compare.")
        else:
            try:
                compare_ui(store.load(a), store.load(b))
            except HistoryError as exc:
                st.error(f"{plain_markdown(str(exc))}.", icon=":material/error:")
with trend_tab:
    over_time_ui(store, entries)

"""Recorded video page: upload a file, analyse it with a progress bar (cancellable), then play the annotated
video, see each face's timeline, blink rate and summary, download the results, save them to the history."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.common import (
    classifier_or_stop,
    describer_or_stop,
    job_owner,
    job_queue,
    landmarks_or_stop,
    model_accuracy,
    RecordedResult,
    new_upload_folder,
    plain_markdown,
    safe_stem,
)
from dashboard import charts
from dashboard.components import (
    TIMELINE_KEY,
    face_charts_ui,
    face_names_ui,
    player_width,
    report_downloads_ui,
    save_to_history_ui,
    summary_table_ui,
)
from fer_core.decode import stated_length
from fer_core.detect import DetectorSettings
from fer_core.jobs import FINISHED, Job, JobQueue
from fer_core.records import face_names, face_summaries, with_face_names
from fer_core.timeline import is_part, mm_ss, parse_time, part_words

log = logging.getLogger(__name__)

VIDEO_TYPES = ("mp4", "mov", "webm", "avi", "mkv")
RESULT_KEY = "recorded_result"


FACE_SIZES = {
    "Close-ups": DetectorSettings(),
    "Close-ups, faster": DetectorSettings(model="blazeface"),
    "Small faces too": DetectorSettings.small_faces(),
}


def model_choice_ui(key: str) -> str:
    """Which emotion model: "fast" or "accurate", each labelled with its recorded PublicTest accuracy."""

    def label(choice: str) -> str:
        accuracy = model_accuracy(choice)
        shown = f" ({accuracy:.1%} on FER2013 PublicTest)" if accuracy is not None else ""
        return {"fast": "Fast", "accurate": "Accurate"}[choice] + shown

    return st.radio(
        "Emotion model",
        ["fast", "accurate"],
        format_func=label,
        horizontal=True,
        key=key,
        help="Fast: an Xception-family network, about 1 ms per face; it reads a face a second time, mirrored, only "
        "when unsure of it. Accurate: the same network reading every face also mirrored, about 1.5x that per face, "
        "as often right on FER2013 and a little steadier from frame to frame. Details on the Model page.",
    )


def options_ui() -> tuple[int, DetectorSettings, bool]:
    """Every frame, or every n-th; which face sizes to find; whether to draw the annotated video. Returns n, the
    detector settings and that choice."""
    mode = st.radio("Frames to analyse", ["Every frame", "Every n-th frame"], horizontal=True, key="rec_mode")
    every = 1
    if mode != "Every frame":
        every = int(
            st.number_input(
                "n",
                min_value=2,
                max_value=30,
                value=3,
                key="rec_every",
                help="Analyse one frame in n: n times faster, coarser timeline and blink counts "
                "(blinks last 0.1-0.4 s, so keep n small for blinks).",
            )
        )
    sizes = st.radio(
        "Faces to find",
        list(FACE_SIZES),
        horizontal=True,
        key="rec_faces",
        help="Close-ups: faces at least 80 pixels wide in frames up to 640 pixels wide (larger frames "
        "are searched at 640: 240 pixels in a 1920x1080 video); fast. Close-ups, faster: MediaPipe's "
        "BlazeFace detector instead of dlib's, faces from about a tenth of the frame's longer side; the "
        "analysis about 1.2x faster, blinks and readings as with dlib's on the team's clips. Small faces too: every "
        "frame searched at full size, faces from about 40 pixels (a group, a meeting, a wide "
        "shot); about 2x slower for frames up to 640 pixels wide, 6x for 1080p.",
    )
    video = st.checkbox(
        "Draw the annotated video",
        value=True,
        key="rec_video",
        help="The video with each face's box, identity, emotion and blinks, to watch and download. Without it the "
        "table, charts and summary are the same and the analysis is faster (a video of 30 s or more is analysed "
        "in two halves at once); `fer render` can draw it later from the video and the downloaded table.",
    )
    return every, FACE_SIZES[sizes], video


def part_ui(upload) -> tuple[float, float | None] | None:
    """Which part of the video to analyse: (start, end) in seconds (end None: to the end), or None (with the
    reason shown) when what was typed is not a time or the part is empty. Says the upload's length where its
    header states one."""
    start_col, end_col = st.columns(2)
    start_text = start_col.text_input(
        "Start at",
        value="0:00",
        key="rec_from",
        help="Analyse the video from this time (m:ss, h:mm:ss or seconds); earlier frames are skipped.",
    )
    end_text = end_col.text_input(
        "End at",
        value="",
        key="rec_to",
        placeholder="the end",
        help="Analyse up to this time (m:ss, h:mm:ss or seconds); empty: to the end. The table, charts and "
        "summary then hold that part only, at the video's own times; the annotated video is the whole video, "
        "drawn where it was analysed.",
    )
    if upload is not None:
        key = f"rec_length_{upload.file_id}"  # read once per upload
        if key not in st.session_state:
            st.session_state[key] = stated_length(upload)
        if length := st.session_state[key]:
            st.caption(f"The video lasts {mm_ss(length)} ({length:.1f} s).")
    try:
        start = parse_time(start_text or "0")
        end = parse_time(end_text) if end_text.strip() else None
    except ValueError as exc:
        st.error(f"The part to analyse: {exc}", icon=":material/schedule:")
        return None
    if end is not None and end <= start:
        st.error(
            f"The part to analyse ends ({mm_ss(end)}) before it starts ({mm_ss(start)}).", icon=":material/schedule:"
        )
        return None
    return start, end


JOB_KEY = "rec_job"  # the id of the analysis this session is waiting for


def _cancel(job_id: str) -> None:
    job_queue().cancel(job_owner(), job_id)


def run_analysis(
    upload,
    every: int,
    detector: DetectorSettings = DetectorSettings(),
    model: str = "fast",
    video: bool = True,
    part: tuple[float, float | None] = (0.0, None),
) -> RecordedResult | None:
    """Queue the upload as a background analysis (:mod:`fer_core.jobs`) and wait for it here with its progress.
    The analysis does not depend on this page: changing an option, opening another page or closing the tab leaves
    it running, and the page picks it up again (:func:`wait_for_job`, the job list). Returns None after showing
    an error for a file that cannot be analysed."""
    for check in (lambda: classifier_or_stop(model), landmarks_or_stop, describer_or_stop):
        check()  # a missing model is said on the page (and stops it) before anything is queued
    options = {
        "every": every,
        "model": model,
        "small_faces": detector == DetectorSettings.small_faces(),
        "detector": detector.model,
        "video": video,
    }
    if is_part(*part):
        options["start_s"], options["end_s"] = part
    return wait_for_job(submit_upload(upload, options))


def submit_upload(upload, options: dict) -> str:
    """Queue a job (:mod:`fer_core.jobs`) on a copy of the upload under a generated name (the user's file name
    never becomes a path; its suffix is kept for a video type, else ``.bin``); this page then waits for it
    (:data:`JOB_KEY`). Returns the job id."""
    suffix = Path(upload.name).suffix.lower()
    with new_upload_folder() as tmp:
        source = Path(tmp) / f"upload{suffix if suffix.lstrip('.') in VIDEO_TYPES else '.bin'}"
        with source.open("wb") as out:
            upload.seek(0)
            shutil.copyfileobj(upload, out, 1 << 20)
        job_id = job_queue().submit(job_owner(), source, upload.name, json.dumps(options))
    st.session_state[JOB_KEY] = job_id
    return job_id


def _progress(queue: JobQueue, job: Job) -> tuple[float, str]:
    """The progress bar's fraction and text for a job not yet finished."""
    ahead = queue.ahead(job) if job.status == "queued" else 0
    if ahead:
        return 0.0, f"In line behind {ahead} other analys{'is' if ahead == 1 else 'es'} on this server..."
    if not job.done:
        return 0.0, "Starting the analysis..."
    options = json.loads(job.options)
    if options.get("video", True) and is_part(options.get("start_s"), options.get("end_s")):
        # one count for both steps (fer_core.jobs.analysis_runner)
        text = f"Frame {job.done} of {job.total or '?'} (the part analysed, then the whole video drawn)"
    else:
        verb = "Drew" if "draw_over" in options else "Analysed"
        text = f"{verb} frame {job.done} of {job.total}" if job.total else f"{verb} frame {job.done}"
    left = job.seconds_left()
    text += f", about {mm_ss(left + 0.5)} left" if left is not None else ""
    return (min(job.done / job.total, 1.0) if job.total else 0.0), text


def wait_for_job(job_id: str) -> RecordedResult | None:
    """Show the job's progress (frames, time left, Cancel) until it ends; then its result, or why it has none."""
    queue, owner = job_queue(), job_owner()
    status = st.empty()  # the progress bar and Cancel, cleared when the analysis ends either way
    with status.container():
        bar = st.progress(0.0, text="Starting the analysis...")
        st.button("Cancel", on_click=_cancel, args=(job_id,), icon=":material/cancel:", key="rec_cancel")
    while (job := queue.job(owner, job_id)) is not None and job.status not in FINISHED:
        # drawn every tick: each Streamlit call is where a click (Cancel, another page) can interrupt this run
        bar.progress(*_progress(queue, job))
        time.sleep(0.25)
    status.empty()
    st.session_state.pop(JOB_KEY, None)
    return None if job is None else job_result(job)


def _as_uploaded(message: str, name: str) -> str:
    """``message`` naming the job's copy of the video (``input.<suffix>``, see :mod:`fer_core.jobs`) by the name
    the user uploaded instead."""
    return re.sub(r"\binput\.[a-z0-9]+", lambda _: name, message)


def job_result(job: Job) -> RecordedResult | None:
    """A finished job as the page shows it: its result, or (returning None) why it has none."""
    name = job.source_name
    options = json.loads(job.options)

    def users_words(message: str) -> str:  # messages name the file as the user knows it, never our copy
        return plain_markdown(_as_uploaded(message, name))

    if job.status == "cancelled":
        st.warning("Analysis cancelled.", icon=":material/cancel:")
        return None
    if job.status == "failed":
        if job.error_kind == "NoFaceError":
            hint = (
                ""
                if options.get("small_faces")
                else " For a group, a meeting or a wide shot, choose **Small faces too** and analyse again."
            )
            st.error(
                f"No face was found in {plain_markdown(name)}. With this setting a face must be frontal "
                f"and at least about {job.smallest_face:.0f} pixels wide in this video.{hint}",
                icon=":material/face:",
            )
        elif job.error_kind == "DecodeError":
            st.error(
                f"{plain_markdown(name)} cannot be read as a video: {users_words(job.error)}. Upload an "
                "mp4, mov, webm, avi or mkv file.",
                icon=":material/error:",
            )
        else:
            st.error(f"The analysis failed: {users_words(job.error)}", icon=":material/error:")
        return None
    summary_path = next(job.results.glob("*.summary.json"), None)
    if summary_path is None:  # removed meanwhile (kept a day)
        st.warning(f"The results of {plain_markdown(name)} are no longer kept.")
        return None
    if options.get("replaces"):  # the video drawn for an earlier result: this one holds all of it now
        job_queue().remove(job_owner(), options["replaces"])
    stem = summary_path.name.removesuffix(".summary.json")
    summary = json.loads(summary_path.read_text())
    summary["source"] = name
    summary["emotion_model"] = options.get("model", "fast")
    summary["warnings"] = [_as_uploaded(w, name) for w in summary.get("warnings", [])]
    return RecordedResult(
        source_name=name,
        stem=safe_stem(name),
        summary=summary,
        table=pd.read_parquet(job.results / f"{stem}.parquet"),
        summary_json=json.dumps(summary, indent=1).encode(),
        files=None,  # kept with the job
        csv_path=job.results / f"{stem}.csv",
        mp4_path=mp4 if (mp4 := job.results / f"{stem}.annotated.mp4").is_file() else None,
        job_id=job.id,
    )


def _open(job_id: str) -> None:
    job = job_queue().job(job_owner(), job_id)
    if job is not None and job.status == "done":
        st.session_state["rec_open"] = job_id


def job_words(job: Job) -> str:
    """What a job in the list does or holds: 'waiting', '120 of 1856 frames', 'drawing the annotated video: ...',
    'done: tables and charts, accurate model', 'done: with the annotated video', ..."""
    options = json.loads(job.options)
    drawing = "draw_over" in options
    if job.status == "queued":
        return "waiting to draw the annotated video" if drawing else "waiting"
    if job.status == "running":
        frames = f"{job.done} of {job.total or '?'} frames"
        return f"drawing the annotated video, {frames}" if drawing else frames
    if job.status != "done":
        return job.status
    held = "with the annotated video" if drawing or options.get("video", True) else "tables and charts"
    model = ", accurate model" if options.get("model") == "accurate" else ""
    return f"done: {held}{model}"


def jobs_ui() -> None:
    """This visitor's analyses (kept a day after they end): what each is doing, and Open for a finished one."""
    queue = job_queue()
    jobs = queue.jobs(job_owner())
    if not jobs:
        return
    kept = queue.keep_s / 3600
    with st.expander(f"Your analyses ({len(jobs)}, kept for {'a day' if kept == 24 else f'{kept:g} h'})"):
        for job in jobs:
            text, button = st.columns([4, 1])
            text.markdown(
                f"**{plain_markdown(job.source_name)}**: {job_words(job)} "
                f"({time.strftime('%H:%M', time.localtime(job.created_at))})"
            )
            if job.status == "done":
                button.button("Open", key=f"rec_open_{job.id}", on_click=_open, args=(job.id,))
            elif job.status in ("queued", "running"):
                button.button("Cancel", key=f"rec_cancel_{job.id}", on_click=_cancel, args=(job.id,))


def draw_video_ui(result: RecordedResult) -> None:
    """For a result analysed without the annotated video: a button that draws it as a background job from the
    upload still held by this page (the job's copy goes when it ends, as an analysis's does), or how to draw it
    with the command line once the upload is gone."""
    upload = st.session_state.get("rec_upload")
    if upload is None or upload.name != result.source_name or result.job_id is None:
        st.info(
            "Analysed without the annotated video (*Draw the annotated video* was off). To draw it, upload the "
            "video again and open this result, or save the table (CSV) in a folder under the video's own name "
            "(`interview.mp4` -> `interview.csv`) and run `fer render interview.mp4 --results FOLDER`."
        )
        return
    st.info("Analysed without the annotated video (*Draw the annotated video* was off); it can be drawn now.")
    if not st.button("Draw the video now", icon=":material/movie:", key="rec_draw"):
        return
    analysis = job_queue().job(job_owner(), result.job_id)
    if analysis is None or not analysis.results.is_dir():
        st.warning(f"The results of {plain_markdown(result.source_name)} are no longer kept.")
        return
    options = {
        "draw_over": str(analysis.results),
        "every": result.summary.get("every", 1),
        "model": result.summary.get("emotion_model", "fast"),
        "replaces": analysis.id,
    }
    submit_upload(upload, options)
    st.rerun()  # the page waits for the job as for an analysis


def results_ui(result: RecordedResult) -> None:
    names_key = f"rec-face-names-{st.session_state.get('rec_run', 0)}"  # a new result starts unnamed
    names = st.session_state.get(names_key)
    summary = with_face_names(result.summary, names) if names else result.summary
    st.subheader(f"Results: {plain_markdown(result.source_name)}")
    part = f" from {words}" if (words := part_words(summary.get("start_s"), summary.get("end_s"))) else ""
    st.caption(
        f"{summary['frames_analysed']} of {summary['frames_decoded']} frames analysed "
        f"(every {summary['every']}), {summary['duration_s']:.1f} s of video{part}, "
        f"{len(summary['faces'])} face(s)."
    )
    for warning in summary.get("warnings", []):
        st.warning(plain_markdown(warning))
    video, downloads = st.columns([3, 1])
    with video:
        if result.mp4_path is None:
            draw_video_ui(result)
        else:
            seek = charts.clicked_time(st.session_state.get(TIMELINE_KEY.format(key="recorded")))
            st.video(
                str(result.mp4_path),
                format="video/mp4",
                start_time=seek or 0,
                autoplay=seek is not None,
                width=player_width(result.mp4_path),
            )
    with downloads:
        st.download_button(
            "Table (CSV)",
            result.csv_path.read_bytes,  # read when clicked: the files stay on disk, not in the session
            f"{result.stem}.csv",
            "text/csv",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun of the page
            key="rec_dl_csv",
        )
        st.download_button(
            "Summary (JSON)",
            json.dumps(summary, indent=1).encode() if names else result.summary_json,
            f"{result.stem}.summary.json",
            "application/json",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun of the page
            key="rec_dl_json",
        )
        if result.mp4_path is not None:
            st.download_button(
                "Annotated video (MP4)",
                result.mp4_path.read_bytes,
                f"{result.stem}.annotated.mp4",
                "video/mp4",
                icon=":material/download:",
                on_click="ignore",  # a download needs no rerun of the page
                key="rec_dl_mp4",
            )
        report_downloads_ui(result.source_name, result.stem, summary, result.table, key="rec")
    st.markdown("#### Faces")
    applied = face_names_ui(face_summaries(summary), key=names_key)
    if applied is not None:
        st.session_state[names_key] = applied
        st.rerun()  # the downloads above carry the names too
    summary_table_ui(face_summaries(summary), key="recorded")
    face_charts_ui(result.table, key="recorded", seekable=result.mp4_path is not None, names=face_names(summary))
    save_to_history_ui(
        "video", result.source_name, summary, result.table, key=f"recorded-{st.session_state.get('rec_run', 0)}"
    )


st.title("Recorded video")
st.caption(
    "Upload a recorded interview; each face gets an identity, an emotion timeline and a blink count. "
    "The analysis goes on if you change an option, open another page or close the tab; the upload is removed "
    "as soon as it is analysed and the results are kept for a day under *Your analyses*."
)
upload = st.file_uploader("Video file", type=list(VIDEO_TYPES), key="rec_upload")
part = part_ui(upload)
every, detector, draw_video = options_ui()
model = model_choice_ui("rec_model")
analyse = (
    upload is not None
    and st.button("Analyse", type="primary", icon=":material/play_arrow:", key="rec_analyse", disabled=part is None)
    and part is not None
)
waiting, opened = st.session_state.get(JOB_KEY), st.session_state.pop("rec_open", None)
if analyse or waiting or opened:
    if analyse:
        assert part is not None  # the button is disabled without one
        result = run_analysis(upload, every, detector, model, draw_video, part)
    elif waiting:  # an analysis started before this rerun (an option changed, another page visited): still going
        result = wait_for_job(waiting)
    else:
        job = job_queue().job(job_owner(), opened)
        result = job_result(job) if job is not None else None
    if result is not None:
        previous = st.session_state.pop(RESULT_KEY, None)
        if previous is not None:
            previous.discard()
        st.session_state[RESULT_KEY] = result
        st.session_state["rec_run"] = st.session_state.get("rec_run", 0) + 1
jobs_ui()
if RESULT_KEY in st.session_state:
    results_ui(st.session_state[RESULT_KEY])

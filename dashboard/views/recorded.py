"""Recorded video page: upload a file, analyse it with a progress bar (cancellable), then play the annotated
video, see each face's timeline, blink rate and summary, download the results, save them to the history."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.common import (
    classifier_or_stop,
    describer_or_stop,
    landmarks_or_stop,
    model_accuracy,
    PrivateFolder,
    RecordedResult,
    new_upload_folder,
    plain_markdown,
    safe_stem,
)
from dashboard import charts
from dashboard.components import (
    TIMELINE_KEY,
    face_charts_ui,
    player_width,
    report_downloads_ui,
    save_to_history_ui,
    summary_table_ui,
    time_left,
)
from fer_core.detect import DetectorSettings
from fer_core.errors import DecodeError, FerError, NoFaceError
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.records import face_summaries
from fer_core.video import analyze_video

log = logging.getLogger(__name__)

VIDEO_TYPES = ("mp4", "mov", "webm", "avi", "mkv")
RESULT_KEY = "recorded_result"


FACE_SIZES = {"Close-ups": DetectorSettings(), "Small faces too": DetectorSettings.small_faces()}


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
        help="Fast: the Xception-family network, under 1 ms per face. Accurate: a larger network "
        "(VGG, 8-bit), about 2 ms per face, right more often overall (less often on Disgust); "
        "the whole analysis takes a little longer. Details on the Model page.",
    )


def options_ui() -> tuple[int, DetectorSettings]:
    """Every frame, or every n-th; and which face sizes to find. Returns n and the detector settings."""
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
        "are searched at 640: 240 pixels in a 1920x1080 video); fast. Small faces too: every "
        "frame searched at full size, faces from about 40 pixels (a group, a meeting, a wide "
        "shot); about 2x slower for frames up to 640 pixels wide, 6x for 1080p.",
    )
    return every, FACE_SIZES[sizes]


def _mark_cancelled() -> None:
    st.session_state["rec_cancelled"] = True


def run_analysis(
    upload, every: int, detector: DetectorSettings = DetectorSettings(), model: str = "fast"
) -> RecordedResult | None:
    """Analyse the upload in a fresh temporary folder (removed afterwards), showing progress. Returns None after
    showing an error for a file that cannot be analysed.

    Cancelling: the Cancel button makes Streamlit rerun the page, which stops this run at its next progress
    update; ``analyze_video`` then removes its partial files and the temporary folder goes with the context."""
    classifier, landmarks, describer = classifier_or_stop(model), landmarks_or_stop(), describer_or_stop()
    suffix = Path(upload.name).suffix.lower()
    suffix = suffix if suffix.lstrip(".") in VIDEO_TYPES else ".bin"
    with new_upload_folder() as tmp:
        source = Path(tmp) / f"upload{suffix}"  # a generated name: the user's file name never becomes a path
        with source.open("wb") as out:
            upload.seek(0)
            shutil.copyfileobj(upload, out, 1 << 20)
        status = st.empty()  # the progress bar and Cancel, cleared when the analysis ends either way
        with status.container():
            bar = st.progress(0.0, text="Starting the analysis...")
            st.button("Cancel", on_click=_mark_cancelled, icon=":material/cancel:", key="rec_cancel")

        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            text = f"Analysed frame {done} of {total}" if total else f"Analysed frame {done}"
            bar.progress(min(done / total, 1.0) if total else 0.0, text=text + time_left(done, total, started))

        def users_words(message: str) -> str:  # messages name the file as the user knows it, never our copy
            return plain_markdown(message.replace(source.name, upload.name))

        try:
            pipeline = FramePipeline(
                PipelineSettings(detector=detector), classifier=classifier, landmarks=landmarks, describer=describer
            )
            analysis = analyze_video(
                source, Path(tmp) / "out", every=every, pipeline=pipeline, progress=progress, require_face=True
            )
        except NoFaceError as exc:
            hint = (
                ""
                if detector.upsample
                else " For a group, a meeting or a wide shot, choose **Small faces too** and analyse again."
            )
            st.error(
                f"No face was found in {plain_markdown(upload.name)}. With this setting a face must be frontal "
                f"and at least about {exc.smallest_face:.0f} pixels wide in this video.{hint}",
                icon=":material/face:",
            )
            return None
        except DecodeError as exc:
            st.error(
                f"{plain_markdown(upload.name)} cannot be read as a video: {users_words(str(exc))}. Upload an "
                "mp4, mov, webm, avi or mkv file.",
                icon=":material/error:",
            )
            return None
        except FerError as exc:
            st.error(f"The analysis failed: {users_words(str(exc))}", icon=":material/error:")
            return None
        finally:
            status.empty()
        outputs = analysis.outputs
        assert outputs.table_csv and outputs.table_parquet and outputs.annotated_mp4  # asked for all three
        summary = analysis.summary()
        summary["source"] = upload.name
        summary["emotion_model"] = model
        summary["warnings"] = [w.replace(source.name, upload.name) for w in summary.get("warnings", [])]
        kept = PrivateFolder()  # the outputs move out of the upload folder, which goes with the upload
        csv_path = Path(shutil.move(outputs.table_csv, kept.path / "table.csv"))
        mp4_path = Path(shutil.move(outputs.annotated_mp4, kept.path / "annotated.mp4"))
        return RecordedResult(
            source_name=upload.name,
            stem=safe_stem(upload.name),
            summary=summary,
            table=pd.read_parquet(outputs.table_parquet),
            summary_json=json.dumps(summary, indent=1).encode(),
            files=kept,
            csv_path=csv_path,
            mp4_path=mp4_path,
        )


def results_ui(result: RecordedResult) -> None:
    summary = result.summary
    st.subheader(f"Results: {plain_markdown(result.source_name)}")
    st.caption(
        f"{summary['frames_analysed']} of {summary['frames_decoded']} frames analysed "
        f"(every {summary['every']}), {summary['duration_s']:.1f} s of video, "
        f"{len(summary['faces'])} face(s)."
    )
    for warning in summary.get("warnings", []):
        st.warning(plain_markdown(warning))
    video, downloads = st.columns([3, 1])
    with video:
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
            result.summary_json,
            f"{result.stem}.summary.json",
            "application/json",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun of the page
            key="rec_dl_json",
        )
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
    summary_table_ui(face_summaries(summary), key="recorded")
    face_charts_ui(result.table, key="recorded", seekable=True)
    save_to_history_ui(
        "video", result.source_name, summary, result.table, key=f"recorded-{st.session_state.get('rec_run', 0)}"
    )


st.title("Recorded video")
st.caption(
    "Upload a recorded interview; each face gets an identity, an emotion timeline and a blink count. "
    "The upload is analysed in a temporary folder that is removed afterwards."
)
upload = st.file_uploader("Video file", type=list(VIDEO_TYPES), key="rec_upload")
every, detector = options_ui()
model = model_choice_ui("rec_model")
if st.session_state.pop("rec_cancelled", False):
    st.warning("Analysis cancelled.", icon=":material/cancel:")
if upload is not None and st.button("Analyse", type="primary", icon=":material/play_arrow:", key="rec_analyse"):
    previous = st.session_state.pop(RESULT_KEY, None)
    if previous is not None:
        previous.discard()
    result = run_analysis(upload, every, detector, model)
    if result is not None:
        st.session_state[RESULT_KEY] = result
        st.session_state["rec_run"] = st.session_state.get("rec_run", 0) + 1
if RESULT_KEY in st.session_state:
    results_ui(st.session_state[RESULT_KEY])

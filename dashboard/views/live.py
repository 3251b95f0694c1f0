"""Live page: the browser webcam through streamlit-webrtc, analysed frame by frame by this session's
:class:`fer_core.live.LiveSession`; charts refresh from its snapshot while the stream runs."""

from __future__ import annotations

import logging
from datetime import datetime

import av
import streamlit as st
from av.video.reformatter import VideoReformatter
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from dashboard.common import PrivateFolder, classifier_or_stop, ice_servers, landmarks_or_stop, live_turns
from dashboard.components import (
    RECENT_S,
    camera_help_ui,
    current_faces_table,
    face_charts_ui,
    face_names_ui,
    report_downloads_ui,
    save_to_history_ui,
    summary_table_ui,
)
from fer_core.detect import DetectorSettings
from fer_core.identity import SAME_PERSON
from fer_core.labels import EMOTIONS
from fer_core.live import DisplaySettings, LiveSession, Replay
from fer_core.model_file import model_identity
from fer_core.pipeline import PipelineSettings
from fer_core.records import face_names, face_summaries, with_face_names
from fer_core.timeline import plain_summary

log = logging.getLogger(__name__)

SESSION_KEY = "live_session"
REPLAY_KEY = "live_replay_done"  # the finished Replay of the last stream
REPLAY_FILES_KEY = "live_replay_files"  # its PrivateFolder, removed with it
REFRESH_S = 1.0
CAMERA_SILENT_S = 3.0  # no frame for this long while the stream is on: the camera stopped
# Without recognition, a face that appears alone within this many seconds of the last face leaving alone is that
# same face (one person practising, who looked away or covered the camera): PipelineSettings.solo_hold_s.
SOLO_HOLD_S = 60.0
# "Readings" setting -> PipelineSettings.smoothing (weight of the past in each face's running average)
SMOOTHING = {"Quick": 0.0, "Balanced": 0.5, "Steady": 0.8}


def settings_ui() -> tuple[PipelineSettings, DisplaySettings]:
    """Sidebar settings of the live analysis: plain ones first, the detector's under "Advanced"."""
    with st.sidebar:
        st.subheader("Live settings")
        emotions = st.multiselect("Emotions shown", EMOTIONS, default=list(EMOTIONS), key="live_emotions")
        steadiness = st.select_slider(
            "Readings",
            ["Quick", "Balanced", "Steady"],
            value="Balanced",
            key="live_steadiness",
            help="Steady readings flicker less but follow a change of expression a little later "
            "(Quick: each frame as it is; Steady: about half a second behind).",
        )
        landmarks = st.toggle("Show face landmarks", value=False, key="live_landmarks")
        recognise = st.toggle(
            "Recognise people who come back",
            value=False,
            key="live_recognise",
            help="Someone away for more than a second gets their number back when they return, even with "
            "others around. One person alone keeps their number anyway for a minute. Each recognition "
            "pauses the whole server for 0.1-0.4 s, so it is off for shared servers.",
        )
        st.toggle(
            "Keep a replay",
            value=False,
            key="live_replay",
            help="Keep the annotated video of the next session on this server, to watch and download after STOP. "
            "It is removed when you start again, discard it or leave. Off: no frame is written anywhere.",
        )
        with st.expander("Advanced"):
            blazeface = (
                st.radio(
                    "Face detector",
                    ["dlib HOG", "BlazeFace"],
                    horizontal=True,
                    key="live_detector",
                    help="BlazeFace (MediaPipe's, on this server like dlib's): less CPU for a face that fills a good "
                    "part of the picture, as a webcam's does, so more sessions fit on a shared server; it finds "
                    "faces from about a tenth of the picture's width. The threshold and upsampling below are "
                    "dlib's only.",
                )
                == "BlazeFace"
            )
            threshold = st.slider(
                "Detection threshold",
                -1.0,
                1.0,
                0.0,
                0.1,
                key="live_threshold",
                disabled=blazeface,
                help="dlib's HOG score threshold: lower finds more (and less sure) faces.",
            )
            upsample = st.radio(
                "Detector upsampling",
                [0, 1],
                horizontal=True,
                key="live_upsample",
                disabled=blazeface,
                help="1 finds faces half as small, at about 4x the detection time.",
            )
    detector = (
        DetectorSettings(model="blazeface")
        if blazeface
        else DetectorSettings(threshold=float(threshold), upsample=int(upsample))
    )
    settings = PipelineSettings(
        detector=detector,
        smoothing=SMOOTHING[steadiness],
        same_person=SAME_PERSON if recognise else 0.0,
        scene_cut=0.0,  # a webcam does not cut; a lamp switched on would end every face
        solo_hold_s=SOLO_HOLD_S,
    )  # one person alone who looks away stays one face
    return settings, DisplaySettings(emotions=tuple(e for e in EMOTIONS if e in emotions), landmarks=landmarks)


def _session() -> LiveSession:
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        session = st.session_state[SESSION_KEY] = LiveSession(
            classifier_or_stop(), landmarks=landmarks_or_stop(), turns=live_turns()
        )
    return session


def live_panel(session: LiveSession, emotions: tuple[str, ...]) -> None:
    """Numbers, the current state of each face and the charts, from one snapshot of the session."""
    snapshot = session.snapshot()
    if snapshot.error:
        st.error("The last frame could not be analysed (the stream goes on):")
        st.code(snapshot.error, language="text")
    silent = snapshot.frames and snapshot.seconds_since_frame > CAMERA_SILENT_S
    if silent:
        st.warning(
            f"No frame from the camera for {snapshot.seconds_since_frame:.0f} s: it was stopped, unplugged "
            "or taken by another program. Everything analysed so far is kept: press STOP to see the summary "
            "and save it, then START to reconnect.",
            icon=":material/videocam_off:",
        )
    frames, faces, fps = st.columns(3)
    frames.metric("Frames analysed", snapshot.frames)
    fps.metric(
        "Frames per second",
        f"{0.0 if silent else snapshot.fps:.1f}",
        help="Frames analysed per second by this server. The video you see plays at your camera's rate; when "
        "the server is busy, fewer frames are analysed and the readings update less often.",
    )
    faces.metric("Faces now", len(snapshot.current))
    if snapshot.frames and not snapshot.current:
        st.caption("No face in the latest frame: face the camera, or lower the detection threshold.")
    if snapshot.current:
        st.caption(
            f"Each face's emotion over the last {RECENT_S:.0f} seconds (refreshed every second); the video shows "
            "each frame's own reading."
        )
        st.dataframe(
            current_faces_table(snapshot),
            hide_index=True,
            width="stretch",
            column_config={
                "share": st.column_config.ProgressColumn(
                    "share", format="%.0f%%", min_value=0, max_value=100, width="small"
                ),
                "blinks": st.column_config.TextColumn(help="blinks counted, and per minute from 5 s on screen"),
            },
        )
    if not snapshot.empty:
        face_charts_ui(
            snapshot.table(), emotions or EMOTIONS, key="live", present={r.track_id for r in snapshot.current}
        )


def stopped_ui(session: LiveSession) -> None:
    """After a stream: each face in a sentence, the replay (if asked for) beside the downloads, save to the
    history or discard, then the table and charts."""
    snapshot = session.snapshot()
    if snapshot.frames == 0:
        return
    st.subheader("Recording stopped")
    names_key = f"live-face-names-{st.session_state.get('live_run', 0)}"  # a new stream starts unnamed
    names = st.session_state.get(names_key)
    summary = {**snapshot.summary(), "model": model_identity(session.settings.model_dir)}  # what made it
    summary = with_face_names(summary, names) if names else summary
    faces = face_summaries(summary)
    st.write(f"{snapshot.frames} frames over {snapshot.duration_s:.1f} s, {len(faces)} face(s).")
    for face in sorted(faces, key=lambda f: -f.time_on_screen_s)[:3]:
        st.markdown(f"**{plain_summary(face)}**")
    replay = session.finish_replay()  # the stream ended: finish the file (None once done)
    if replay is not None:
        st.session_state[REPLAY_KEY] = replay
    table = snapshot.table(readings=True)  # as downloaded and saved: with the readings over time
    video, downloads = st.columns([3, 1])
    with video:
        replay_ui(st.session_state.get(REPLAY_KEY))
        save_to_history_ui(
            "live",
            f"Webcam {datetime.now():%Y-%m-%d %H:%M}",
            summary,
            table,
            key=f"live-{st.session_state.get('live_run', 0)}",
        )
    with downloads:
        replay_download_ui(st.session_state.get(REPLAY_KEY))
        st.download_button(
            "Table (CSV)",
            lambda: table.to_csv(index=False).encode(),
            "webcam-session.csv",
            "text/csv",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun of the page
            key="live_dl_table",
            help="One row per face per analysed frame (the points kept for the charts).",
        )
        report_downloads_ui("Webcam session", "webcam-session", summary, table, key="live")
        if st.button("Discard", icon=":material/delete:", key="live_discard"):
            session.reset()
            _drop_replay()
            st.rerun()
    applied = face_names_ui(faces, key=names_key)
    if applied is not None:
        st.session_state[names_key] = applied
        st.rerun()
    summary_table_ui(faces, key="live-stopped")
    face_charts_ui(table, key="live-stopped", names=face_names(summary))


def _playable(replay: Replay | None) -> bool:
    return replay is not None and bool(replay.frames) and replay.error is None and replay.path.exists()


def replay_ui(replay: Replay | None) -> None:
    """The annotated video of the session, when a replay was asked for."""
    if replay is not None and replay.error:
        st.warning(f"No full replay: {replay.error}", icon=":material/videocam_off:")
    if replay is not None and _playable(replay):
        st.video(str(replay.path), format="video/mp4")


def replay_download_ui(replay: Replay | None) -> None:
    if replay is not None and _playable(replay):
        st.download_button(
            "Replay (MP4)",
            replay.path.read_bytes,
            "webcam-session.annotated.mp4",
            "video/mp4",
            icon=":material/download:",
            on_click="ignore",  # a download needs no rerun of the page
            key="live_dl_replay",
        )


def _drop_replay() -> None:
    """Forget the last replay and remove its file."""
    st.session_state.pop(REPLAY_KEY, None)
    files = st.session_state.pop(REPLAY_FILES_KEY, None)
    if files is not None:
        files.discard()


st.title("Live")
st.caption(
    "Your webcam, analysed frame by frame on this server: a box and identity per face, the dominant "
    "emotion, a probability bar per emotion and the blink count. Nothing is stored unless you save it."
)
pipeline_settings, display_settings = settings_ui()
session = _session()
session.configure(pipeline_settings, display_settings)
# one colour converter per browser session, used by its stream's one worker thread: it keeps its conversion context
# from frame to frame (frame.to_ndarray builds one per frame, about a fifth of a millisecond)
to_bgr = st.session_state.setdefault("live_to_bgr", VideoReformatter())


def _on_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """Runs on the stream's worker thread: no Streamlit calls here."""
    annotated = session.process(to_bgr.reformat(frame, format="bgr24").to_ndarray())
    return av.VideoFrame.from_ndarray(annotated, format="bgr24")


video_column, panel_column = st.columns([1, 1], gap="medium")  # side by side on a laptop screen
with video_column:
    ctx = webrtc_streamer(
        key="live",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": ice_servers()},
        media_stream_constraints={"video": True, "audio": False},
        video_frame_callback=_on_frame,
        async_processing=True,
    )
    camera_help_ui()
playing = bool(ctx.state.playing)
if playing and not st.session_state.get("live_was_playing"):
    session.reset()  # a new stream starts a new recording
    _drop_replay()
    if st.session_state.get("live_replay"):
        files = st.session_state[REPLAY_FILES_KEY] = PrivateFolder()
        session.start_replay(files.path / "replay.mp4")
    st.session_state["live_run"] = st.session_state.get("live_run", 0) + 1
st.session_state["live_was_playing"] = playing

if playing:
    with panel_column:
        st.fragment(run_every=REFRESH_S)(live_panel)(session, display_settings.emotions)
else:
    if session.snapshot().frames == 0:
        with panel_column:
            st.info(
                "Press START to share your webcam. The video is analysed on this server and sent back annotated; "
                "the readings appear here."
            )
    stopped_ui(session)

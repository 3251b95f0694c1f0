"""Live page: the browser webcam through streamlit-webrtc, analysed frame by frame by this session's
:class:`fer_core.live.LiveSession`; charts refresh from its snapshot while the stream runs."""

from __future__ import annotations

import logging
from datetime import datetime

import av
import pandas as pd
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from dashboard.common import classifier_or_stop, ice_servers, landmarks_or_stop
from dashboard.components import camera_help_ui, face_charts_ui, save_to_history_ui, summary_table_ui
from fer_core.detect import DetectorSettings
from fer_core.identity import SAME_PERSON
from fer_core.labels import EMOTIONS
from fer_core.live import DisplaySettings, LiveSession, LiveSnapshot
from fer_core.pipeline import PipelineSettings
from fer_core.timeline import plain_summary

log = logging.getLogger(__name__)

SESSION_KEY = "live_session"
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
        with st.expander("Advanced"):
            threshold = st.slider(
                "Detection threshold",
                -1.0,
                1.0,
                0.0,
                0.1,
                key="live_threshold",
                help="dlib's HOG score threshold: lower finds more (and less sure) faces.",
            )
            upsample = st.radio(
                "Detector upsampling",
                [0, 1],
                horizontal=True,
                key="live_upsample",
                help="1 finds faces half as small, at about 4x the detection time.",
            )
    settings = PipelineSettings(
        detector=DetectorSettings(threshold=float(threshold), upsample=int(upsample)),
        smoothing=SMOOTHING[steadiness],
        same_person=SAME_PERSON if recognise else 0.0,
        scene_cut=0.0,  # a webcam does not cut; a lamp switched on would end every face
        solo_hold_s=SOLO_HOLD_S,
    )  # one person alone who looks away stays one face
    return settings, DisplaySettings(emotions=tuple(e for e in EMOTIONS if e in emotions), landmarks=landmarks)


def _session() -> LiveSession:
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        session = st.session_state[SESSION_KEY] = LiveSession(classifier_or_stop(), landmarks=landmarks_or_stop())
    return session


def current_faces_table(snapshot: LiveSnapshot) -> pd.DataFrame:
    """The faces of the latest frame: identity, dominant emotion and probability, eyes, blinks."""
    rates = {s.track_id: s.blinks_per_minute for s in snapshot.summaries}
    rows = []
    for r in snapshot.current:
        rate = rates.get(r.track_id)
        rows.append(
            {
                "face": f"#{r.track_id}",
                "emotion": r.emotion,
                "probability": 100 * r.emotion_probability,
                "eyes": "closed" if r.eyes_closed else "open",
                "blinks": r.blink_count,
                "blinks/min": "after 5 s" if rate is None else f"{rate:.1f}",
            }
        )
    return pd.DataFrame(rows)


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
        st.dataframe(
            current_faces_table(snapshot),
            hide_index=True,
            width="stretch",
            column_config={
                "probability": st.column_config.ProgressColumn(
                    "probability", format="%.0f%%", min_value=0, max_value=100
                )
            },
        )
    if not snapshot.empty:
        face_charts_ui(snapshot.table(), emotions or EMOTIONS, key="live")


def stopped_ui(session: LiveSession) -> None:
    """After a stream: the summary, and save to the history or discard."""
    snapshot = session.snapshot()
    if snapshot.frames == 0:
        return
    st.subheader("Recording stopped")
    faces = snapshot.summary()["faces"]
    st.write(f"{snapshot.frames} frames over {snapshot.duration_s:.1f} s, {len(faces)} face(s).")
    for face in sorted(faces, key=lambda f: -f["time_on_screen_s"])[:3]:
        st.markdown(f"**{plain_summary(face)}**")
    summary_table_ui(faces, key="live-stopped")
    face_charts_ui(snapshot.table(), key="live-stopped")
    left, right = st.columns([3, 1])
    with left:
        save_to_history_ui(
            "live",
            f"Webcam {datetime.now():%Y-%m-%d %H:%M}",
            snapshot.summary(),
            snapshot.table(),
            key=f"live-{st.session_state.get('live_run', 0)}",
        )
    with right:
        if st.button("Discard", icon=":material/delete:", key="live_discard"):
            session.reset()
            st.rerun()


st.title("Live")
st.caption(
    "Your webcam, analysed frame by frame on this server: a box and identity per face, the dominant "
    "emotion, a probability bar per emotion and the blink count. Nothing is stored unless you save it."
)
pipeline_settings, display_settings = settings_ui()
session = _session()
session.configure(pipeline_settings, display_settings)


def _on_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """Runs on the stream's worker thread: no Streamlit calls here."""
    annotated = session.process(frame.to_ndarray(format="bgr24"))
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

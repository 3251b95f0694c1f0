"""Entry point of the dashboard: ``streamlit run dashboard/app.py``. Sets the page config, configures logging and
builds the navigation; each page is a script in ``dashboard/views``."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from dashboard import run_count
from dashboard.common import return_freed_frames_to_the_system, signed_in_user, sweep_uploads_once

VIEWS = Path(__file__).resolve().parent / "views"


def _configure_logging() -> None:
    if not logging.getLogger("fer_core").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        for name in ("fer_core", "dashboard"):
            logging.getLogger(name).addHandler(handler)
            logging.getLogger(name).setLevel(logging.INFO)


_configure_logging()
return_freed_frames_to_the_system()  # before any session's frames: bounded memory per live session
# the page icon is a file served by this app: a ":material/...:" icon would make every browser fetch it from Google
st.set_page_config(
    page_title="Facial emotion recognition", page_icon=str(Path(__file__).parent / "icon.png"), layout="wide"
)
sweep_uploads_once()  # uploads left by a server that was killed mid-analysis
signed_in_user()  # behind a login ($FER_USER_HEADER): a request without the person's name sees no page at all
navigation = st.navigation(
    [
        st.Page(VIEWS / "live.py", title="Live", icon=":material/videocam:", url_path="live", default=True),
        st.Page(VIEWS / "recorded.py", title="Recorded video", icon=":material/movie:", url_path="recorded"),
        st.Page(VIEWS / "model.py", title="Model", icon=":material/model_training:", url_path="model"),
        st.Page(VIEWS / "history.py", title="History", icon=":material/history:", url_path="history"),
    ]
)
run_count.use_for_webrtc()
run_count.run_counted(navigation.run)

"""The count of this session's finished script runs, kept by the script itself, for streamlit-webrtc.

streamlit-webrtc (0.79) resets a live stream's server side when the script ran twice without drawing its component
(the user went to another page and came back: the component was mounted again). It counts runs with Streamlit's
``script_run_count``, which the server's event loop raises as it sends each run's "finished" message. Pressing START
while a setting's rerun ran (on a busy server) made that count jump by two between two runs that both drew the
component, and the stream that had just started was ended (the page showed START again and no readings: 2 of 8
test runs here, and CI). :func:`run_counted` counts the runs as they end, in the script's own thread, and
:func:`use_for_webrtc` gives streamlit-webrtc that count.

A run cut short is not counted: by a rerun (RerunException), or stopped (StopException), which is how Streamlit
ends a run that a new one replaces when ``runner.fastReruns`` is on (off in .streamlit/config.toml), and also
``st.stop()``: a page that stops itself is not counted (it only delays the reset of a stream left on another
page until the next run).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

KEY = "finished_runs"


def finished_runs(session_info: object = None) -> int:
    """Full runs of the script that ended in this session: normally or with an error shown; not those cut short
    (a rerun, a stop) nor a fragment's runs. ``session_info``: unused (the signature streamlit-webrtc calls)."""
    return st.session_state.get(KEY, [0])[0]


def run_counted(run: Callable[[], None]) -> None:
    """``run()`` (the page), then count it as a finished run unless it was cut short."""
    counter = st.session_state.setdefault(KEY, [0])  # a list: counting writes no session state (no rerun check)
    try:
        run()
    except (RerunException, StopException):
        raise
    except BaseException:
        counter[0] += 1
        raise
    counter[0] += 1


def use_for_webrtc() -> None:
    """Make streamlit-webrtc read :func:`finished_runs` instead of Streamlit's count."""
    import streamlit_webrtc.component

    streamlit_webrtc.component.get_script_run_count = finished_runs

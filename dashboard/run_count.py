"""The count of this session's finished script runs, kept by the script itself, for streamlit-webrtc.

streamlit-webrtc (0.79) resets a live stream's server side when the script ran twice without drawing its component
(the user went to another page and came back: the component was mounted again). It counts runs with Streamlit's
``script_run_count``, which grows when the server's event loop sends a run's "finished" message, not when the run
ends: a run that starts before the previous one's message was sent (a setting changed just before START, on a busy
server) reads an old count, and the next run then sees two more and ends the stream that just started (the page
showed START again with no readings; seen in 2 of 8 test runs here and in CI). :func:`run_counted` counts the runs
as they end, in the script's own thread, and :func:`use_for_webrtc` gives streamlit-webrtc that count.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException

KEY = "finished_runs"


def finished_runs(session_info: object = None) -> int:
    """Full runs of the script that ended in this session (as Streamlit counts them: normally, by ``st.stop`` or
    with an error shown; not those cut short for a rerun, nor a fragment's runs). ``session_info``: unused (the
    signature streamlit-webrtc calls)."""
    return st.session_state.get(KEY, [0])[0]


def run_counted(run: Callable[[], None]) -> None:
    """``run()`` (the page), then count it as a finished run unless it was cut short for a rerun."""
    counter = st.session_state.setdefault(KEY, [0])  # a list: counting writes no session state (no rerun check)
    try:
        run()
    except RerunException:
        raise
    except BaseException:
        counter[0] += 1
        raise
    counter[0] += 1


def use_for_webrtc() -> None:
    """Make streamlit-webrtc read :func:`finished_runs` instead of Streamlit's lagging count."""
    import streamlit_webrtc.component

    streamlit_webrtc.component.get_script_run_count = finished_runs

"""The script's own count of finished runs (``dashboard.run_count``), which streamlit-webrtc reads to tell a page
that was left and opened again (its stream reset) from one rerun after another (its stream kept)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _app():
    import streamlit as st

    from dashboard.run_count import finished_runs, run_counted

    def page():
        st.markdown(f"finished before this run: {finished_runs()}")
        mode = st.session_state.pop("mode", None)
        if mode == "stop":
            st.stop()
        if mode == "error":
            raise ValueError("a page error, shown on the page")
        if mode == "rerun":
            st.rerun()  # cut short: not a finished run

    run_counted(page)


def _count(at: AppTest) -> int:
    return int(at.markdown[0].value.rsplit(" ", 1)[1])


def test_every_ended_run_counts_but_not_one_cut_short():
    at = AppTest.from_function(_app, default_timeout=30).run()
    assert _count(at) == 0
    assert _count(at.run()) == 1
    at.session_state["mode"] = "stop"  # StopException: also how Streamlit ends a run that a fast rerun replaces
    at.run()
    assert _count(at.run()) == 2
    at.session_state["mode"] = "error"
    at.run()
    assert at.exception  # the error is shown on the page, as Streamlit does
    assert _count(at.run()) == 4
    at.session_state["mode"] = "rerun"
    at.run()  # the cut run and the rerun it asked for, which reads the count before it
    assert _count(at) == 5
    assert _count(at.run()) == 6


def test_streamlit_webrtc_reads_this_count():
    import streamlit_webrtc.component

    from dashboard.run_count import finished_runs, use_for_webrtc

    use_for_webrtc()
    assert streamlit_webrtc.component.get_script_run_count is finished_runs

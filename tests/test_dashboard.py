"""Each dashboard page under ``streamlit.testing.v1.AppTest`` (no browser): it renders, handles bad input with a
clear message, and the history round trip works. The webrtc component is patched as STACK.md says."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fer_core.labels import EMOTIONS
from fer_core.model_file import NAMED_MODELS, model_identity, read_meta
from fer_core.detect import DetectorSettings
from fer_core.store import HistoryStore

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Each test gets its own history folder; the webrtc component runs without a browser session."""
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FER_MODEL_DIR", raising=False)
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    monkeypatch.delenv("FER_USER_HEADER", raising=False)
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_live_page_renders_settings_and_start_hint():
    at = _app()
    assert at.title[0].value == "Live"
    assert "Press START" in at.info[0].value
    assert at.sidebar.multiselect(key="live_emotions").value == [
        "Angry",
        "Disgust",
        "Fear",
        "Happy",
        "Sad",
        "Surprise",
        "Neutral",
    ]
    at.sidebar.toggle(key="live_landmarks").set_value(True)
    at.sidebar.slider(key="live_threshold").set_value(-0.5)
    at.run()
    assert not at.exception
    session = at.session_state["live_session"]
    assert session.display.landmarks and session.settings.detector.threshold == -0.5
    at.sidebar.radio(key="live_upsample").set_value(1)
    at.sidebar.radio(key="live_detector").set_value("BlazeFace")
    at.run()
    assert not at.exception and at.sidebar.slider(key="live_threshold").disabled
    assert session.settings.detector == DetectorSettings(model="blazeface")  # dlib's upsampling left behind


def test_live_page_offers_save_after_a_stream_and_saves(image_path, tmp_path):
    import cv2

    at = _app()
    session = at.session_state["live_session"]
    image = cv2.imread(str(image_path("happy_liveportrait_d0_t1.67.jpg")))
    for _ in range(3):
        session.process(image)
    at.run()
    assert "Recording stopped" in _texts(at)
    at.text_input(key="live-face-names-0-name-1").set_value("Me")
    _button(at, "Apply the names").click().run()
    assert not at.exception and "Face #1 Me: " in _texts(at)
    at.text_input(key="live-0-name").set_value("my webcam test")
    _button(at, "Save to history").click().run()
    assert not at.exception
    store = HistoryStore.in_folder(tmp_path / "data")
    entries = store.list()
    assert [(e.name, e.kind, e.faces) for e in entries] == [("my webcam test", "live", 1)]
    assert store.load(entries[0].id).summary["faces"][0]["name"] == "Me"
    assert store.load(entries[0].id).summary["model"] == model_identity(NAMED_MODELS["fast"])  # what made it
    at.button(key="live_discard").click().run()
    assert "Press START" in at.info[0].value


def test_recorded_page_rejects_a_text_file_and_keeps_serving():
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload("notes.mp4", b"this is not a video\n" * 10, "video/mp4")
    at.run()
    at.button(key="rec_analyse").click().run()
    assert not at.exception
    assert "cannot be read as a video" in at.error[0].value
    assert "upload.mp4" not in at.error[0].value and at.error[0].value.count("notes\\.mp4") == 2  # the user's name
    assert not at.get("progress") and not [b for b in at.button if b.label == "Cancel"]  # nothing left over
    at.file_uploader(key="rec_upload").upload("empty.mp4", b"", "video/mp4")
    at.run()
    at.button(key="rec_analyse").click().run()
    assert "cannot be read as a video" in at.error[0].value and "empty" in at.error[0].value
    at.switch_page("views/model.py").run()  # the app still serves other pages
    assert not at.exception and at.title[0].value == "Model"


def test_recorded_page_says_when_no_face_is_found():
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload("blank.mp4", _blank_video(), "video/mp4")
    at.run()
    at.button(key="rec_analyse").click().run()
    assert not at.exception
    assert "No face was found" in at.error[0].value
    assert "at least about 80 pixels wide" in at.error[0].value and "Small faces too" in at.error[0].value


def test_recorded_page_finds_small_faces_when_asked(video_path):
    data = Path(video_path("facenet_pytorch_multiface_street.mp4")).read_bytes()  # 1920x1080, faces 70-130 px
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload("street.mp4", data, "video/mp4")
    at.run()
    at.radio(key="rec_mode").set_value("Every n-th frame").run()
    at.number_input(key="rec_every").set_value(15).run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert "at least about 240 pixels wide" in at.error[0].value  # close-ups: searched at 640 pixels wide
    at.radio(key="rec_faces").set_value("Small faces too").run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert not at.exception and not at.error
    assert len(at.session_state["recorded_result"].summary["faces"]) >= 2


def test_recorded_page_analyses_with_blazeface_when_asked(video_path):
    data = Path(video_path("liveportrait_d18_surprise.mp4")).read_bytes()
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload("d18.mp4", data, "video/mp4")
    at.run()
    at.radio(key="rec_mode").set_value("Every n-th frame").run()
    at.number_input(key="rec_every").set_value(6).run()
    at.radio(key="rec_faces").set_value("Close-ups, faster").run()
    at.checkbox(key="rec_video").uncheck().run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert not at.exception and not at.error
    result = at.session_state["recorded_result"]
    scores = pd.read_csv(result.csv_path)["detection_score"]
    assert len(scores) == 36 and scores.between(0.5, 1.0).all()  # BlazeFace's probabilities (HOG's: 1.0-2.6 here)


def _blank_video() -> bytes:
    """A 1 s grey 64x64 H.264 MP4 with no face in it."""
    import io

    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_recorded_page_analyses_a_real_video_and_saves_it(video_path, tmp_path):
    data = Path(video_path("liveportrait_d18_surprise.mp4")).read_bytes()
    uploads_before = set(Path(tempfile.gettempdir()).glob("fer-upload-*"))
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload("d18 surprise!.mp4", data, "video/mp4")
    at.run()
    at.radio(key="rec_mode").set_value("Every n-th frame").run()
    at.number_input(key="rec_every").set_value(6).run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert not at.exception, at.exception
    result = at.session_state["recorded_result"]
    assert result.stem == "d18_surprise"
    assert result.summary["every"] == 6 and len(result.summary["faces"]) >= 1
    assert result.mp4_path.read_bytes()[4:8] == b"ftyp" and result.csv_path.read_bytes().startswith(b"time_s,")
    folder = result.mp4_path.parent  # the background job's results: <data>/jobs/<job id>/out
    assert result.files is None and folder.parent.parent == tmp_path / "data" / "jobs"
    assert oct(folder.parent.stat().st_mode)[-3:] == "700" and not list(folder.parent.glob("input*"))  # upload gone
    assert json.loads(result.summary_json)["faces"]
    assert "Results: d18 surprise\\!\\.mp4" in _texts(at)  # the name shown as written, Markdown escaped
    assert not at.get("progress") and not [b for b in at.button if b.label == "Cancel"]  # progress cleared
    assert not at.get("help")  # no stray expression drawn by Streamlit's magic (it once showed the models' docs)
    assert set(Path(tempfile.gettempdir()).glob("fer-upload-*")) <= uploads_before  # temporary files removed
    # the researcher names the face: the table and the history entry carry the name (markup dropped from it)
    names_form = next(k for k in at.session_state if str(k).startswith("rec-face-names-") and k.endswith("-name-1"))
    at.text_input(key=names_form).set_value("Candidate <b>A</b>")
    _button(at, "Apply the names").click().run()
    assert not at.exception
    assert at.dataframe[0].value["face"].tolist()[0] == "#1 Candidate bAb"
    _button(at, "Save to history").click().run()
    store = HistoryStore.in_folder(tmp_path / "data")
    entries = store.list()
    assert [(e.name, e.kind) for e in entries] == [("d18 surprise!.mp4", "video")]
    assert store.load(entries[0].id).summary["faces"][0]["name"] == "Candidate bAb"
    at.button(key="rec_analyse").click().run(timeout=300)  # the next analysis replaces the result on the page
    assert at.session_state["recorded_result"].mp4_path.parent != folder and folder.exists()  # the first is kept
    assert any("Your analyses (2, kept for a day)" in e.label for e in at.expander)
    assert _texts(at).count("d18 surprise\\!\\.mp4**: done: with the annotated video (") == 2


def test_the_job_list_says_what_each_job_does_and_holds():
    from dashboard.views.recorded import job_words

    from fer_core.jobs import Job

    def job(status: str, **options) -> Job:
        return Job(
            "id", "owner", "a.mp4", json.dumps(options), status, 120, 1856, 0.0, None, None, "", "", 0.0, Path("/x")
        )

    assert job_words(job("queued", every=1, video=True)) == "waiting"
    assert job_words(job("running", every=1, video=False)) == "120 of 1856 frames"
    assert job_words(job("running", draw_over="/x", replaces="a")) == "drawing the annotated video, 120 of 1856 frames"
    assert job_words(job("done", video=False, model="accurate")) == "done: tables and charts, accurate model"
    assert job_words(job("done", video=True, model="fast")) == "done: with the annotated video"
    assert job_words(job("done", draw_over="/x", model="fast")) == "done: with the annotated video"
    assert job_words(job("failed", video=True)) == "failed"


def test_a_recorded_result_takes_its_files_with_it():
    """Issue 18, item 11: the annotated video stays on disk, not in the session (three in-memory copies before);
    when Streamlit drops a closed session's state, the result's files go with it."""
    import gc

    from dashboard.common import PrivateFolder, RecordedResult

    files = PrivateFolder()
    folder = files.path
    (folder / "annotated.mp4").write_bytes(b"video")
    result = RecordedResult("a.mp4", "a", {}, None, b"{}", files, folder / "table.csv", folder / "annotated.mp4")
    del files
    assert folder.exists()
    del result
    gc.collect()
    assert not folder.exists()


def test_model_page_shows_the_run_record():
    at = _app("model")
    assert not at.exception
    assert at.title[0].value == "Model"
    assert any("Serving time per face" in m.label for m in at.metric)
    assert "Split:" in _texts(at)
    # the fast model reads unsure faces twice: the card and the serving time say how often
    share = f"{json.loads((NAMED_MODELS['fast'] / 'metrics.json').read_text())['read_twice']:.0%}"
    assert "horizontal flip where unsure" in at.table[0].value.to_string()
    assert f"{share} of the validation faces" in at.table[0].value.to_string()
    assert any(f"{share} of the validation faces" in c.value for c in at.caption)


def _accuracy(model: str) -> str:
    """The PublicTest accuracy of a shipped model as the pages show it, e.g. "71.8%"."""
    return f"{json.loads((NAMED_MODELS[model] / 'metrics.json').read_text())['accuracy']:.1%}"


def test_model_page_shows_the_accurate_model():
    at = _app("model")
    at.radio(key="model_choice").set_value("accurate").run()
    assert not at.exception
    card = at.table[0].value.to_string()
    assert read_meta(NAMED_MODELS["accurate"]).name in card and "int8" in card and _accuracy("accurate") in card
    assert any("Serving time per face" in m.label for m in at.metric)


def test_recorded_page_analyses_with_the_accurate_model(video_path):
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload(
        "d18.mp4", Path(video_path("liveportrait_d18_surprise.mp4")).read_bytes(), "video/mp4"
    )
    at.run()
    assert _accuracy("accurate") in at.radio(key="rec_model").format_func("accurate")
    at.radio(key="rec_model").set_value("accurate").run()
    at.radio(key="rec_mode").set_value("Every n-th frame").run()
    at.number_input(key="rec_every").set_value(6).run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert not at.exception, at.exception
    result = at.session_state["recorded_result"]
    assert result.summary["emotion_model"] == "accurate" and result.summary["faces"]


def test_a_missing_model_gives_a_page_message_and_the_app_keeps_serving(tmp_path, monkeypatch):
    broken = tmp_path / "model"
    broken.mkdir()
    monkeypatch.setenv("FER_MODEL_DIR", str(broken))
    at = _app()
    assert "emotion model cannot be loaded" in at.error[0].value and "model.json" in at.error[0].value
    at.switch_page("views/model.py").run()
    assert not at.exception and at.warning  # missing run files are named
    at.switch_page("views/history.py").run()
    assert not at.exception and "Nothing saved yet" in at.info[0].value


def test_a_corrupt_model_file_gives_a_page_message(tmp_path, monkeypatch):
    from fer_core.model_file import DEFAULT_MODEL_DIR

    broken = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, broken)
    (broken / "emotion.tflite").write_bytes(b"not a model")
    monkeypatch.setenv("FER_MODEL_DIR", str(broken))
    at = _app()
    assert "emotion model cannot be loaded" in at.error[0].value


def _one_frame_entry():
    """The table and face summary of a one-frame, one-face history entry."""
    import pandas as pd

    table = pd.DataFrame(
        {"time_s": [0.0], "track_id": [1], "blink_count": [0], **{f"p_{e.lower()}": [1 / 7] for e in EMOTIONS}}
    )
    face = {
        "track_id": 1,
        "time_on_screen_s": 1.0,
        "frames": 1,
        "dominant_emotion": "Happy",
        "emotion_share": {"Happy": 1.0},
        "blink_count": 0,
        "blinks_per_minute": None,
    }
    return table, face


def test_history_page_lists_opens_compares_and_deletes(tmp_path):
    import pandas as pd

    store = HistoryStore.in_folder(tmp_path / "data")
    table = pd.DataFrame(
        {
            "time_s": [0.0, 6.0],
            "track_id": [1, 1],
            "blink_count": [0, 2],
            **{f"p_{e}": [0.1, 0.1] for e in ("angry", "disgust", "fear", "sad", "surprise", "neutral")},
            "p_happy": [0.4, 0.4],
        }
    )
    face = {
        "track_id": 1,
        "time_on_screen_s": 6.0,
        "frames": 2,
        "dominant_emotion": "Happy",
        "emotion_share": {"Happy": 1.0},
        "blink_count": 2,
        "blinks_per_minute": 20.0,
    }
    earlier = {**model_identity(NAMED_MODELS["accurate"]), "sha256": "0123456789abcdef"}  # weights since replaced
    first = store.save("first", "video", {"faces": [face], "duration_s": 6.0, "model": earlier}, table)
    second = store.save("second", "live", {"faces": [dict(face, emotion_share={"Sad": 1.0})]}, table)
    at = _app("history")
    assert not at.exception
    assert len(at.dataframe) >= 2
    assert at.selectbox(key="history_open").value == second
    at.selectbox(key="history_open").set_value(first).run()
    assert not at.exception
    assert any("accurate model, an earlier version" in c.value for c in at.caption)
    at.text_input(key=f"history-name-{first}").set_value("first, renamed")
    next(b for b in at.button if b.label == "Rename").click().run()
    assert not at.exception and f"Renamed entry {first}" in _texts(at)
    assert store.load(first).info.name == "first, renamed"
    at.button(key=f"history-delete-{first}").click().run()
    assert not at.exception and "for good?" in _texts(at)  # asks first ...
    at.button(key=f"history-delete-no-{first}").click().run()
    assert [e.id for e in store.list()] == [second, first]  # ... and keeps it when told so
    at.button(key=f"history-delete-{first}").click().run()
    at.button(key=f"history-delete-yes-{first}").click().run()
    assert not at.exception
    assert f"Deleted entry {first}" in _texts(at)
    assert [e.id for e in store.list()] == [second]


def test_history_names_are_shown_as_written_never_as_markdown(tmp_path):
    """A name like an image link must not make viewers' browsers fetch anything (issue 18)."""

    from dashboard.common import plain_markdown

    store = HistoryStore.in_folder(tmp_path / "data")
    table, face = _one_frame_entry()
    evil = "![p](http://tracker.example/pixel.png) [link](http://x.example) :material/home: <img src=x>"
    store.save(evil, "video", {"faces": [face], "duration_s": 1.0}, table)
    store.save("plain", "video", {"faces": [face], "duration_s": 1.0}, table)
    at = _app("history")
    assert not at.exception
    texts = _texts(at)
    assert plain_markdown(evil) in texts
    unescaped = re.findall(r"(?<!\\)\]\(http|(?<!\\)<img", texts)  # a link target or a tag Markdown would render
    assert not unescaped, texts


def test_plain_markdown_escapes_every_markdown_construct():
    from dashboard.common import plain_label, plain_markdown

    assert plain_markdown("a_b *c* [d](e) `f` #g :h: $i$ <j>") == r"a\_b \*c\* \[d\]\(e\) \`f\` \#g \:h\: \$i\$ \<j\>"
    assert plain_markdown("Interview 3 with Ana") == "Interview 3 with Ana"
    assert plain_label('<a href="http://x">y</a>') == '&lt;a href="http://x"&gt;y&lt;/a&gt;'


def test_ice_servers_come_from_the_environment(monkeypatch):
    from dashboard.common import ice_servers

    assert ice_servers() == []
    monkeypatch.setenv("FER_ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    assert ice_servers() == [{"urls": ["stun:stun.example.org:3478"]}]
    monkeypatch.setenv("FER_ICE_SERVERS", "{not json")
    with pytest.raises(ValueError):
        ice_servers()


@pytest.mark.parametrize(
    "name, stem",
    [
        ("../../etc/passwd.mp4", "passwd"),
        ("..\\..\\Windows\\win.ini", "win"),
        ("/abs/path/interview 1.mov", "interview_1"),
        ("..", "video"),
        ("", "video"),
        ("ünïcødé?*:|<>.mp4", "n_c_d"),
    ],
)
def test_an_uploaded_name_never_becomes_a_path(name, stem):
    from dashboard.common import safe_stem

    assert safe_stem(name) == stem
    assert "/" not in safe_stem(name) and "\\" not in safe_stem(name) and ".." not in safe_stem(name)


def _face_rows(times, blinks):
    import pandas as pd

    from fer_core.labels import EMOTIONS

    return pd.DataFrame(
        {
            "track_id": 1,
            "time_s": times,
            "blink_count": blinks,
            **{f"p_{e.lower()}": 1.0 / len(EMOTIONS) for e in EMOTIONS},
        }
    )


def test_a_face_away_for_a_while_breaks_its_timeline_and_is_not_timed_meanwhile():
    import numpy as np

    from dashboard.charts import emotion_timeline
    from fer_core.timeline import blink_rate_series

    times = list(np.arange(0, 6, 0.5)) + list(np.arange(20, 26, 0.5))  # away from 5.5 s to 20 s
    table = _face_rows(times, [0] * 12 + [3] * 12)
    happy = next(t for t in emotion_timeline(table, 1).data if t.name == "Happy")
    assert len(happy.x) == 25 and np.isnan(happy.y[12]) and 5.5 < happy.x[12] < 20  # the line breaks in the gap
    rates = blink_rate_series(table)
    assert rates["blinks_per_minute"].iloc[-1] == pytest.approx(60 * 3 / 11.0)  # 11 s on screen, not 25.5


def test_uploads_left_by_a_killed_server_are_swept_at_start(tmp_path):
    """Issue 18, item 6: a server killed mid-analysis leaves its upload folder; the next start removes it, and
    never the folder of an analysis that is still running."""
    import os
    import time

    from dashboard.common import OWNER_FILE, UPLOAD_PREFIX, sweep_stale_uploads

    def folder(name: str, pid: int | None, age_s: float = 0.0):
        path = tmp_path / f"{UPLOAD_PREFIX}{name}"
        path.mkdir()
        (path / "upload.mp4").write_bytes(b"an interview")
        if pid is not None:
            (path / OWNER_FILE).write_text(str(pid))
        stamp = time.time() - age_s
        os.utime(path, (stamp, stamp))
        return path

    dead, running = folder("dead", 999_999_999), folder("running", os.getpid())
    old, new = folder("old", None, age_s=7200), folder("new", None)
    (tmp_path / "someone-elses").mkdir()
    assert sorted(p.name for p in sweep_stale_uploads(tmp_path)) == sorted([dead.name, old.name])
    assert running.exists() and new.exists() and (tmp_path / "someone-elses").exists()
    assert not dead.exists() and not old.exists()


def test_history_page_survives_a_damaged_entry_and_a_broken_database(tmp_path, monkeypatch):
    import sqlite3

    store = HistoryStore.in_folder(tmp_path / "data")
    table, face = _one_frame_entry()
    good = store.save("good", "video", {"faces": [face], "duration_s": 1.0}, table)
    bad = store.save("bad", "video", {"faces": [face], "duration_s": 1.0}, table)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE entries SET summary_json = '{not json' WHERE id = ?", (bad,))
    at = _app("history")
    assert not at.exception
    assert f"damaged and cannot be shown: {bad}" in _texts(at)
    assert at.selectbox(key="history_open").value == good
    # the same entry on both sides of "Compare two" (issue 16): a message, not a duplicate-key traceback
    store.save("second", "video", {"faces": [face], "duration_s": 1.0}, table)
    at = _app("history")
    at.selectbox(key="history_b").set_value(at.selectbox(key="history_a").value).run()
    assert not at.exception and "Choose two different entries" in _texts(at)
    # a data folder whose database is not one: a message naming the way out
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "history.sqlite3").write_bytes(b"not a database " * 200)
    monkeypatch.setenv("FER_DATA_DIR", str(broken))
    at = _app("history")
    assert not at.exception and "move it aside" in at.error[0].value


FRAMES_IN_THREADS = """
import sys, threading
import numpy as np
if sys.argv[1] == "on":
    from dashboard.common import return_freed_frames_to_the_system
    assert return_freed_frames_to_the_system()
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
def frames():
    held = [np.ones((480, 640, 3), np.uint8) for _ in range(40)]  # one stream thread's frames in flight
    del held
before = rss_mb()
for _ in range(2):
    threads = [threading.Thread(target=frames) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
print(rss_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc (Linux)")
def test_frames_freed_by_stream_threads_go_back_to_the_system():
    """Four threads holding 40 frames each, twice: with the server's heap setting nothing stays resident after they
    end (without it glibc kept 47-73 MB of them in the threads' heaps)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-c", FRAMES_IN_THREADS, "on"], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) < 15, f"{run.stdout.split()[-1]} MB of freed frames still resident"


def test_recorded_page_without_the_annotated_video(video_path, tmp_path):
    """Issue 15: the annotated video is optional; without it the page shows the same results, offers no video to
    download, and draws it on request from the upload the page still holds."""
    data = Path(video_path("wifs2018_demo_0001_blink.mp4")).read_bytes()
    at = _app("recorded")
    at.file_uploader(key="rec_upload").upload("blink.mp4", data, "video/mp4")
    at.run()
    at.checkbox(key="rec_video").uncheck().run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert not at.exception, at.exception
    result = at.session_state["recorded_result"]
    assert result.mp4_path is None and result.csv_path.read_bytes().startswith(b"time_s,")
    assert not list(result.csv_path.parent.glob("*.mp4"))
    assert len(result.summary["faces"]) == 1 and result.summary["faces"][0]["blink_count"] >= 1
    assert any("it can be drawn now" in i.value for i in at.info)
    assert not any("play the video" in t for t in _texts(at))  # no video to seek in
    labels = [str(b.proto.label) for b in at.get("download_button")]
    assert "Table (CSV)" in labels and not [label for label in labels if "video" in label.lower()]
    # the upload is still in the page: the video can be drawn now, as a job that then holds the whole result
    at.button(key="rec_draw").click().run(timeout=300)
    assert not at.exception, at.exception
    drawn = at.session_state["recorded_result"]
    assert drawn.mp4_path is not None and drawn.mp4_path.read_bytes()[4:8] == b"ftyp"
    assert drawn.job_id != result.job_id and not result.csv_path.exists()  # the earlier job is replaced
    assert drawn.table.equals(result.table)
    assert "Annotated video (MP4)" in [str(b.proto.label) for b in at.get("download_button")]


def _face_choice_page():
    import pandas as pd
    import streamlit as st

    from dashboard.components import face_choice_ui

    table = pd.DataFrame({"track_id": [1] * 50 + [2] * 30 + [3] * 10})  # face 1 seen longest
    st.session_state["shown"] = face_choice_ui(table, "live", present=st.session_state.get("present", set()))


def test_the_live_chart_follows_the_faces_on_screen_until_one_is_picked(monkeypatch):
    # the script run becomes __main__; put the real one back after, or processes spawned by later tests run it
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_function(_face_choice_page, default_timeout=TIMEOUT)
    at.session_state["present"] = {1, 2}
    at.run()
    assert at.session_state["shown"] == 1  # the longest seen of those on screen
    at.session_state["present"] = {2, 3}  # face 1 left
    at.run()
    assert at.session_state["shown"] == 2  # the chart moves to the longest seen of those on screen
    at.session_state["present"] = set()
    at.run()
    assert at.session_state["shown"] == 1  # nobody on screen: the face seen longest
    at.button_group[0].set_value(3).run()  # the user picks face 3
    assert at.session_state["shown"] == 3
    at.session_state["present"] = {1, 2}
    at.run()
    assert at.session_state["shown"] == 3  # and it stays, whoever is on screen


@pytest.mark.parametrize("page", [None, "history", "recorded"])
def test_behind_a_login_a_request_without_the_persons_name_sees_nothing(monkeypatch, tmp_path, page):
    """With $FER_USER_HEADER set, a request that did not come through the login (no such header: AppTest sends
    none) gets the message and no page: no history entry, no job list, no camera. The people behind the login:
    tests/browser_e2e.py (a real browser sends the header)."""
    HistoryStore.in_folder(tmp_path / "data").save("someone's interview", "video", {"faces": []}, pd.DataFrame())
    monkeypatch.setenv("FER_USER_HEADER", "X-Forwarded-User")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception
    assert "X-Forwarded-User" in _texts(at) and "came without it" in _texts(at)
    assert "someone" not in _texts(at) and not at.dataframe and not at.title  # nothing of any page


def test_history_follows_practice_sessions_over_time(tmp_path):
    """Someone practising saves several live sessions: the Over time tab shows them oldest first, each one's share
    of time per emotion (all its faces) and its blink rate; recorded videos are a separate series."""
    from datetime import datetime, timedelta, timezone

    store = HistoryStore.in_folder(tmp_path / "data")
    probabilities = {f"p_{e}": [0.1, 0.1] for e in ("angry", "disgust", "fear", "sad", "surprise", "neutral")}
    table = pd.DataFrame({"time_s": [0.0, 6.0], "track_id": 1, "blink_count": [0, 1], **probabilities, "p_happy": 0.4})
    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

    def face(happy: float, rate: float | None) -> dict:
        share = {"Happy": happy, "Neutral": 1.0 - happy}
        return {
            "track_id": 1,
            "time_on_screen_s": 60.0,
            "frames": 100,
            "emotion_share": share,
            "blinks_per_minute": rate,
        }

    # saved out of order: the tab sorts them by when they were saved
    store.save("third", "live", {"faces": [face(0.6, 14.0)]}, table, created_at=start + timedelta(days=2))
    store.save("first", "live", {"faces": [face(0.2, 30.0)]}, table, created_at=start)
    store.save("a video", "video", {"faces": [face(0.9, None)]}, table, created_at=start + timedelta(days=1))
    store.save("second", "live", {"faces": [face(0.4, None)]}, table, created_at=start + timedelta(days=1))
    at = _app("history")
    assert not at.exception
    charts = {c.proto.id.split("-", 2)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    shares = next(spec for key, spec in charts.items() if "history-trend-shares" in key)
    happy = next(trace for trace in shares["data"] if trace["name"] == "Happy")
    assert [x.split(": ")[1].split(" (")[0] for x in happy["x"]] == ["first", "second", "third"]
    assert happy["y"] == [0.2, 0.4, 0.6]
    blinks = next(spec for key, spec in charts.items() if "history-trend-blinks" in key)
    (line,) = [trace for trace in blinks["data"] if trace.get("mode") == "lines+markers"]
    assert [x.split(": ")[1].split(" (")[0] for x in line["x"]] == ["first", "third"] and line["y"] == [30.0, 14.0]
    at.radio(key="history_trend_kind").set_value("video").run()
    assert not at.exception and "Save at least two recorded videos" in _texts(at)


def test_history_entry_faces_can_be_named_and_the_report_says_so(tmp_path):
    from dashboard.report import report_html

    store = HistoryStore.in_folder(tmp_path / "data")
    probabilities = {f"p_{e}": [0.1, 0.1] for e in ("angry", "disgust", "fear", "sad", "surprise", "neutral")}
    table = pd.DataFrame({"time_s": [0.0, 6.0], "track_id": 2, "blink_count": [0, 1], **probabilities, "p_happy": 0.4})
    face = {"track_id": 2, "time_on_screen_s": 6.0, "frames": 2, "dominant_emotion": "Happy", "blink_count": 1}
    entry = store.save("session", "video", {"faces": [dict(face, emotion_share={"Happy": 1.0})]}, table)
    at = _app("history")
    at.text_input(key=f"history-{entry}-name-2").set_value("Interviewer")
    _button(at, "Apply the names").click().run()
    assert not at.exception
    saved = store.load(entry)
    assert saved.summary["faces"][0]["name"] == "Interviewer"
    assert at.dataframe[1].value["face"].tolist() == ["#2 Interviewer"]  # [0] is the list of entries
    report = report_html("session", saved.summary, saved.table)
    assert "Face #2 Interviewer: mostly Happy" in report and "#2 Interviewer: emotion over time" in report


def test_every_history_entry_exports_as_one_table_of_faces(tmp_path):
    """A study's sessions in one spreadsheet: one row per face of every entry, the entry named on each row."""
    from dashboard.components import all_faces_table

    store = HistoryStore.in_folder(tmp_path / "data")
    face = {"track_id": 1, "time_on_screen_s": 60.0, "frames": 100, "dominant_emotion": "Happy", "blink_count": 12}
    two = {"faces": [dict(face, emotion_share={"Happy": 1.0}), dict(face, track_id=2, name="Candidate")]}
    first = store.save("session A", "video", two, pd.DataFrame())
    second = store.save(
        "session B", "live", {"faces": [dict(face, emotion_share={"Sad": 0.5, "Neutral": 0.5})]}, pd.DataFrame()
    )
    empty = store.save("no face", "live", {"faces": []}, pd.DataFrame())
    table = all_faces_table(store, store.list())
    assert table["entry_id"].tolist() == [second, first, first]  # newest entry first; the faceless one has no row
    assert table["entry_name"].tolist() == ["session B", "session A", "session A"]
    assert table["name"].tolist() == ["", "", "Candidate"] and table["share_sad"].tolist() == [0.5, 0.0, 0.0]
    assert list(table.columns[:5]) == ["entry_id", "entry_name", "kind", "saved_utc", "track_id"]
    assert all_faces_table(store, [e for e in store.list() if e.id == empty]).empty

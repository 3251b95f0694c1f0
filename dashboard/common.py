"""What several pages share: settings read from the environment / secrets, cached heavy resources (the emotion
classifier, the history store) and the message shown when the model files are missing."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from fer_core.batch import default_workers
from fer_core.classifier import EmotionClassifier
from fer_core.detect import DetectorSettings
from fer_core.errors import ModelFileError
from fer_core.identity import FaceDescriber
from fer_core.jobs import JobQueue, analysis_runner
from fer_core.landmarks import LandmarkPredictor
from fer_core.live import shared_turns
from fer_core.models import SharedClassifier, SharedDescriber, SharedLandmarks
from fer_core.model_file import DEFAULT_MODEL_DIR, MODEL_FILE, MODEL_META, NAMED_MODELS
from fer_core.outputs import process_alive
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.store import HistoryStore, default_data_dir

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "FER_MODEL_DIR"
ICE_SERVERS_ENV = "FER_ICE_SERVERS"


def model_dir(choice: str = "fast") -> Path:
    """The folder of the emotion model ``choice`` ("fast" or "accurate", see ``NAMED_MODELS``); the fast model's
    folder can be replaced with ``$FER_MODEL_DIR``."""
    if choice == "fast":
        return Path(os.environ.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR)
    return NAMED_MODELS[choice]


def model_accuracy(choice: str) -> float | None:
    """The recorded PublicTest accuracy of model ``choice`` (its ``metrics.json``), None when unreadable."""
    try:
        return float(json.loads((model_dir(choice) / "metrics.json").read_text())["accuracy"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_stamp(folder: Path) -> tuple:
    """Changes when the model files change, so a new model dropped into the folder is loaded without a restart."""
    stamp = []
    for name in (MODEL_FILE, MODEL_META):
        path = folder / name
        stamp.append((name, path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else (name, None))
    return tuple(stamp)


@st.cache_resource(show_spinner="Loading the emotion model...", max_entries=4)
def _load_classifier(folder: str, stamp: tuple) -> SharedClassifier:
    log.info("loading the emotion model from %s", folder)
    return SharedClassifier(EmotionClassifier(folder))


def load_classifier(choice: str = "fast") -> SharedClassifier:
    """The shared classifier (one per model file, for every session); raises :class:`ModelFileError`."""
    folder = model_dir(choice)
    return _load_classifier(str(folder), model_stamp(folder))


@st.cache_resource(show_spinner="Loading the landmark model...")
def shared_landmarks() -> SharedLandmarks:
    """dlib's 68-point landmark model (about 100 MB), loaded once for every session of this server."""
    log.info("loading the landmark model")
    return SharedLandmarks(LandmarkPredictor())


@st.cache_resource(show_spinner=False)
def live_turns() -> threading.BoundedSemaphore:
    """The turns this server's live sessions take analysing frames: as many at once as cores less one, at least one
    (:func:`fer_core.live.shared_turns`)."""
    return shared_turns(default_workers() - 1)


@st.cache_resource(show_spinner="Loading the face recognition model...")
def shared_describer() -> SharedDescriber:
    """dlib's face descriptor network (about 22 MB), loaded once for every session of this server."""
    log.info("loading the face descriptor model")
    return SharedDescriber(FaceDescriber())


def classifier_or_stop(choice: str = "fast") -> SharedClassifier:
    """The shared classifier, or a page message saying what is wrong and how to fix it (the page stops there;
    the rest of the app keeps serving)."""
    return _or_stop(lambda: load_classifier(choice), "emotion")


def landmarks_or_stop() -> SharedLandmarks:
    """The shared landmark model, or a page message as for :func:`classifier_or_stop`."""
    return _or_stop(shared_landmarks, "landmark")


def describer_or_stop() -> SharedDescriber:
    """The shared face descriptor model, or a page message as for :func:`classifier_or_stop`."""
    return _or_stop(shared_describer, "face recognition")


def _or_stop(load, what: str):
    try:
        return load()
    except ModelFileError as exc:
        log.warning("%s model unavailable: %s", what, exc)
        st.error(f"The {what} model cannot be loaded: {exc}", icon=":material/error:")
        st.stop()


def data_dir() -> Path:
    """Where the history database lives: ``$FER_DATA_DIR`` or ``data/`` in the repository."""
    return default_data_dir()


@st.cache_resource(max_entries=4)
def _store(folder: str) -> HistoryStore:
    return HistoryStore.in_folder(folder)


def history_store() -> HistoryStore:
    """The history, acting for the signed-in person when the server knows who that is (:func:`signed_in_user`)."""
    return _store(str(data_dir())).for_owner(signed_in_user())


USER_HEADER_ENV = "FER_USER_HEADER"


def signed_in_user() -> str | None:
    """Who is using this session, as the login in front of the server says: the request header named by
    ``$FER_USER_HEADER`` (e.g. ``X-Forwarded-User`` from oauth2-proxy, or nginx's ``$remote_user`` passed on in a
    header of your choice). Unset (the default): None, one history shared by whoever opens the app. Set but missing
    from the request (the page was reached around the login): the page stops with a message, showing nothing."""
    header = os.environ.get(USER_HEADER_ENV, "").strip()
    if not header:
        return None
    user = (st.context.headers.get(header) or "").strip()
    if not user:
        st.error(
            f"This server shows each person their own history and analyses, from the `{header.replace('`', '')}` "
            "header that its login adds to every request, and this request came without it. Open the app through "
            "the login's address; if you run the server, check that the proxy passes that header on (WebSockets "
            "included).",
            icon=":material/lock:",
        )
        st.stop()
    return user


def ice_servers() -> list[dict]:
    """WebRTC ICE servers: ``$FER_ICE_SERVERS`` (JSON list) or ``ice_servers`` in ``.streamlit/secrets.toml``.
    Empty by default, so nothing reaches outside the machine; a deployed server behind NAT sets STUN/TURN here,
    e.g. ``[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]``."""
    raw = os.environ.get(ICE_SERVERS_ENV)
    if raw:
        try:
            servers = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"${ICE_SERVERS_ENV} is not valid JSON: {exc}") from exc
    else:
        try:
            servers = st.secrets.get("ice_servers", [])
        except (FileNotFoundError, StreamlitSecretNotFoundError):
            servers = []
    if not isinstance(servers, list):
        raise ValueError(f"ICE servers must be a list of {{'urls': ...}} objects, got {type(servers).__name__}")
    return [dict(s) for s in servers]


def safe_stem(name: str) -> str:
    """A file-name stem made only of letters, digits, ``-`` and ``_`` from a name a browser sent (for download
    names; an uploaded file's name never becomes a path)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name.replace("\\", "/")).stem).strip("_")
    return (stem or "video")[:60]


def plain_markdown(text: str) -> str:
    """``text`` (a name a user typed) escaped so that Markdown shows it as written: no link, image, emphasis,
    emoji or icon shortcode, HTML or LaTeX is rendered (CommonMark backslash escapes of ASCII punctuation)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=])", r"\\\1", text)


def plain_label(text: str) -> str:
    """``text`` made safe as a Plotly label (Plotly renders a subset of HTML: links, styles)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


UPLOAD_PREFIX = "fer-upload-"
RESULTS_PREFIX = "fer-results-"
OWNER_FILE = "owner.pid"


def new_upload_folder() -> tempfile.TemporaryDirectory:
    """A private temporary folder for one upload and its analysis, marked with this server's process id so that a
    later start can tell it was left behind (removed by the caller's ``with`` when the analysis ends)."""
    folder = tempfile.TemporaryDirectory(prefix=UPLOAD_PREFIX)
    (Path(folder.name) / OWNER_FILE).write_text(str(os.getpid()))
    return folder


def new_results_folder() -> Path:
    """A private (0700) temporary folder for one finished analysis's files, marked like an upload folder; its
    owner removes it (see ``RecordedResult``), a later start sweeps it if the server died first."""
    folder = Path(tempfile.mkdtemp(prefix=RESULTS_PREFIX))
    (folder / OWNER_FILE).write_text(str(os.getpid()))
    return folder


class PrivateFolder:
    """A private (0700) temporary folder of this server (:func:`new_results_folder`) for files shown to one
    session, removed with this object: by :meth:`discard`, when the session drops it (its next analysis or
    recording, or the session's end), when the server stops, or by the start-up sweep after a crash."""

    def __init__(self) -> None:
        self.path = new_results_folder()
        self._remove = weakref.finalize(self, shutil.rmtree, self.path, True)

    def discard(self) -> None:
        """Remove the folder and its files now."""
        self._remove()


@dataclass(frozen=True, eq=False)
class RecordedResult:
    """A finished analysis: the uploaded file's name (display only), a safe stem for download names, the JSON
    summary, the records table, and the CSV table and annotated MP4 on disk in ``files`` (the upload itself is
    gone). The files are read only when played or downloaded, and go with the result (see :class:`PrivateFolder`)."""

    source_name: str
    stem: str
    summary: dict
    table: pd.DataFrame
    summary_json: bytes
    files: PrivateFolder | None  # None: the files belong to a background job (fer_core.jobs), kept with it
    csv_path: Path
    mp4_path: Path | None  # None: analysed without the annotated video
    job_id: str | None = None  # the background job (fer_core.jobs) that holds the files

    def discard(self) -> None:
        """Remove the files now (the result can no longer be played or downloaded); a job's files stay with it."""
        if self.files is not None:
            self.files.discard()


def sweep_stale_uploads(root: str | Path | None = None, unmarked_after_s: float = 3600.0) -> list[Path]:
    """Remove the upload and results folders that a stopped or killed server left in the temporary folder: those
    whose server process is gone, and unmarked ones older than ``unmarked_after_s``. Returns what was removed."""
    removed = []
    root = Path(root or tempfile.gettempdir())
    for folder in [*root.glob(f"{UPLOAD_PREFIX}*"), *root.glob(f"{RESULTS_PREFIX}*")]:
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            pid = int((folder / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            pid = 0
        try:
            stale = not process_alive(pid) if pid else time.time() - folder.stat().st_mtime > unmarked_after_s
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("removed %d upload or results folder(s) left by a stopped server", len(removed))
    return removed


@st.cache_resource(show_spinner=False)
def sweep_uploads_once() -> int:
    """:func:`sweep_stale_uploads` once per server process (the first page load after a start)."""
    return len(sweep_stale_uploads())


# glibc's mallopt parameter M_MMAP_THRESHOLD, and the size from which a block gets its own mapping with it
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 * 1024


@st.cache_resource(show_spinner=False)
def return_freed_frames_to_the_system() -> bool:
    """Once per server process: blocks of 256 KiB or more (a 640x480 frame is 900 KiB) get their own memory
    mapping, given back to the system when freed. glibc's default threshold rises to 32 MiB after the first such
    block is freed, after which every live session's threads keep the frames they ever held in their own heaps
    (bench/RESULTS.md, session 7). False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


JOB_OWNER_PARAM = "u"  # the page's address carries the owner token, so a reopened tab finds its analyses


@st.cache_resource(show_spinner=False, max_entries=4)
def _job_queue(folder: str, keep_s: float) -> JobQueue:
    """One background-analysis queue per server and data folder: one worker thread, on the models the pages share
    (an emotion model per choice is loaded by the worker when a job first asks for it)."""
    landmarks, describer = shared_landmarks(), shared_describer()
    classifiers: dict[str, SharedClassifier] = {}

    def pipeline_for(options: dict) -> FramePipeline:
        choice = str(options.get("model", "fast"))
        folder = model_dir(choice)
        if choice not in classifiers:
            classifiers[choice] = SharedClassifier(EmotionClassifier(folder))
        detector = (
            DetectorSettings.small_faces()
            if options.get("small_faces")
            else DetectorSettings(model=str(options.get("detector", "hog")))
        )
        return FramePipeline(
            PipelineSettings(detector=detector, model_dir=str(folder)),  # a second process loads it from there
            classifier=classifiers[choice],
            landmarks=landmarks,
            describer=describer,
        )

    return JobQueue(Path(folder), analysis_runner(pipeline_for), workers=1, keep_s=keep_s)


JOBS_KEEP_HOURS_ENV = "FER_JOBS_KEEP_HOURS"


def job_queue() -> JobQueue:
    """The server's background analyses, under ``<data folder>/jobs``, kept ``$FER_JOBS_KEEP_HOURS`` (24 by
    default) after they finish."""
    try:
        hours = float(os.environ.get(JOBS_KEEP_HOURS_ENV) or 24)
    except ValueError:
        log.warning("$%s must be a number of hours; using 24", JOBS_KEEP_HOURS_ENV)
        hours = 24.0
    return _job_queue(str(data_dir() / "jobs"), 3600.0 * hours)


def job_owner() -> str:
    """Whose job list this is: the signed-in person (:func:`signed_in_user`), who finds their analyses from any
    browser; without a login, this visitor's token, kept in the session and in the page's address (``?u=``), so
    that changing pages keeps it and a reopened tab finds the same analyses (a new random one otherwise)."""
    user = signed_in_user()
    if user is not None:
        return f"user:{user}"  # never a token: those are 32 hex digits
    token = st.session_state.get("job_owner") or st.query_params.get(JOB_OWNER_PARAM, "")
    if not re.fullmatch(r"[0-9a-f]{32}", str(token)):
        token = uuid.uuid4().hex
    st.session_state["job_owner"] = token
    if st.query_params.get(JOB_OWNER_PARAM) != token:
        st.query_params[JOB_OWNER_PARAM] = token
    return token

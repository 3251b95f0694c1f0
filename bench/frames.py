"""Real test frames for the benchmarks, made 640x480, and the helpers every bench script shares.

Needs only numpy and OpenCV, so that the `fer` peer (bench/fer_peer.py, in its own .venv-fer) reads exactly the same
frames as our pipeline: frames are decoded with ``cv2.VideoCapture``, scaled to fit 640x480 and padded with black
(letterboxing), never stretched. ``frames_digest`` prints a checksum so two runs can show they used the same pixels.

The media folder is ``$FER_SHARED_DATA/media/videos`` (default: ``../shared/data`` beside the checkout, as in
tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data"))
VIDEOS = SHARED_DATA / "media" / "videos"

WIDTH, HEIGHT = 640, 480
# Frame sets of the per-frame latency benchmark: (label, video, first frame). Consecutive frames, so that a pipeline
# that follows faces between detections is measured as it really runs.
SCENES = {
    "one face": ("liveportrait_d3_expressions.mp4", 0),
    "two faces": ("composite_two_faces_d3_d18.mp4", 0),
}
# The 30 fps clips of the whole-video benchmark.
CLIPS = ("liveportrait_d3_expressions.mp4", "wifs2018_demo_0001_blink.mp4", "composite_two_faces_d3_d18.mp4")


def one_core() -> None:
    """Ask every numeric library for one thread. Call before importing numpy-heavy libraries (TensorFlow reads
    these at import). Pinning the process itself to a core is done from outside: ``taskset -c 0 python ...``."""
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
    ):
        os.environ[name] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cv2.setNumThreads(1)


def video_path(name: str) -> Path:
    path = VIDEOS / name
    if not path.is_file():
        raise SystemExit(f"{path} is absent: set FER_SHARED_DATA to the shared data folder")
    return path


def letterbox(image: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` (aspect kept, INTER_AREA) and centred on black."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = round(w * scale), round(h * scale)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = image
    return out


def load_frames(name: str, count: int, start: int = 0) -> tuple[list[np.ndarray], float]:
    """``count`` consecutive BGR frames of ``name`` from frame ``start``, letterboxed to 640x480; and the clip's fps."""
    capture = cv2.VideoCapture(str(video_path(name)))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames, index = [], 0
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        if index >= start:
            frames.append(letterbox(image))
        index += 1
    capture.release()
    if len(frames) < count:
        raise SystemExit(f"{name}: only {len(frames)} frames from {start}, {count} wanted")
    return frames, fps


# The "60 s interview" of issue 15: one face (a woman talking to the camera, 15.5 s looped 4x) and two faces (side by
# side, 7.2 s looped 8x), letterboxed to 640x480 at 30 fps, H.264 as a camera or a meeting recorder writes it.
INTERVIEWS = {
    "interview_one_face_640x480.mp4": ("fer_woman2.mp4", 4),
    "interview_two_faces_640x480.mp4": ("composite_two_faces_d3_d18.mp4", 8),
}


def interview_clip(name: str, folder: Path) -> Path:
    """The clip ``name`` of :data:`INTERVIEWS` in ``folder``, made there from the shared video on first use: its
    frames letterboxed to 640x480 and looped, written by the project's own H.264 writer (needs fer_core)."""
    out = Path(folder) / name
    if out.is_file():
        return out
    from fer_core.export import Mp4Writer

    source, loops = INTERVIEWS[name]
    capture = cv2.VideoCapture(str(video_path(source)))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(letterbox(image))
    capture.release()
    partial = out.with_suffix(".partial.mp4")
    with Mp4Writer(partial, fps, preset="veryfast") as writer:
        for i in range(loops * len(frames)):
            writer.write(frames[i % len(frames)], i / fps)
    partial.replace(out)
    return out


def clip_path(name: str, cache: Path | None = None) -> Path:
    """A benchmark clip: an interview of :data:`INTERVIEWS` (made in ``cache``, default the temporary folder), a
    path, or a shared video's name."""
    if name in INTERVIEWS:
        folder = Path(cache) if cache else Path(os.environ.get("TMPDIR", "/tmp")) / "fer-bench"
        folder.mkdir(parents=True, exist_ok=True)
        return interview_clip(name, folder)
    return Path(name) if Path(name).is_file() else video_path(name)


def pipeline_settings(detect_every: int = 3, detector: str = "hog"):
    """The default pipeline settings with the detector on every ``detect_every``-th frame, as ``fer analyze
    --detect-every --detector`` sets them (needs fer_core)."""
    from fer_core.detect import DetectorSettings
    from fer_core.pipeline import PipelineSettings

    return PipelineSettings.detecting_every(detect_every, detector=DetectorSettings(model=detector))


def frames_digest(frames: list[np.ndarray]) -> str:
    """A short checksum of the pixels (the same in both environments when they decode alike)."""
    digest = hashlib.sha256()
    for f in frames:
        digest.update(f.tobytes())
    return digest.hexdigest()[:12]


def spread(ms: list[float]) -> dict[str, float]:
    """Median, 10th and 90th percentile, mean of a list of milliseconds."""
    p10, p50, p90 = np.percentile(ms, [10, 50, 90])
    return {"median": float(p50), "p10": float(p10), "p90": float(p90), "mean": float(np.mean(ms))}


def fmt(s: dict[str, float]) -> str:
    return f"{s['median']:7.2f} ms (p10 {s['p10']:.2f}, p90 {s['p90']:.2f}, mean {s['mean']:.2f})"


def machine() -> str:
    """CPU model, cores, affinity and whether the training job was running: the context of any timing."""
    cpu = platform.processor() or platform.machine()
    try:  # the model name, and family / model / MHz, which tell one host generation from another behind "AMD EPYC"
        fields: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        if "model name" in fields:
            cpu = f"{fields['model name']} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')}, "
            cpu += f"{fields.get('cpu MHz', '?')} MHz)"
    except OSError:
        pass
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    training = "yes" if any(_is_training(_cmdline(p)) for p in Path("/proc").glob("[0-9]*/cmdline")) else "no"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, this process on cores {affinity}, load {load:.1f}, "
        f"training job running: {training}"
    )


def _is_training(cmdline: str) -> bool:
    return "fer_core.train" in cmdline or ("train_torch.py" in cmdline and "python" in cmdline)


def _cmdline(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # the process ended meanwhile
        return ""

"""The `fer` package (justinshenk/fer 25.10.3) timed on the same frames and files as our pipeline.

Runs ONLY in .venv-fer (create it with ``bash bench/setup_fer_env.sh``); bench/pipeline_latency.py and
bench/video_throughput.py start it themselves when that environment exists.

    taskset -c 0 .venv-fer/bin/python bench/fer_peer.py frames [--quick] [--json OUT]
    .venv-fer/bin/python bench/fer_peer.py video FILE [--json OUT]

``frames``: ``FER().detect_emotions(frame)`` per frame (its defaults: OpenCV Haar cascade, its quantised TFLite
classifier) on the frames of bench/frames.py, one thread asked of every library; median, p10, p90, mean in ms.
``video``: ``Video(FILE).analyze(FER(), display=False, save_frames=False, save_video=True)``: every frame, annotated
video written (as ours writes one), no per-frame JPEGs or zip; ``--tables-only``: nothing drawn, no video (as
``fer analyze`` by default); ``--library-defaults`` calls it as its README does (``analyze(detector,
display=False)``: also a JPEG per frame, zipped, which is slower). Time from the call to its
return, imports and model loading excluded.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings
from pathlib import Path

import frames as bench


def _fer():
    """FER's detector with its defaults; fer 25.10.3 does not re-export FER from its package root."""
    warnings.filterwarnings("ignore")
    from fer.fer import FER

    logging.getLogger("fer").setLevel(logging.WARNING)
    return FER()


def run_frames(count: int, passes: int) -> dict:
    detector = _fer()
    results = {"machine": bench.machine(), "scenes": {}}
    print(f"machine: {results['machine']}")
    for label, (name, start) in bench.SCENES.items():
        images, _fps = bench.load_frames(name, count, start)
        for image in images[:3]:  # warm-up
            detector.detect_emotions(image)
        ms, cpu, faces = [], [], []
        for _ in range(passes):
            for image in images:
                started, started_cpu = time.perf_counter(), time.process_time()
                found = detector.detect_emotions(image)
                ms.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                faces.append(len(found))
        wall, cpu_s = bench.spread(ms), bench.spread(cpu)
        results["scenes"][label] = {
            "wall": wall,
            "cpu": cpu_s,
            "faces_mean": sum(faces) / len(faces),
            "samples": len(ms),
            "digest": bench.frames_digest(images),
        }
        print(f"{label} (frames digest {bench.frames_digest(images)}, faces/frame {sum(faces) / len(faces):.2f})")
        print(f"  wall fer detect_emotions {bench.fmt(wall)}")
        print(f"  cpu  fer detect_emotions {bench.fmt(cpu_s)}")
    return results


def run_video(path: Path, library_defaults: bool = False, tables_only: bool = False) -> dict:
    from fer.classes import Video

    detector = _fer()
    with tempfile.TemporaryDirectory() as out:
        video = Video(str(path), outdir=out)
        started, started_cpu = time.perf_counter(), time.process_time()
        if library_defaults:  # as its README calls it: also a JPEG per frame, zipped
            data = video.analyze(detector, display=False, output="pandas")
        elif tables_only:  # its table only, as `fer analyze` writes by default: nothing drawn, no video
            data = video.analyze(
                detector,
                display=False,
                save_frames=False,
                save_video=False,
                annotate_frames=False,
                zip_images=False,
                output="pandas",
            )
        else:
            data = video.analyze(
                detector, display=False, save_frames=False, save_video=True, zip_images=False, output="pandas"
            )
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
        written = sorted(p.name for p in Path(out).iterdir())
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    result = {
        "file": path.name,
        "library_defaults": library_defaults,
        "tables_only": tables_only,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "frames": frames,
        "fps_video": fps,
        "frames_per_second": frames / seconds,
        "real_time": frames / fps / seconds,
        "rows": int(len(data)),
        "written": written,
    }
    print(
        f"fer Video.analyze {path.name}: {frames} frames in {seconds:.2f} s (CPU {cpu_seconds:.2f} s) = "
        f"{frames / seconds:.1f} frames/s, "
        f"{result['real_time']:.2f}x real time; rows {len(data)}; wrote {written}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    f = sub.add_parser("frames", help="per-frame latency of detect_emotions")
    f.add_argument("--quick", action="store_true")
    f.add_argument("--frames", type=int, default=90)
    f.add_argument("--passes", type=int, default=1)
    f.add_argument("--json", type=Path)
    v = sub.add_parser("video", help="throughput of Video.analyze on a whole file")
    v.add_argument("file", type=Path)
    v.add_argument(
        "--library-defaults",
        action="store_true",
        help="fer's own defaults: also save every frame as "
        "a JPEG and zip them (slower; the default here writes only the annotated video, as ours does)",
    )
    v.add_argument(
        "--tables-only",
        action="store_true",
        help="no annotated video and nothing drawn: only its table, as `fer analyze` writes by default",
    )
    v.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.what == "frames":
        bench.one_core()
        result = run_frames(30 if args.quick else args.frames, 1 if args.quick else args.passes)
    else:
        result = run_video(args.file, args.library_defaults, args.tables_only)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""Per-frame latency on one core: our full pipeline against the original project's pipeline, same frames, same run.

    taskset -c 0 .venv/bin/python bench/pipeline_latency.py [--quick] [--frames 90] [--keras FILE] [--json OUT]
        [--detector blazeface]

Frames: consecutive real frames made 640x480 (bench/frames.py): one face (liveportrait_d3_expressions.mp4) and two
faces (composite_two_faces_d3_d18.mp4). Per frame, timed from BGR frame in to annotated frame out:

* ours: ``FramePipeline.process`` (dlib's HOG, or MediaPipe's BlazeFace with ``--detector blazeface``, as the Live
  page offers; detect every 3rd frame, follow by landmarks between, blink, one batched LiteRT
  call with 1 thread) + ``fer_core.draw.annotate`` on a copy of the frame, as the live view does;
* baseline (bench/baseline_original.py): dlib HOG upsample 1 on the full frame, 68 landmarks, scipy ``zoom`` to
  48x48, one Keras ``model.predict`` per face, box and label drawn.

Every numeric library is asked for one thread (OMP/TF/OpenCV, LiteRT num_threads=1); pin the process with
``taskset -c 0`` so that "one core" holds for dlib and everything else too. The two pipelines alternate pass by pass,
so background load hits both alike; the ratios are the figures to compare, absolute times move with the machine.
Ours reports the mean too: with detection on every 3rd frame the median is a following frame and p90 a detection
frame, so the mean is the sustained cost per frame. Each figure is given twice: wall-clock ("wall") and the
process's CPU time ("cpu", ``time.process_time``), which is what a frame costs on an otherwise idle core and moves
far less when another job shares the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import frames as bench

bench.one_core()  # before numpy and the models load: thread counts are read at import

import numpy as np  # noqa: E402

from fer_core.classifier import EmotionClassifier  # noqa: E402
from fer_core.detect import DetectorSettings  # noqa: E402
from fer_core.draw import annotate  # noqa: E402
from fer_core.pipeline import FramePipeline, PipelineSettings  # noqa: E402


def time_ours(pipeline: FramePipeline, images: list[np.ndarray], fps: float):
    """One pass over consecutive frames from a fresh pipeline state: wall ms, CPU ms and faces found per frame."""
    pipeline.reset()
    ms, cpu, faces = [], [], []
    for i, image in enumerate(images):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = pipeline.process(image, i / fps, i)
        annotate(image, result.records)
        ms.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        faces.append(len(result.records))
    return ms, cpu, faces


def time_baseline(baseline, images: list[np.ndarray]):
    ms, cpu, faces = [], [], []
    for image in images:
        started, started_cpu = time.perf_counter(), time.process_time()
        found = baseline.process(image)
        baseline.draw(image.copy(), found)
        ms.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        faces.append(len(found))
    return ms, cpu, faces


def run_fer_peer(count: int, results: dict) -> dict | None:
    """``fer_peer.py frames`` in .venv-fer on the same frames (same affinity), and the ratios fer / ours."""
    python = bench.ROOT / ".venv-fer" / "bin" / "python"
    if not python.is_file():
        print(f"\nfer: skipped ({python} absent: bash bench/setup_fer_env.sh)")
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run(
            [
                str(python),
                str(Path(__file__).with_name("fer_peer.py")),
                "frames",
                "--frames",
                str(count),
                "--json",
                out.name,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"\nfer failed ({done.returncode}): {done.stderr[-800:]}")
            return None
        fer = json.loads(Path(out.name).read_text())
    print("\nfer package, FER().detect_emotions (Haar cascade + its TFLite model), same frames:")
    for label, entry in fer["scenes"].items():
        ours = results["scenes"][label]
        print(f"  {label}: faces/frame {entry['faces_mean']:.2f}")
        for clock in ("wall", "cpu"):
            f, o = entry[clock], ours[clock]["ours"]
            print(
                f"  {clock:4} fer {bench.fmt(f)}; fer / ours {f['median'] / o['median']:.1f}x by median, "
                f"{f['mean'] / o['mean']:.1f}x by mean"
            )
    return fer


def ensure_requirements() -> None:
    """Installs bench/requirements.txt (scipy, for the baseline's ``zoom``) into this interpreter when missing."""
    try:
        import scipy  # noqa: F401
    except ImportError:
        print("installing bench/requirements.txt (scipy, for the original pipeline's crop resize)")
        requirements = Path(__file__).with_name("requirements.txt")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="30 frames, 2 passes of ours, 1 of the baseline (about 30 s with the imports)",
    )
    parser.add_argument("--frames", type=int, default=90, help="consecutive frames per scene (default 90 = 3 s)")
    parser.add_argument(
        "--passes", type=int, default=3, help="passes of ours over the frames (baseline: one pass per two of ours)"
    )
    parser.add_argument("--keras", type=Path, default=None, help=".keras file for the baseline's weights")
    parser.add_argument("--no-fer", action="store_true", help="skip the fer peer (run when .venv-fer exists)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--detector", choices=("hog", "blazeface"), default="hog", help="our face detector")
    args = parser.parse_args()
    count, passes = (30, 2) if args.quick else (args.frames, args.passes)

    ensure_requirements()
    print(f"machine: {bench.machine()}")
    scenes = {label: bench.load_frames(name, count, start) for label, (name, start) in bench.SCENES.items()}
    for label, (images, _fps) in scenes.items():
        print(
            f"frames: {label}: {bench.SCENES[label][0]} frames 0-{count - 1}, letterboxed to 640x480, "
            f"digest {bench.frames_digest(images)}"
        )

    settings = PipelineSettings(detector=DetectorSettings(model=args.detector))
    ours = FramePipeline(settings, classifier=EmotionClassifier(num_threads=1))
    print(
        f"ours: FramePipeline(PipelineSettings()) detect_every={ours.settings.detect_every}, "
        f"detector {args.detector} upsample={ours.settings.detector.upsample}, LiteRT 1 thread, + annotate"
    )

    started = time.perf_counter()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from baseline_original import OriginalPipeline, build_keras_classifier

    model, weights = build_keras_classifier(args.keras)
    baseline = OriginalPipeline(model)
    print(
        f"baseline: dlib HOG upsample 1 + 68 landmarks + scipy zoom + Keras model.predict per face; {weights}; "
        f"TensorFlow {tf.__version__} import+build {time.perf_counter() - started:.1f} s"
    )

    for images, fps in scenes.values():  # warm-up: first calls allocate and trace
        time_ours(ours, images[:6], fps)
        time_baseline(baseline, images[:2])

    results = {
        "machine": bench.machine(),
        "frames": count,
        "detector": args.detector,
        "baseline_weights": weights,
        "scenes": {},
    }
    for label, (images, fps) in scenes.items():
        ours_ms, ours_cpu, base_ms, base_cpu, ours_faces, base_faces = [], [], [], [], [], []
        for p in range(passes):
            ms, cpu, faces = time_ours(ours, images, fps)
            ours_ms, ours_cpu, ours_faces = ours_ms + ms, ours_cpu + cpu, ours_faces + faces
            if p % 2 == 0:
                ms, cpu, faces = time_baseline(baseline, images)
                base_ms, base_cpu, base_faces = base_ms + ms, base_cpu + cpu, base_faces + faces
        entry = {
            "ours_faces_mean": float(np.mean(ours_faces)),
            "baseline_faces_mean": float(np.mean(base_faces)),
            "ours_samples": len(ours_ms),
            "baseline_samples": len(base_ms),
        }
        print(
            f"\n{label} ({len(ours_ms)} frames ours, {len(base_ms)} baseline; faces per frame: ours "
            f"{np.mean(ours_faces):.2f}, baseline {np.mean(base_faces):.2f})"
        )
        for clock, o_ms, b_ms in (("wall", ours_ms, base_ms), ("cpu", ours_cpu, base_cpu)):
            o, b = bench.spread(o_ms), bench.spread(b_ms)
            entry[clock] = {
                "ours": o,
                "baseline": b,
                "ratio_median": b["median"] / o["median"],
                "ratio_mean": b["mean"] / o["mean"],
            }
            print(f"  {clock:4} ours     {bench.fmt(o)}")
            print(f"  {clock:4} baseline {bench.fmt(b)}")
            print(
                f"  {clock:4} baseline / ours: {b['median'] / o['median']:.1f}x by median, "
                f"{b['mean'] / o['mean']:.1f}x by mean"
            )
        results["scenes"][label] = entry
    if not args.no_fer:
        results["fer"] = run_fer_peer(count, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

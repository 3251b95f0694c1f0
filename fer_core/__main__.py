"""Command line: ``fer analyze VIDEO --out DIR [--every N] [--model fast|accurate|FOLDER]``; ``fer evaluate ...``
and ``fer train ...`` are :mod:`fer_core.evaluate` and :mod:`fer_core.train` (``fer train --help``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fer_core.errors import FerError
from fer_core.labels import UNCERTAIN

log = logging.getLogger("fer_core")


@contextmanager
def _progress_bar(desc: str, unit: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """One tqdm bar (none when ``quiet``); yields the ``progress(done, total)`` callback the library calls
    (``total`` 0 when unknown). The bar is drawn at the first call, so an error raised before any work (a refused
    output folder, an unreadable file) is printed without an empty bar above it."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(unit=unit, desc=desc, disable=quiet))
        bars[0].total = total or None
        bars[0].update(done - bars[0].n)

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()


def _analyze(args: argparse.Namespace) -> int:
    from fer_core.detect import DetectorSettings
    from fer_core.model_file import model_folder
    from fer_core.pipeline import PipelineSettings
    from fer_core.video import analyze_video

    settings = PipelineSettings.detecting_every(
        args.detect_every,
        detector=DetectorSettings(upsample=args.upsample, max_search_width=args.max_search_width, model=args.detector),
        model_dir=str(model_folder(args.model)),
    )
    with _progress_bar(args.video.name, "frame", args.quiet) as progress:
        analysis = analyze_video(
            args.video,
            args.out,
            every=args.every,
            settings=settings,
            progress=progress,
            write_video=args.draw_video,
            overwrite=args.overwrite,
            processes=args.processes,
            start_s=args.start,
            end_s=args.end,
        )
    for warning in analysis.warnings:
        log.warning("%s", warning)
    if not analysis.faces and not args.upsample and args.detector == "hog":
        log.info("small faces (a group, a wide shot) are found with --upsample 1 --max-search-width 0 (slower)")
    for face in analysis.faces:
        rate = f"{face.blinks_per_minute:.1f}/min" if face.blinks_per_minute is not None else "n/a"
        log.info(
            "face #%d: %.1f s on screen, mostly %s (%.0f%%, uncertain %.0f%%), %d blinks (%s)",
            face.track_id,
            face.time_on_screen_s,
            face.dominant_emotion,
            100 * face.emotion_share.get(face.dominant_emotion, 0.0),
            100 * face.emotion_share.get(UNCERTAIN, 0.0),
            face.blink_count,
            rate,
        )
    if not args.draw_video:
        log.info("for the annotated video: fer render %s --results %s", args.video, args.out)
    from fer_core.timeline import part_words

    outputs = [p for p in vars(analysis.outputs).values() if p is not None]
    part = part_words(analysis.start_s, analysis.end_s)
    log.info(
        "%d frames analysed%s in %.1f s; wrote %s",
        analysis.frames_analysed,
        f" ({part})" if part else "",
        analysis.seconds_taken,
        ", ".join(str(p) for p in outputs),
    )
    return 0


def _render(args: argparse.Namespace) -> int:
    from fer_core.render import render_results

    with _progress_bar(args.video.name, "frame", args.quiet) as progress:
        out = render_results(
            args.video, args.results, overwrite=args.overwrite, progress=progress, audio=not args.no_audio
        )
    log.info("wrote %s", out)
    return 0


def _batch(args: argparse.Namespace) -> int:
    from fer_core.batch import BatchSettings, default_workers, list_videos, run_batch, take_shard
    from fer_core.model_file import model_folder

    videos, table_name = take_shard(list_videos(args.source), args.shard)
    settings = BatchSettings(
        every=args.every,
        model_dir=str(model_folder(args.model)),
        detector=args.detector,
        workers=args.workers or default_workers(),
        engine=args.engine,
        start_s=args.start,
        end_s=args.end,
    )
    with _progress_bar("batch", "video", args.quiet) as progress:
        table = run_batch(videos, args.out, settings, table_name, progress)
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    log.info("%d videos: %s; table %s", len(table), counts, args.out / table_name)
    return 1 if counts.get("failed") else 0


def _add_part_arguments(parser: argparse.ArgumentParser, whose: str) -> None:
    """--start and --end (seconds, m:ss or h:mm:ss): the part of the video(s) to analyse."""
    parser.add_argument(
        "--start", type=_time, default=0.0, help=f"analyse{whose} from this time (seconds, m:ss or h:mm:ss)"
    )
    parser.add_argument("--end", type=_time, default=None, help=f"analyse{whose} up to this time (default: the end)")


DETECTOR_HELP = (
    "face detector: hog (dlib's, the default) or blazeface (MediaPipe's BlazeFace: about 1.3x faster analysis, "
    "faces from about a tenth of the frame's longer side; docs/speed.md)"
)


def _time(text: str) -> float:
    """An argparse type: a time in the video, as seconds, m:ss or h:mm:ss."""
    from fer_core.timeline import parse_time  # on use: --help need not load pandas

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole(low: int, high: int | None = None):
    """An argparse type: a whole number from ``low`` to ``high`` (inclusive; no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


# commands whose arguments are parsed by their own module's main(argv)
DELEGATED = {
    "evaluate": ("fer_core.evaluate", "accuracy and per-class figures of a model on FER2013 faces"),
    "calibrate": ("fer_core.calibration", "fit the model's temperature so its probabilities mean what they say"),
    "train": ("fer_core.train", "train an emotion model on FER2013 (needs the train extra: pip install -e .[train])"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        try:
            module = importlib.import_module(DELEGATED[argv[0]][0])
        except ImportError as exc:
            sys.stderr.write(f"fer {argv[0]}: {exc}; install the training extra: pip install -e .[train]\n")
            return 2
        return module.main(argv[1:]) or 0
    parser = argparse.ArgumentParser(prog="fer", description="Facial emotion analysis of videos.")
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("analyze", help="analyse a video file; write table, summary, annotated video")
    analyze.add_argument("video", type=Path)
    analyze.add_argument("--out", type=Path, required=True, help="output folder (created if needed)")
    analyze.add_argument("--every", type=_whole(1), default=1, help="analyse every n-th frame (default: every frame)")
    analyze.add_argument(
        "--model",
        default="fast",
        help="emotion model: fast (default; reads a face again mirrored when unsure of it), accurate (every "
        "face also mirrored: as accurate on FER2013 PublicTest, a little steadier, about 1.5x the classifier's time "
        "per face), or a model folder",
    )
    _add_part_arguments(analyze, "")
    analyze.add_argument("--detector", choices=("hog", "blazeface"), default="hog", help=DETECTOR_HELP)
    analyze.add_argument(
        "--upsample",
        type=_whole(0, 2),
        default=0,
        help="dlib upsampling, 0-2: 1 finds faces half as wide, several times slower",
    )
    analyze.add_argument(
        "--detect-every",
        type=_whole(1, 12),  # 12: pipeline.FULL_SEARCH_FRAMES (fer_core.pipeline loads OpenCV, which --help need not)
        default=3,
        help="run the face detector on every n-th frame (default 3), following faces by their landmarks in "
        "between: 6 or 12 is faster, with less exact boxes and blinks (docs/speed.md)",
    )
    analyze.add_argument(
        "--max-search-width",
        type=_whole(0),
        default=640,
        help="search wider frames downscaled to this width (0: full size)",
    )
    analyze.add_argument(
        "--video",
        dest="draw_video",
        action="store_true",
        help="also draw the annotated MP4 (with the source's sound) while analysing; or later: fer render",
    )
    analyze.add_argument("--no-video", action="store_true", help=argparse.SUPPRESS)  # the default since 2026-11
    analyze.add_argument(
        "--processes",
        type=_whole(1),
        default=min(2, os.cpu_count() or 1),
        help="2: a second process analyses the second half of a long video at once, records unchanged (default "
        "on two or more cores; not with --video)",
    )
    analyze.add_argument(
        "--overwrite",
        action="store_true",
        help="replace results already in --out for a video of the same name (refused otherwise)",
    )
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    render = commands.add_parser(
        "render", help="draw an analysis over its video: <stem>.annotated.mp4 with the source's sound"
    )
    render.add_argument("video", type=Path)
    render.add_argument("--results", type=Path, required=True, help="the folder `fer analyze --out` wrote")
    render.add_argument("--overwrite", action="store_true", help="replace an annotated video already there")
    render.add_argument("--no-audio", action="store_true", help="leave the sound out")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    batch = commands.add_parser("batch", help="analyse a folder (or a .txt list) of videos with several processes")
    batch.add_argument("source", type=Path, help="a folder of videos (searched recursively) or a text file of paths")
    batch.add_argument("--out", type=Path, required=True, help="output folder: each video's files and batch.csv")
    batch.add_argument("--every", type=_whole(1), default=1, help="analyse every n-th frame (default: every frame)")
    _add_part_arguments(batch, " each video")
    batch.add_argument("--model", default="fast", help="emotion model: fast (default), accurate, or a model folder")
    batch.add_argument("--detector", choices=("hog", "blazeface"), default="hog", help=DETECTOR_HELP)
    batch.add_argument("--workers", type=_whole(1), default=None, help="processes (default: one per core)")
    batch.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: processes on this machine; ray: Ray actors (the cluster at $RAY_ADDRESS, or a local Ray; "
        "needs pip install ray; the videos and --out must be at the same paths on every node)",
    )
    batch.add_argument("--shard", default=None, help="I/N: only every N-th video from the I-th (job arrays)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    for name, (_, summary) in DELEGATED.items():
        commands.add_parser(name, help=summary + f" (fer {name} --help)")
    args = parser.parse_args(argv)
    if getattr(args, "detector", "hog") == "blazeface" and getattr(args, "upsample", 0):
        parser.error("--upsample is the HOG detector's: BlazeFace finds faces from about a tenth of the frame")
    if args.command in ("analyze", "batch") and args.end is not None and args.end <= args.start:
        parser.error(f"--end ({args.end:g} s) must come after --start ({args.start:g} s)")
    if args.command == "analyze":
        from fer_core.timeline import is_part  # here, not at the top: --help need not load pandas

        if args.draw_video and is_part(args.start, args.end):
            parser.error("--video draws the whole video: with --start or --end, draw it afterwards with fer render")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        return {"render": _render, "batch": _batch}.get(args.command, _analyze)(args)
    except FerError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())

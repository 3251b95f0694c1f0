"""Helpers that make test videos from real ones (imported by the tests; pytest puts this folder on sys.path)."""

from __future__ import annotations

import av
import numpy as np

from fer_core.decode import iter_frames
from fer_core.export import Mp4Writer


def remux(src, dst, fmt, options=None):
    """Copy the video stream of ``src`` into a new container without re-encoding."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt, options=options or {}) as out:
        stream = inp.streams.video[0]
        target = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = target
            out.mux(packet)
    return dst


def truncate(path, fraction=0.6):
    """Cut ``path`` to its first ``fraction`` of bytes, as an interrupted download or copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def splice(dst, parts, fps=30.0):
    """Write an H.264 MP4 of ``parts``, each (video path, first frame, frame count) or (None, 0, count) for that
    many mid-gray frames (no face), one after the other at ``fps``; all the videos must have one frame size."""
    frames = []
    for path, first, count in parts:
        if path is None:
            frames += [None] * count
        else:
            frames += [f.image for f in iter_frames(path) if first <= f.index < first + count]
    size = next(f.shape for f in frames if f is not None)
    with Mp4Writer(dst, fps) as out:
        for i, image in enumerate(frames):
            out.write(np.full(size, 128, np.uint8) if image is None else image, i / fps)
    return dst

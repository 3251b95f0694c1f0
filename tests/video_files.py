"""Helpers that make test videos from real ones (imported by the tests; pytest puts this folder on sys.path)."""

from __future__ import annotations

import av


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

"""Pack FER2013 Training + PublicTest into one xz file small enough to travel to the GPU machine (64 MiB limit).

    .venv/bin/python gpu/pack_data.py            # writes .gpu/fer2013.npz.xz (about 56 MB)

The file is an ``.npz`` compressed with xz (delta + LZMA2; plain zlib does not shrink FER2013's pixels). Arrays:
``x_train`` uint8 (N, 48, 48), ``y_train`` int64 (N,), ``crowd_train`` float16 (N, 7) FER+ vote shares in FER2013's
label order (rows of zeros where unknown), ``x_val``, ``y_val`` likewise for PublicTest. Nothing else travels.
"""

from __future__ import annotations

import argparse
import io
import lzma
from pathlib import Path

import numpy as np

from fer_core.datasets import load_faces
from fer_core.train import DEFAULT_DATA

FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 1}, {"id": lzma.FILTER_LZMA2, "preset": 9}]


def pack(train: Path, val: Path, out: Path) -> int:
    """Write ``out``; returns its size in bytes."""
    tr, va = load_faces(train, "Training"), load_faces(val, "PublicTest")
    crowd = tr.crowd if tr.crowd is not None else np.zeros((len(tr), 7), np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=tr.x, y_train=tr.y, crowd_train=crowd.astype(np.float16), x_val=va.x, y_val=va.y)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=FILTERS))
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=Path(DEFAULT_DATA) / "train.npz")
    parser.add_argument("--val", type=Path, default=Path(DEFAULT_DATA) / "val.npz")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / ".gpu" / "fer2013.npz.xz")
    args = parser.parse_args()
    print(f"{args.out}: {pack(args.train, args.val, args.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

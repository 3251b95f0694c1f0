"""Pack FER2013 Training + PublicTest into one xz file small enough to travel to the GPU machine (64 MiB limit).

    .venv/bin/python gpu/pack_data.py            # writes .gpu/fer2013.npz.xz (about 49 MB)
    # students only (the teacher in models/teachers): PublicTest cut to 600 faces (logged during training only; the
    # served students are evaluated on all of it on the CPU), so data and repository fit in 64 MiB
    .venv/bin/python gpu/pack_data.py --val-faces 600
    # a teacher of a GPU run into the repository, in 8 bits
    .venv/bin/python gpu/pack_data.py --val-faces 600 --teacher teachers/vgg-1 --teacher-to models/teachers/vgg-1

The file is an ``.npz`` compressed with xz (LZMA2; plain zlib does not shrink FER2013's pixels). Arrays:
``x_train`` uint8 (N, 48, 48) as prediction errors (``gpu/pixels.py``, named by ``pixels``: about 9% smaller than
delta + LZMA2 on the raw pixels; ``train_torch.py unpack`` restores them), ``y_train`` int64 (N,), ``crowd_train``
float16 (N, 7) FER+ vote shares in FER2013's label order (rows of zeros where unknown), ``x_val``, ``y_val``
likewise for PublicTest. Nothing else travels.
"""

from __future__ import annotations

import argparse
import io
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pixels import NAME, encode  # noqa: E402

from fer_core.datasets import LabelledFaces, load_faces  # noqa: E402
from fer_core.train import DEFAULT_DATA  # noqa: E402

FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9}]


def pack(train: Path, val: Path, out: Path, val_faces: int = 0) -> int:
    """Write ``out``; returns its size in bytes. ``val_faces`` > 0 keeps only the first that many PublicTest faces."""
    tr, va = load_faces(train, "Training"), load_faces(val, "PublicTest")
    if val_faces:
        va = LabelledFaces(va.x[:val_faces], va.y[:val_faces], va.source)
    crowd = tr.crowd if tr.crowd is not None else np.zeros((len(tr), 7), np.float32)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        pixels=np.array(NAME),
        x_train=encode(tr.x),
        y_train=tr.y,
        crowd_train=crowd.astype(np.float16),
        x_val=encode(va.x),
        y_val=va.y,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=FILTERS))
    return out.stat().st_size


def pack_teacher(folder: Path, out: Path) -> int:
    """A teacher folder of a GPU run (``teacher.npz``: float16 state dict and ``arch``; ``record.json``) into
    ``out`` with each weight of two or more dimensions in 8 bits: ``name`` int8 and ``name::scale`` float32, one
    scale per output channel (``train_torch.load_teachers`` multiplies back); the rest stays float16. Returns the
    size in bytes of the new ``teacher.npz``."""
    out.mkdir(parents=True, exist_ok=True)
    arrays = {}
    with np.load(folder / "teacher.npz") as saved:
        for name in saved.files:
            value = saved[name]
            if name != "arch" and value.ndim >= 2:
                weights = value.astype(np.float32)
                scale = np.abs(weights).reshape(len(weights), -1).max(axis=1) / 127.0
                scale[scale == 0] = 1.0
                shape = (-1,) + (1,) * (weights.ndim - 1)
                arrays[name] = np.round(weights / scale.reshape(shape)).astype(np.int8)
                arrays[f"{name}::scale"] = scale.astype(np.float32)
            else:
                arrays[name] = value
    np.savez_compressed(out / "teacher.npz", **arrays)
    if (folder / "record.json").exists():
        (out / "record.json").write_text((folder / "record.json").read_text())
    return (out / "teacher.npz").stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=Path(DEFAULT_DATA) / "train.npz")
    parser.add_argument("--val", type=Path, default=Path(DEFAULT_DATA) / "val.npz")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / ".gpu" / "fer2013.npz.xz")
    parser.add_argument("--val-faces", type=int, default=0, help="keep only this many PublicTest faces (0: all)")
    parser.add_argument("--teacher", type=Path, default=None, help="a teacher folder of a GPU run, to keep in 8 bits")
    parser.add_argument("--teacher-to", type=Path, default=None, help="where (default: .gpu/teachers/<name>)")
    args = parser.parse_args()
    print(f"{args.out}: {pack(args.train, args.val, args.out, args.val_faces) / 1e6:.1f} MB")
    if args.teacher is not None:
        target = args.teacher_to or args.out.parent / "teachers" / args.teacher.name
        print(f"{target}/teacher.npz: {pack_teacher(args.teacher, target) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

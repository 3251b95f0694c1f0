"""Does a dim, bright or flat picture change the emotion reading? FER2013's 48x48 faces changed on purpose (darker,
brighter, less contrast, a dark gamma) and given to the served model files directly (no detection;
``fer_core.evaluate.predict_faces``: as served, the mirror-image average inside). Prints a Markdown row of accuracy
per condition for each model (about 20 s a model for PublicTest's 3,589 faces).

    .venv/bin/python bench/lighting.py --model fast accurate
    .venv/bin/python bench/lighting.py --model models/emotion /tmp/other-model-folder
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.evaluate import predict_faces  # noqa: E402
from fer_core.model_file import NAMED_MODELS  # noqa: E402


def conditions(x: np.ndarray) -> dict[str, np.ndarray]:
    """``x`` (faces, gray levels 0..255, float32) as is and changed: each condition rounds to whole gray levels."""
    return {
        "as is": x,
        "darker x0.5": np.round(x * 0.5),
        "x0.35": np.round(x * 0.35),
        "x0.2": np.round(x * 0.2),
        "brighter (x0.5 + 127)": np.clip(np.round(x * 0.5 + 127), 0, 255),
        "contrast x0.4": np.round((x - x.mean()) * 0.4 + x.mean()),
        "gamma 2.2": np.round(255 * (x / 255) ** 2.2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(os.environ.get("FER_SHARED_DATA", "../shared/data"), "fer2013"))
    parser.add_argument("--split", choices=("train", "val"), default="val", help="Training or PublicTest")
    parser.add_argument("--model", nargs="+", default=["fast", "accurate"], help="fast, accurate or a model folder")
    args = parser.parse_args()

    data = np.load(Path(args.data) / f"{args.split}.npz")
    x, y = data["x"].astype(np.float32), data["y"]
    changed = conditions(x)
    print("| model | " + " | ".join(changed) + " |")
    print("|---|" + "---:|" * len(changed))
    for model in args.model:
        folder = Path(NAMED_MODELS.get(model, model))
        cells = " | ".join(f"{(predict_faces(folder, faces).argmax(1) == y).mean():.2%}" for faces in changed.values())
        print(f"| {model} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

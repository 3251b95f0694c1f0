"""Would per-emotion offsets on the log-probabilities make the served models better? An experiment (not shipped).

The distilled students lean towards Neutral (they were taught partly with the FER+ crowd's votes, which name Neutral
far more often than FER2013's labels): on PublicTest they answer Neutral for about 24% of faces, where 17% are
labelled so. Offsets ``b`` (one per emotion) fitted on the **Training** faces by maximum likelihood together with a
temperature of their own (bias-corrected temperature scaling, Alexandari et al. 2020; PublicTest is not used to fit
them) are applied as ``argmax(log p + s b)`` for a few scales ``s``. Prints, per model, PublicTest accuracy, recall
per emotion and the share of each answer; then, for the fast model, how the top emotion of every face record of the
shared real videos moves (offsets on the records' probabilities, before any smoothing).

    .venv/bin/python bench/class_offsets.py [--videos]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.calibration import apply_temperature  # noqa: E402
from fer_core.evaluate import predict_faces  # noqa: E402
from fer_core.labels import EMOTIONS  # noqa: E402
from fer_core.model_file import NAMED_MODELS, read_meta  # noqa: E402

SHARED = Path(os.environ.get("FER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def fit_offsets(probabilities: np.ndarray, labels: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Offsets (K,) for log p (N, K) that, with a temperature of their own, maximise the labels' likelihood:
    ``z = a log p + c`` by Newton's method (convex in ``(a, c)``); returns ``c / a`` less its mean."""
    logs = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))
    n, k = logs.shape
    target = np.eye(k)[labels]
    theta = np.r_[1.0, np.zeros(k - 1)]  # a, then c for all but the last class (held at 0)

    def loss_and_q(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] * logs + np.r_[theta[1:], 0.0]
        z -= z.max(axis=1, keepdims=True)
        log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-(log_q * target).sum() / n), np.exp(log_q)

    loss, q = loss_and_q(theta)
    jacobian = np.concatenate([logs[:, :, None], np.broadcast_to(np.eye(k)[:, :-1], (n, k, k - 1))], axis=2)
    for _ in range(iterations):
        residual = q - target
        gradient = np.r_[(residual * logs).sum() / n, residual.mean(axis=0)[:-1]]
        weighted = q[:, :, None] * jacobian - q[:, :, None] * (q[:, None, :] @ jacobian)
        hessian = np.einsum("nkp,nkq->pq", jacobian, weighted) / n + 1e-9 * np.eye(k)
        step, size = np.linalg.solve(hessian, gradient), 1.0
        new_loss, new_q = loss_and_q(theta - step)
        while new_loss > loss and size > 1e-4:
            size /= 2.0
            new_loss, new_q = loss_and_q(theta - size * step)
        if new_loss > loss or loss - new_loss < 1e-12:
            break
        theta, loss, q = theta - size * step, new_loss, new_q
    offsets = np.r_[theta[1:], 0.0] / theta[0]
    return offsets - offsets.mean()


def network_probabilities(folder: Path, faces: np.ndarray) -> np.ndarray:
    """The network's own probabilities (N, 7): the served ones with the model's temperature undone."""
    return apply_temperature(predict_faces(folder, faces), 1.0 / read_meta(folder).temperature)


def percent(values: np.ndarray) -> str:
    return " / ".join(f"{v:.0%}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", action="store_true", help="also the shared real videos (about 2 minutes)")
    args = parser.parse_args()
    train, val = (np.load(SHARED / "fer2013" / f"{split}.npz") for split in ("train", "val"))
    print(f"PublicTest labels: {percent(np.bincount(val['y'], minlength=7) / len(val['y']))} ({' / '.join(EMOTIONS)})")
    fitted = {}
    for name, folder in sorted(NAMED_MODELS.items()):
        offsets = fit_offsets(network_probabilities(folder, train["x"]), train["y"])
        fitted[name] = offsets
        logs = np.log(np.clip(network_probabilities(folder, val["x"]), 1e-12, 1.0))
        print(f"\n{name}: offsets fitted on Training {np.round(offsets, 2).tolist()}")
        print("| scale | PublicTest | recall per emotion | share of answers |\n|---:|---:|---|---|")
        for scale in (0.0, 0.5, 1.0):
            answer = (logs + scale * offsets).argmax(1)
            recall = np.array([(answer[val["y"] == c] == c).mean() for c in range(7)])
            share = np.bincount(answer, minlength=7) / len(answer)
            print(f"| {scale} | {(answer == val['y']).mean():.2%} | {percent(recall)} | {percent(share)} |")
    if args.videos:
        from fer_core.export import records_table
        from fer_core.video import analyze_video

        temperature = read_meta(NAMED_MODELS["fast"]).temperature
        print("\nfast model on the shared videos, each face record's top emotion without -> with the offsets")
        print(
            "| clip | records | changed | Neutral | Sad | Fear | Angry | Happy |\n|---|---:|---:|---|---|---|---|---|"
        )
        for clip in sorted((SHARED / "media" / "videos").glob("*.mp4")):
            table = records_table(analyze_video(clip, write_video=False).records)
            served = table[[f"p_{e.lower()}" for e in EMOTIONS]].dropna().to_numpy()
            if not len(served):
                continue
            logs = np.log(np.clip(served, 1e-12, 1.0)) * temperature  # the network's, up to a constant per row
            before, after = logs.argmax(1), (logs + fitted["fast"]).argmax(1)
            cells = " | ".join(
                f"{(before == c).mean():.0%} -> {(after == c).mean():.0%}"
                for c in (EMOTIONS.index(e) for e in ("Neutral", "Sad", "Fear", "Angry", "Happy"))
            )
            print(f"| {clip.name} | {len(served)} | {(before != after).mean():.0%} | {cells} |")


if __name__ == "__main__":
    main()

import cv2
import numpy as np
import pytest

from fer_core.datasets import load_faces
from fer_core.errors import DatasetError
from fer_core.labels import EMOTIONS


@pytest.fixture()
def faces():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (14, 48, 48), dtype=np.uint8), np.arange(14) % 7


def test_npz(tmp_path, faces):
    x, y = faces
    np.savez(tmp_path / "split.npz", x=x, y=y)
    loaded = load_faces(tmp_path / "split.npz")
    assert np.array_equal(loaded.x, x) and np.array_equal(loaded.y, y) and len(loaded) == 14


def test_kaggle_csv_selects_rows_by_usage(tmp_path, faces):
    x, y = faces
    usages = ["Training"] * 10 + ["PublicTest"] * 4
    rows = [f"{label},{' '.join(map(str, img.ravel()))},{usage}" for img, label, usage in zip(x, y, usages)]
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    train = load_faces(tmp_path / "fer2013.csv", usage="Training")
    public = load_faces(tmp_path / "fer2013.csv", usage="PublicTest")
    assert np.array_equal(train.x, x[:10]) and np.array_equal(public.y, y[10:])
    with pytest.raises(DatasetError, match="PrivateTest"):
        load_faces(tmp_path / "fer2013.csv", usage="PrivateTest")


def test_image_folder_per_class(tmp_path, faces):
    x, y = faces
    for i, (img, label) in enumerate(zip(x, y)):
        folder = tmp_path / EMOTIONS[label].lower()
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    loaded = load_faces(tmp_path)
    assert sorted(loaded.y.tolist()) == sorted(y.tolist())
    order = np.argsort(y, kind="stable")
    assert np.array_equal(loaded.x, x[order])


@pytest.mark.parametrize("content, words", [("a,b\n1,2\n", "missing column"), ("emotion,pixels\n3,1 2 3\n", "2304")])
def test_bad_csv(tmp_path, content, words):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DatasetError, match=words):
        load_faces(tmp_path / "bad.csv")


def test_real_fer2013_splits(fer2013_dir):
    val = load_faces(fer2013_dir / "val.npz")
    assert len(val) == 3589 and np.bincount(val.y).tolist() == [467, 56, 496, 895, 653, 415, 607]


def test_crowd_votes_become_shares_in_fer2013_order(fer2013_dir):
    from fer_core.datasets import crowd_shares

    classes = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
    votes = np.array(
        [
            [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],  # happy 8, surprise 2
            [0, 0, 0, 0, 0, 0, 0, 3, 5, 2],  # no FER2013 class chosen
            [-1] * 10,
        ]
    )  # no votes
    shares = crowd_shares(votes, classes)
    assert shares.shape == (3, 7)
    assert shares[0].tolist() == pytest.approx([0, 0, 0, 0.8, 0, 0.2, 0])
    assert not shares[1:].any()
    train = load_faces(fer2013_dir / "train.npz")
    happy = train.y == EMOTIONS.index("Happy")
    assert train.crowd is not None and train.crowd.shape == (len(train), 7)
    assert (train.crowd[happy].argmax(axis=1) == train.y[happy]).mean() > 0.9  # the crowd mostly agrees on Happy


def test_crowd_mixed_targets_keep_the_fer2013_label_on_top(fer2013_dir):
    from fer_core.train import training_targets

    train = load_faces(fer2013_dir / "train.npz")
    targets = training_targets(train, 0.3)
    assert targets.sum(axis=1) == pytest.approx(np.ones(len(train)))
    assert (targets.argmax(axis=1) == train.y).all()
    assert (targets.max(axis=1) < 1).mean() > 0.5  # most faces get some of the crowd's doubt

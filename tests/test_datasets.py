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

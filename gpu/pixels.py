"""Lossless pixel prediction for packing faces (numpy only: it runs where the GPU is, beside ``train_torch.py``).

Each pixel is predicted from its decoded neighbours west, north and north-west by the median edge detector of
JPEG-LS (LOCO-I): min(W, N) where NW >= max(W, N), max(W, N) where NW <= min(W, N), else W + N - NW. The first row
predicts from the west, the first column from the north, the first pixel is 0. The error, modulo 256, is stored
zigzagged (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) so that small errors either way are small bytes, which LZMA2 packs
smaller than delta + LZMA2 packs the raw pixels (``gpu/pack_data.py``; sizes in bench/RESULTS.md, session 21).
"""

from __future__ import annotations

import numpy as np

NAME = "median-edge-zigzag"  # how a pack names pixels stored by encode (its ``pixels`` array)


def _median_edge(west: np.ndarray, north: np.ndarray, north_west: np.ndarray) -> np.ndarray:
    high, low = np.maximum(west, north), np.minimum(west, north)
    return np.where(north_west >= high, low, np.where(north_west <= low, high, west + north - north_west))


def _neighbours(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(west, north, north-west) of every pixel of int16 (N, H, W), with the edge rules of the module."""
    west, north, north_west = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    west[:, :, 1:] = x[:, :, :-1]
    north[:, 1:, :] = x[:, :-1, :]
    north_west[:, 1:, 1:] = x[:, :-1, :-1]
    west[:, 1:, 0] = north[:, 1:, 0]  # first column: predicted from the north
    north_west[:, 1:, 0] = north[:, 1:, 0]
    north[:, 0, 1:] = west[:, 0, 1:]  # first row: predicted from the west
    north_west[:, 0, 1:] = west[:, 0, 1:]
    return west, north, north_west


def encode(faces: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) faces -> uint8 (N, H, W) zigzagged prediction errors."""
    x = faces.astype(np.int16)
    error = (x - _median_edge(*_neighbours(x)) + 128) % 256 - 128  # -128..127
    return np.where(error >= 0, 2 * error, -2 * error - 1).astype(np.uint8)


def decode(errors: np.ndarray) -> np.ndarray:
    """The inverse of :func:`encode`: uint8 (N, H, W) faces, one pixel position at a time over all faces."""
    z = errors.astype(np.int16)
    error = np.where(z % 2 == 0, z // 2, -(z + 1) // 2)
    n, height, width = z.shape
    x = np.zeros((n, height, width), dtype=np.int16)
    for i in range(height):
        for j in range(width):
            if i == 0:
                predicted = x[:, 0, j - 1] if j else np.zeros(n, np.int16)
            elif j == 0:
                predicted = x[:, i - 1, 0]
            else:
                predicted = _median_edge(x[:, i, j - 1], x[:, i - 1, j], x[:, i - 1, j - 1])
            x[:, i, j] = (predicted + error[:, i, j]) % 256
    return x.astype(np.uint8)

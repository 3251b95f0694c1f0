"""Boxes as int (N, 4) arrays of pixel corners ``(x1, y1, x2, y2)``, x right and y down, x2/y2 exclusive."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): float (N, M) in 0..1."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes (N, 4) clipped to an image of ``width`` x ``height`` pixels (a new array)."""
    limits = np.array([width, height, width, height], dtype=np.int64)
    return np.minimum(np.maximum(np.asarray(boxes, dtype=np.int64).reshape(-1, 4), 0), limits)


def square_crop_box(box: np.ndarray, margin: float, shift_y: float = 0.0) -> np.ndarray:
    """The square int (4,) around ``box`` whose side is the box's longer side times ``1 + 2 * margin``, its centre
    moved down by ``shift_y`` box sides (negative: up). Not clipped: it may reach outside the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    longer = max(x2 - x1, y2 - y1)
    side = round(longer * (1.0 + 2.0 * margin))
    left = round((x1 + x2) / 2.0 - side / 2.0)
    top = round((y1 + y2) / 2.0 + shift_y * longer - side / 2.0)
    return np.array([left, top, left + side, top + side], dtype=np.int64)


def rotation(degrees: float) -> np.ndarray:
    """(2, 2) matrix turning (x, y) image vectors (y down) by ``degrees``, clockwise on screen for positive."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s], [s, c]])

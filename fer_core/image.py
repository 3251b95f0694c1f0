"""Pixel-format conversions: every image inside fer_core is uint8 BGR (H, W, 3) or gray (H, W)."""

from __future__ import annotations

import cv2
import numpy as np

from fer_core.errors import DecodeError


def check_frame(image) -> None:
    """Raise ValueError, naming what is expected, unless ``image`` is a uint8 (H, W) gray, (H, W, 1), BGR (H, W, 3)
    or BGRA (H, W, 4) array with H, W >= 1."""
    expected = "a uint8 array: gray (H, W) or (H, W, 1), BGR (H, W, 3) or BGRA (H, W, 4), H and W at least 1"
    if not isinstance(image, np.ndarray):
        raise ValueError(f"a frame must be {expected}; got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"a frame must be {expected}; got dtype {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"a frame must be {expected}; got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"a frame must be {expected}; got an empty frame of shape {image.shape}")


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) gray from a BGR (H, W, 3), BGRA (H, W, 4) or gray (H, W) / (H, W, 1) image."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(image, code)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) from gray (H, W) or (H, W, 1), BGRA (H, W, 4) or BGR; 16-bit images are scaled."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise DecodeError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(to_gray(image), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image

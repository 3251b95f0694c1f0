"""Pixel-format conversions: every image inside fer_core is uint8 BGR (H, W, 3) or gray (H, W)."""

from __future__ import annotations

import cv2
import numpy as np

from fer_core.errors import DecodeError


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

"""Convert core image arrays/tensors to QImage (copies, so the QImage owns its pixels)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def array_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) float in [0, 1] or uint8 -> QImage RGB888."""
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb[..., :3])
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def tensor_to_qimage(image) -> QImage:
    """(3, H, W) or (1, 3, H, W) torch tensor in [0, 1] -> QImage."""
    if image.ndim == 4:
        image = image[0]
    return array_to_qimage(image.detach().float().cpu().permute(1, 2, 0).numpy())

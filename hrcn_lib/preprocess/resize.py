"""LCID-Resize: an LCID sample shrunk to the paper's 224 x 448 (Sec. 2.2).

Kept apart from :mod:`hrcn_lib.datasets` (manifests, pandas) so that classifying one sample
(:class:`hrcn_lib.inference.Predictor`) imports only what it uses.
"""

from __future__ import annotations

import cv2
import numpy as np

from hrcn_lib.names import RESIZE_SIZE

__all__ = ["resize_sample"]


def resize_sample(sample: np.ndarray, size: tuple[int, int] = RESIZE_SIZE) -> np.ndarray:
    """LCID-Resize: ``cv2.resize`` with its default interpolation (``INTER_LINEAR``).

    Args:
        sample: float32 array (2048, 4096), an LCID sample.
        size: output ``(H, W)``; passed to OpenCV as ``dsize = (W, H)``.

    Returns:
        float32 array of shape ``size``.
    """
    height, width = size
    return cv2.resize(sample, (width, height))

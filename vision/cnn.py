"""The building blocks of a CNN in plain numpy, for the kernel playground
(seed section 3: 2-D convolution, activation, pooling, flatten).

"Convolution" here is the seed's ``conv2D(P, Q) = sum(p_ij * q_ij)`` slid
over the image: cross-correlation, the kernel is not flipped — as in Keras'
``Conv2D`` and every deep-learning library. Arrays are ``(height, width)``
float64 for one channel; colour photos are converted to grey first.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

KERNELS: dict[str, np.ndarray] = {
    # seed section 3, "Một số dạng kernel đặc biệt"
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "edge": np.array([[0, -1, 0], [-1, 0, 1], [0, 1, 0]], dtype=np.float64),
    # seed section 3: the horizontal and vertical line kernels K and K2 of the square example
    "horizontal_line": np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=np.float64),
    "vertical_line": np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=np.float64),
    # a common extra: 3x3 box blur
    "blur": np.full((3, 3), 1 / 9, dtype=np.float64),
}
PADDINGS = ("valid", "same")


def conv2d_at(p: np.ndarray, q: np.ndarray) -> float:
    """The seed's ``conv2D(P, Q) = sum(p_ij * q_ij)`` of two same-shape arrays."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"P and Q must have the same shape, got {p.shape} and {q.shape}")
    return float(np.sum(p * q))


def conv2d(image: np.ndarray, kernel: np.ndarray, *, padding: str = "valid", stride: int = 1) -> np.ndarray:
    """Slide ``kernel`` over ``image`` (cross-correlation, as Keras' Conv2D).

    Args:
        image: ``(H, W)`` numbers.
        kernel: ``(kh, kw)`` numbers, each side 1..15.
        padding: ``"valid"`` (output ``(H-kh)//s+1``) or ``"same"`` (zero
            padding so that with stride 1 the output is ``(H, W)``; with
            stride s it is ``ceil(H/s)``, TensorFlow's rule).
        stride: step in pixels, >= 1.

    Returns:
        ``(H', W')`` float64.

    Raises:
        ValueError: bad shapes, padding, stride, or a kernel larger than a valid-padded image.
    """
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("image and kernel must be 2-D arrays")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}")
    if stride < 1:
        raise ValueError("stride must be at least 1")
    kh, kw = kernel.shape
    if not (1 <= kh <= 15 and 1 <= kw <= 15):
        raise ValueError("kernel sides must be between 1 and 15")
    if padding == "same":
        h, w = image.shape
        out_h, out_w = -(-h // stride), -(-w // stride)
        pad_h = max((out_h - 1) * stride + kh - h, 0)
        pad_w = max((out_w - 1) * stride + kw - w, 0)
        image = np.pad(image, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))
    if image.shape[0] < kh or image.shape[1] < kw:
        raise ValueError(f"the kernel {kernel.shape} is larger than the image {image.shape}")
    windows = sliding_window_view(image, (kh, kw))[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, kernel)


def relu(x: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """``max(0, x - offset)``: the seed's "ReLU with an offset" keeps only
    responses above ``offset`` (offset 2 keeps the 3s of its square example)."""
    return np.maximum(np.asarray(x, dtype=np.float64) - offset, 0.0)


def pool2d(x: np.ndarray, size: int = 2, *, mode: str = "max", stride: int | None = None) -> np.ndarray:
    """Max or average pooling over ``size x size`` windows (stride defaults
    to ``size``; a ragged border is dropped, as Keras' ``padding='valid'``).

    Returns:
        ``((H-size)//stride+1, (W-size)//stride+1)`` float64.
    """
    x = np.asarray(x, dtype=np.float64)
    if mode not in ("max", "average"):
        raise ValueError("mode must be 'max' or 'average'")
    stride = stride or size
    if size < 1 or stride < 1 or x.ndim != 2 or x.shape[0] < size or x.shape[1] < size:
        raise ValueError(f"cannot pool a {x.shape} array with size {size}")
    windows = sliding_window_view(x, (size, size))[::stride, ::stride]
    return windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))


def flatten(*feature_maps: np.ndarray) -> np.ndarray:
    """Concatenate feature maps into one vector (seed: two 3x3 maps -> 18 values).

    Returns:
        ``(sum of sizes,)`` float64.
    """
    return np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in feature_maps])


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 3) uint8 RGB`` -> ``(H, W)`` float64 in 0..255 (ITU-R BT.601 luma, as Pillow's "L")."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        return pixels.astype(np.float64)
    return pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def to_display(x: np.ndarray) -> np.ndarray:
    """Scale any array to ``uint8`` 0..255 for display (min-max, as the seed
    does to show kernels and activations); a constant array becomes 0."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        return np.zeros(x.shape, dtype=np.uint8)
    return np.round((x - lo) / (hi - lo) * 255).astype(np.uint8)


#: Largest kernel value a person may type: beyond it outputs overflow to inf and the pictures go blank.
KERNEL_VALUE_LIMIT = 1000.0


def parse_kernel(text: str) -> np.ndarray:
    """A kernel typed by a person: rows on lines (or separated by ``;``),
    numbers by spaces or commas. Must be square 3x3 or 5x5, of finite values
    within ``±KERNEL_VALUE_LIMIT``.

    Returns:
        ``(3, 3)`` or ``(5, 5)`` float64.

    Raises:
        ValueError: with a sentence for the user (not numbers; not 3x3 or 5x5,
            rows of unequal length included; nan, inf or too large).
    """
    rows = [r for r in text.replace(";", "\n").splitlines() if r.strip()]
    try:
        values = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
    except ValueError:
        raise ValueError("The kernel must contain only numbers.") from None
    if len(values) not in (3, 5) or any(len(r) != len(values) for r in values):
        raise ValueError("Type a 3×3 or 5×5 kernel: 3 or 5 rows of 3 or 5 numbers.")
    k = np.array(values, dtype=np.float64)
    if not np.all(np.abs(k) <= KERNEL_VALUE_LIMIT):  # also false for nan
        raise ValueError(f"Kernel values must be numbers between -{KERNEL_VALUE_LIMIT:g} and {KERNEL_VALUE_LIMIT:g}.")
    return k

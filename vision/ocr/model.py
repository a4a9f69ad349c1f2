"""The line reader (seed section 7): convolution blocks, the feature map read
as a sequence along the width, two bidirectional GRU layers, one score per
column for each character and the blank; and the input it takes.

Its input is a grey image of fixed size ``(height, width)``. A text line is
resized to the height keeping its aspect ratio and padded on the right with
its own border's grey (``keep_aspect=True``: plates, tight line crops); a
whole card is stretched to the size (``keep_aspect=False``), as the seed
feeds its 512x384 cards whole: the reader learns where the number's line
is, no separate line finder is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The convolutions halve the height four times and the width twice: ``width / 4`` columns.
HEIGHT_DIVISOR, WIDTH_DIVISOR = 16, 4
#: How much wider than the input a line may be before it is refused rather than squeezed.
MAX_SQUEEZE = 1.5
#: Smallest side, in pixels, of an image that can hold a readable line.
MIN_SIDE = 8
#: Grey-level standard deviation (0..255) under which a photo is one flat colour: nothing to read.
BLANK_STD = 2.0


@dataclass(frozen=True)
class LineShape:
    """The input a reader takes.

    Attributes:
        height, width: pixels; height a multiple of 16 (16..128), width a multiple of 4 (32..1024).
        keep_aspect: True: resize to ``height`` keeping the aspect ratio and pad (lines); False:
            stretch to the size (whole cards).

    Raises:
        ValueError: a size out of range (in words).
    """

    height: int = 32
    width: int = 256
    keep_aspect: bool = True

    def __post_init__(self):
        if not (16 <= self.height <= 128 and self.height % HEIGHT_DIVISOR == 0):
            raise ValueError("The line height must be a multiple of 16 from 16 to 128 pixels.")
        if not (32 <= self.width <= 1024 and self.width % WIDTH_DIVISOR == 0):
            raise ValueError("The line width must be a multiple of 4 from 32 to 1024 pixels.")

    @property
    def columns(self) -> int:
        """Time steps the reader outputs: the most characters (and blanks) it can emit."""
        return self.width // WIDTH_DIVISOR


def line_input(pixels: np.ndarray, shape: LineShape) -> np.ndarray:
    """A photo as the reader's input.

    Args:
        pixels: ``(h, w, 3) uint8`` RGB or ``(h, w) uint8`` grey.

    Returns:
        ``(shape.height, shape.width, 1) float32`` grey 0..255.

    Raises:
        ValueError: with ``keep_aspect``, a line more than ``MAX_SQUEEZE`` times wider than the
            reader takes once resized to its height (the widest aspect ratio it reads is stated);
            an image under MIN_SIDE pixels on a side; a blank one (``BLANK_STD``) (in words).
    """
    from PIL import Image

    a = np.asarray(pixels)
    if a.ndim < 2 or min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"The image is {a.shape[1] if a.ndim >= 2 else 0}×{a.shape[0]} px: too small to hold "
                         f"a line of text (at least {MIN_SIDE} px on each side).")
    im = Image.fromarray(a.astype(np.uint8)).convert("L")
    h, w = shape.height, shape.width
    scaled = max(1, round(im.width * h / im.height))
    if shape.keep_aspect and scaled > w * MAX_SQUEEZE:
        raise ValueError(f"This line is {im.width}×{im.height} px, {im.width / im.height:.0f} times wider than high; "
                         f"the reader takes lines up to {w * MAX_SQUEEZE / h:.0f} times wider than high "
                         f"({w}×{h} px input): crop it into shorter lines.")
    if np.asarray(im, np.float32).std() < BLANK_STD:
        raise ValueError("The photo is blank (one flat colour): there is no text on it to read.")
    if not shape.keep_aspect:
        return np.asarray(im.resize((w, h), Image.BILINEAR), np.float32)[..., None]
    line = np.asarray(im.resize((min(scaled, w), h), Image.BILINEAR), np.float32)
    out = np.empty((h, w), np.float32)
    out[:, :line.shape[1]] = line
    out[:, line.shape[1]:] = np.median(line[:, -1])  # the line's own background, not black
    return out[..., None]


def build_reader(shape: LineShape, classes: int, *, filters: int = 64, rnn_units: int = 128, dropout: float = 0.25,
                 batch_size: int | None = None):
    """The CRNN (Shi, Bai & Yao, "An End-to-End Trainable Neural Network for Image-based
    Sequence Recognition", TPAMI 2017; the seed's section 7 model).

    Args:
        shape: the input (:class:`LineShape`).
        classes: output classes, the alphabet plus the blank (``Alphabet.size``).
        filters: width of the first convolutions (the later ones double it).
        rnn_units: units of each GRU direction.
        dropout: training-time dropout; 0 builds no dropout state at all.
        batch_size: a fixed batch (None: any). TensorFlow Lite's converter lowers the GRU loop
            only where its tensor lists have a static shape: batch 1, with no dropout state.

    Returns:
        ``keras.Model``: ``(b, height, width, 1) float32`` 0..255 -> ``(b, width / 4, classes)``
        logits (not normalised: Keras' ``CTC`` loss and the decoders take logits).
    """
    import keras
    from keras import layers

    inputs = keras.Input((shape.height, shape.width, 1), name="line", batch_size=batch_size)
    x = layers.Rescaling(1 / 127.5, -1.0)(inputs)
    for i, (f, pool) in enumerate(((filters, (2, 2)), (filters * 2, (2, 2)), (filters * 2, (2, 1)),
                                   (filters * 4, (2, 1)))):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool, name=f"pool{i + 1}")(x)
    # (b, h/16, w/4, c) -> one feature vector per column, read from left to right
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((shape.columns, (shape.height // HEIGHT_DIVISOR) * filters * 4))(x)
    x = layers.Dense(rnn_units, activation="relu", name="columns")(x)
    x = layers.Dropout(dropout)(x)
    for i in range(2):
        x = layers.Bidirectional(layers.GRU(rnn_units, return_sequences=True, dropout=dropout / 2),
                                 name=f"bigru{i + 1}")(x)
    outputs = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="line_reader")

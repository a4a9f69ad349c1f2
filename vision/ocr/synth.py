"""Seeded synthetic text lines: payment cards (seed section 7 trains on 1,000
card images of 512x384) and licence plates.

Sample ``i`` of seed ``s`` is drawn from ``numpy.random.default_rng([s, i])``:
the same whatever the count asked, so a held-out set is simply another seed.

Cards: 16 digits passing the Luhn check, printed in four groups of four in
an OCR-style font (OCR-A where Debian's ``fonts-ocr-a`` is installed, else
DejaVu Sans Mono) either flat or embossed (a light and a dark edge), on a
coloured background with a chip, a bank name, an expiry date and a holder's
name as distractors; then a small rotation, a perspective, blur and noise.
Whole 512x384 cards, or tight crops of the number's line.

Plates: 5-8 upper-case letters and digits in tall condensed glyphs on a
light plate with scenery, stickers, a state name above and a slogan below,
320x160 (the size of ``../shared/datasets/text_lines``), with the same
distortions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vision.ocr.text import DIGITS, PLATE, luhn_complete

CARD_SIZE = (512, 384)
PLATE_SIZE = (320, 160)
_FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))
_OCR_FONTS = ("ocr-a/OCRA.ttf", "ocr-a/OCRAStd.ttf", "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSansMono-Bold.ttf")
_PLATE_FONTS = ("dejavu/DejaVuSansCondensed-Bold.ttf", "dejavu/DejaVuSans-Bold.ttf",
                "liberation/LiberationSans-Bold.ttf", "liberation/LiberationSansNarrow-Bold.ttf",
                "dejavu/DejaVuSansMono-Bold.ttf")
_SMALL_FONTS = ("dejavu/DejaVuSans.ttf", "liberation/LiberationSans-Regular.ttf")
_SERIF_FONTS = ("dejavu/DejaVuSerif-Bold.ttf", "liberation/LiberationSerif-Bold.ttf")
_STATES = ("CALIFORNIA", "TEXAS", "OHIO", "NEW YORK", "FLORIDA", "ALASKA", "ARIZONA", "GEORGIA", "OREGON",
           "VERMONT", "NEVADA", "UTAH", "MAINE", "IOWA", "KANSAS")


@dataclass(frozen=True)
class SyntheticLine:
    """One generated sample.

    Attributes:
        pixels: ``(h, w, 3) uint8`` RGB.
        text: its transcription (a card's 16 digits without spaces).
    """

    pixels: np.ndarray
    text: str


@lru_cache(maxsize=None)
def _fonts(names: tuple[str, ...]) -> tuple[str, ...]:
    found = tuple(str(d / n) for n in names for d in _FONT_DIRS if (d / n).is_file())
    if not found:
        raise FileNotFoundError(f"None of the fonts {', '.join(names)} is installed (Debian: fonts-dejavu-core).")
    return found


def _font(names: tuple[str, ...], size: int, rng):
    from PIL import ImageFont

    paths = _fonts(names)
    return ImageFont.truetype(paths[int(rng.integers(len(paths)))], size)


def card_number(rng) -> str:
    """16 random digits passing the Luhn check, starting 2-6 (the major networks' ranges)."""
    return luhn_complete(str(rng.integers(2, 7)) + "".join(rng.choice(list(DIGITS), 14)))


def plate_text(rng) -> str:
    """5-8 characters from A-Z and 0-9, letter and digit runs as plates have them."""
    n = int(rng.integers(5, 9))
    pattern = rng.choice(["LLLDDDD", "DLLLDDD", "LLDDDDD", "DDDLLL", "LLLLDD", "any"])
    if pattern == "any":
        return "".join(rng.choice(list(PLATE), n))
    return "".join(rng.choice(list(PLATE[:26] if c == "L" else DIGITS)) for c in pattern)


def _background(size: tuple[int, int], rng, light: bool = False) -> "Image.Image":
    from PIL import Image, ImageDraw

    w, h = size
    a, b = (rng.integers(170, 256, 3) if light else rng.integers(0, 256, 3)), rng.integers(0, 256, 3)
    if light:
        b = np.clip(a + rng.integers(-30, 30, 3), 150, 255)
    t = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None, None]
    grad = (a * (1 - t) + b * t) * np.ones((h, w, 1))
    im = Image.fromarray(grad.astype(np.uint8))
    draw = ImageDraw.Draw(im, "RGBA")
    for _ in range(int(rng.integers(0, 5))):
        x, y, r = rng.integers(-w // 4, w), rng.integers(-h // 4, h), rng.integers(20, max(21, w // 2))
        draw.ellipse((x, y, x + r, y + r), fill=(*rng.integers(0, 256, 3).tolist(), int(rng.integers(15, 60))))
    return im


def _ink(background_mean: float, rng) -> tuple[int, int, int]:
    """A text colour that contrasts with a background of this mean grey."""
    v = rng.integers(0, 70, 3) if background_mean > 120 else rng.integers(190, 256, 3)
    return tuple(int(c) for c in v)


def _distort(im, rng, *, angle: float = 2.0, warp: float = 0.03, blur: float = 1.2, noise: float = 8.0):
    from PIL import Image, ImageFilter

    w, h = im.size
    fill = tuple(int(c) for c in np.asarray(im)[0, 0])
    im = im.rotate(float(rng.uniform(-angle, angle)), resample=Image.BILINEAR, fillcolor=fill)
    d = rng.uniform(-warp, warp, 8) * np.array([w, h] * 4)
    quad = (np.array([0, 0, 0, h, w, h, w, 0], float) + d).tolist()
    im = im.transform((w, h), Image.QUAD, quad, resample=Image.BILINEAR, fillcolor=fill)
    r = float(rng.uniform(0, blur))
    if r > 0.2:
        im = im.filter(ImageFilter.GaussianBlur(r))
    a = np.asarray(im, np.float32) + rng.normal(0, rng.uniform(0, noise), (h, w, 1))
    return np.clip(a, 0, 255).astype(np.uint8)


def _card(rng, line: bool) -> SyntheticLine:
    from PIL import ImageDraw

    number = card_number(rng)
    im = _background(CARD_SIZE, rng)
    draw = ImageDraw.Draw(im)
    mean = float(np.asarray(im).mean())
    ink = _ink(mean, rng)
    small = _font(_SMALL_FONTS, int(rng.integers(18, 30)), rng)
    letters = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    draw.text((int(rng.integers(25, 80)), int(rng.integers(20, 60))),
              "".join(rng.choice(letters, int(rng.integers(4, 10)))) + " BANK", font=small, fill=ink)
    cx, cy = int(rng.integers(40, 90)), int(rng.integers(110, 150))
    draw.rounded_rectangle((cx, cy, cx + 60, cy + 45), radius=6, fill=(int(rng.integers(170, 230)), 170, 90))
    font = _font(_OCR_FONTS, int(rng.integers(32, 42)), rng)
    x, y = int(rng.integers(25, 60)), int(rng.integers(185, 240))
    shown = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    box = draw.textbbox((x, y), shown, font=font)
    while box[2] > CARD_SIZE[0] - 10:  # a wide font at a large size: smaller, never cut off
        font = font.font_variant(size=font.size - 2)
        box = draw.textbbox((x, y), shown, font=font)
    if rng.random() < 0.5:  # embossed: raised digits catch light on one edge, shade on the other
        base = tuple(int(c) for c in np.clip(np.asarray(ink) * 0.5 + mean * 0.5, 0, 255))
        draw.text((x - 1, y - 1), shown, font=font, fill=(235, 235, 235))
        draw.text((x + 1, y + 1), shown, font=font, fill=(40, 40, 40))
        draw.text((x, y), shown, font=font, fill=base)
    else:
        draw.text((x, y), shown, font=font, fill=ink)
    under = box[3] + int(rng.integers(12, 30))
    draw.text((x + int(rng.integers(60, 200)), under), f"{rng.integers(1, 13):02d}/{rng.integers(24, 35)}",
              font=small, fill=ink)
    draw.text((x, under + 34), " ".join("".join(rng.choice(letters, int(rng.integers(3, 8)))) for _ in range(2)),
              font=small, fill=ink)
    if line:
        m = int(rng.integers(4, 14))
        im = im.crop((max(0, box[0] - m), max(0, box[1] - m), min(CARD_SIZE[0], box[2] + m),
                      min(CARD_SIZE[1], box[3] + m)))
        return SyntheticLine(_distort(im, rng, angle=1.0, warp=0.01), number)
    return SyntheticLine(_distort(im, rng), number)


def _plate(rng) -> SyntheticLine:
    """A US-style plate: the text drawn in a condensed bold face, then stretched to the tall,
    narrow glyphs plates use, with a separator (space, dot or dash) that is not part of the
    text; a state name above (sans or serif, often coloured), a slogan below, stickers in the
    corners and scenery behind (as on ``../shared/datasets/text_lines``)."""
    from PIL import Image, ImageDraw

    text = plate_text(rng)
    w, h = PLATE_SIZE
    im = _background(PLATE_SIZE, rng, light=True)
    draw = ImageDraw.Draw(im, "RGBA")
    for _ in range(int(rng.integers(0, 3))):  # scenery: hills, a band of colour
        y = int(rng.integers(h // 2, h))
        draw.polygon([(0, h), (0, y), (int(rng.integers(0, w)), int(rng.integers(h // 2, h))), (w, y), (w, h)],
                     fill=(*rng.integers(0, 256, 3).tolist(), int(rng.integers(60, 160))))
    frame = tuple(int(c) for c in rng.integers(0, 200, 3))
    if rng.random() < 0.7:
        draw.rounded_rectangle((3, 3, w - 4, h - 4), radius=12, outline=frame, width=int(rng.integers(1, 5)))
    state = _font(_SMALL_FONTS + _SERIF_FONTS, int(rng.integers(20, 34)), rng)
    label = str(rng.choice(_STATES))
    label = label.title() if rng.random() < 0.4 else label
    tb = draw.textbbox((0, 0), label, font=state)
    draw.text(((w - tb[2]) // 2, int(rng.integers(2, 14))), label, font=state, fill=frame)
    for corner in range(int(rng.integers(0, 3))):  # registration stickers
        sx = int(rng.integers(8, 40)) if corner == 0 else int(rng.integers(w - 70, w - 40))
        sticker = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.rectangle((sx, 8, sx + int(rng.integers(25, 45)), 8 + int(rng.integers(18, 30))), fill=sticker)
    # the text: drawn, then stretched vertically to plate proportions
    font = _font(_PLATE_FONTS, 64, rng)
    sep = str(rng.choice(["", " ", " ", "·", "-"]))
    cut = int(rng.integers(2, len(text) - 1))
    shown = text[:cut] + sep + text[cut:] if rng.random() < 0.6 else text
    tb = font.getbbox(shown)
    glyphs = Image.new("L", (tb[2] + 4, tb[3] + 4), 0)
    ImageDraw.Draw(glyphs).text((2, 2), shown, font=font, fill=255)
    glyphs = glyphs.crop(glyphs.getbbox())
    th = int(h * rng.uniform(0.38, 0.55))
    tw = min(w - 16, int(glyphs.width * th / glyphs.height * rng.uniform(0.55, 0.9)))
    glyphs = glyphs.resize((tw, th), Image.BILINEAR)
    ink = tuple(int(c) for c in rng.choice([[20, 20, 20], [150, 20, 30], [20, 40, 120], [20, 90, 60]])
                + rng.integers(-20, 20, 3))
    x = min(max(4, (w - tw) // 2 + int(rng.integers(-10, 11))), w - tw - 4)  # never cut off
    y = (h - th) // 2 + int(rng.integers(-6, 12))
    im.paste(Image.new("RGB", glyphs.size, tuple(int(max(0, c)) for c in ink)), (x, y), glyphs)
    draw = ImageDraw.Draw(im)
    if rng.random() < 0.7:
        slogan = _font(_SMALL_FONTS + _SERIF_FONTS, int(rng.integers(11, 18)), rng)
        words = ["".join(rng.choice(list("ABCDEFGHIJKLMNOPRSTUVW"), int(rng.integers(3, 8)))) for _ in range(2)]
        sb = draw.textbbox((0, 0), " ".join(words), font=slogan)
        draw.text(((w - sb[2]) // 2, h - int(rng.integers(22, 32))), " ".join(words), font=slogan, fill=frame)
    return SyntheticLine(_distort(im, rng, angle=4.0, warp=0.05, blur=1.5, noise=10.0), text)


def synthetic_cards(n: int, seed: int, *, line: bool = False, start: int = 0) -> list[SyntheticLine]:
    """``n`` cards (samples ``start`` .. ``start + n - 1`` of ``seed``): whole 512x384 cards,
    or with ``line`` tight crops of the number's line (about 420x60 px)."""
    return [_card(np.random.default_rng([seed, i]), line) for i in range(start, start + n)]


def synthetic_plates(n: int, seed: int, *, start: int = 0) -> list[SyntheticLine]:
    """``n`` 320x160 plates (samples ``start`` .. ``start + n - 1`` of ``seed``)."""
    return [_plate(np.random.default_rng([seed, i])) for i in range(start, start + n)]

"""Reading and writing images the way a user's files actually are.

Input images may be 16-bit, CMYK, palette, greyscale or carry alpha; they are converted to
8-bit RGB (alpha composited over white) with a clear error for anything unreadable.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.errors import BadInput
from engine.limits import MAX_IMAGE_PIXELS


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator:
    """`PIL.Image.open(path)` for a user's file, with one sentence for whatever is wrong with it:
    missing, unreadable, truncated, or too large to open (a decompression bomb). Only the header
    is read here; pixels load when the caller asks for them, inside the same checks."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path} does not exist or is not a file.")
    # PIL warns between its own limit and twice that; ours is lower and checked below, so its
    # warning would only be noise on stderr
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise _too_large(path, f"is {image.width}x{image.height}")
            yield image
    except Image.DecompressionBombError:
        raise _too_large(path, f"has more than {Image.MAX_IMAGE_PIXELS // 1_000_000} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInput(f"{path.name} is not a readable image ({exc}).") from exc


def _too_large(path: Path, size: str) -> BadInput:
    return BadInput(f"{path.name} {size}, too large to open; scale it below {MAX_IMAGE_PIXELS // 1_000_000} "
                    "megapixels first.")


def load_rgb(path: str | Path):
    """Open `path` as an 8-bit RGB PIL image, whatever its mode."""
    with open_image(path) as image:
        image.load()
        return to_rgb(image)


def to_rgb(image):
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((array / peak * 255.0).round().astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def to_float_array(image) -> np.ndarray:
    """An RGB PIL image as float32 HxWx3 in [0, 1]."""
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0

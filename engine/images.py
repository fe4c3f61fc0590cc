"""Reading and writing images the way a user's files actually are.

Input images may be 16-bit, CMYK, palette, greyscale or carry alpha; they are converted to
8-bit RGB (alpha composited over white) with a clear error for anything unreadable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import BadInput

MAX_PIXELS = 64_000_000  # refuse decompression bombs with a sentence, not a crash


def load_rgb(path: str | Path):
    """Open `path` as an 8-bit RGB PIL image, whatever its mode."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path} does not exist or is not a file.")
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise BadInput(
                    f"{path.name} is {image.width}x{image.height}, too large to edit; "
                    f"scale it below {MAX_PIXELS // 1_000_000} megapixels first."
                )
            image.load()
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadInput(f"{path.name} is not a readable image ({exc}).") from exc


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

"""Checks that come before any work: a request's values (types and engine.limits' bounds) and the
folder its results go to.

A request may come from the command line, the window or a PNG's metadata (untrusted: any JSON
value can sit in any field), so the checks follow the request dataclasses' own annotations:
a `count: "3"` or a `seed: 2**70` is refused with a sentence naming the field, never passed on
to fail deep inside torch.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

from engine.errors import BadInput
from engine.limits import FIELD_BOUNDS, LIMITS, MAX_PIXELS, SEED_MAX

_KIND_WORDS = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


def check_request(request: Any) -> None:
    """Refuse `request` (any api request dataclass) when a value has the wrong type or is out of bounds."""
    check_fields(request)
    seed, count = getattr(request, "seed", None), getattr(request, "count", 1)
    if seed is not None and seed + count - 1 > SEED_MAX:
        raise BadInput(f"Seed {seed} with count {count} runs past the largest seed ({SEED_MAX}); use a smaller seed.")
    width, height = getattr(request, "width", None), getattr(request, "height", None)
    if width is not None and height is not None:  # one left out is the model's native side: see check_pixels
        check_pixels(width, height)


def check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise BadInput(f"{width}x{height} is too large; stay within {MAX_PIXELS // 1_000_000} megapixels.")


def check_fields(obj: Any) -> None:
    """Type and bound checks of every field of a dataclass instance, recursing into nested ones."""
    hints = _hints(type(obj))
    for field in dataclasses.fields(obj):
        _check_value(field.name, getattr(obj, field.name), hints.get(field.name, Any))


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation this module cannot resolve: those fields go unchecked
        return {}


_LABELS = {"rows": "Grid rows", "cols": "Grid columns", "seeds": "Grid seeds"}  # GridSeeds' fields


def _label(name: str) -> str:
    """How a sentence names a field: `grid_rows` -> "Grid rows"."""
    return _LABELS.get(name) or name.replace("_", " ").capitalize()


def _check_value(name: str, value: Any, hint: Any) -> None:
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if value is None:
        if type(None) in allowed:
            return
        raise BadInput(f"{_label(name)} is missing; give a value.")
    for kind in allowed:
        if kind is type(None):
            continue
        if typing.get_origin(kind) is tuple:  # tuple[int, ...]: each element like a lone value
            if isinstance(value, tuple):
                for item in value:
                    _check_value(name, item, typing.get_args(kind)[0])
                return
        elif dataclasses.is_dataclass(kind):
            if isinstance(value, kind):
                check_fields(value)
                return
        elif kind not in _KIND_WORDS:  # a type these checks do not know (a dict, a Literal...): the task's to judge
            return
        elif _is_a(value, kind):
            _check_bound(name, value)
            return
    words = " or ".join(_KIND_WORDS.get(k, getattr(k, "__name__", str(k))) for k in allowed if k is not type(None))
    raise BadInput(f"{_label(name)} must be {words}, got {_show(value)}.")


def _is_a(value: Any, kind: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _check_bound(name: str, value: Any) -> None:
    key = FIELD_BOUNDS.get(name)
    if key is None or isinstance(value, (str, bool)):
        return
    bound = LIMITS[key]
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(f"{_label(name)} must be a finite number, got {value}.")
    if not bound.allows(value):
        hint = f"; {bound.hint}" if bound.hint else ""
        raise BadInput(f"{_label(name)} must be {bound.describe()}, got {_show(value)}{hint}.")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_output_dir(folder: str | Path) -> None:
    """Refuse an output folder that cannot be written before any work is done: a file, a path
    below a file, a name longer than the file system allows, or a place we may not create in
    (a read-only disk, /proc). Leaves nothing behind: a folder that does not exist yet is not
    created here, only the nearest existing one is probed."""
    folder = Path(folder)
    if _exists(folder) and not folder.is_dir():
        raise BadInput(f"{folder} is a file, not a folder; give --out a folder to write results into.")
    existing = folder
    while not _exists(existing):
        existing = existing.parent
    if not existing.is_dir():
        raise BadInput(f"{existing} is a file, so the output folder {folder} cannot be made under it.")
    longest = _name_max(existing)
    for part in folder.relative_to(existing).parts:
        if len(os.fsencode(part)) > longest:
            raise BadInput(f"The output folder name {part[:24]}... is too long ({len(os.fsencode(part))} bytes; "
                           f"this file system allows {longest}); pick a shorter name.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".latent-studio-probe-", dir=existing))
    except OSError as exc:
        raise BadInput(f"Cannot write into {existing} ({exc.strerror or exc}); pick a folder you can write to.") from None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: it does not exist (and is refused below)
        return False


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255

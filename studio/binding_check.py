"""Refuse to open the window on a Qt binding that loses references to Python's singletons.

PySide6 6.12.0 on Python 3.10/3.11 drops one reference to None on every method called from
Python that returns nothing (QPainter.save, setPen, drawLine ...) or an empty QVariant
(QModelIndex.data of an empty role), and one to True on every Signal.emit. A painting window
makes thousands of such calls a second, so the interpreter aborts with "Fatal Python error:
none_dealloc" within minutes (issue 10), whatever our code does; pyproject.toml excludes that
release. This check measures the behaviour, not a version number, so a later release with the
same fault is caught too, and on Python 3.12+ (immortal None) it passes as it should.
"""

from __future__ import annotations

import sys
from typing import Callable, Optional

PROBE_CALLS = 64

BROKEN_BINDING = (
    "latent-studio: this PySide6 ({version}) loses a Python reference on every call and the window "
    "would crash within minutes; install another release: pip install \"PySide6-Essentials!={version}\""
)


def _void_call() -> Callable[[], object]:
    from PySide6.QtCore import QRect

    rect = QRect()
    return lambda: rect.setWidth(1)


def drops_references(call: Optional[Callable[[], object]] = None, calls: int = PROBE_CALLS) -> bool:
    """Whether `call` (default: a Qt method returning nothing) costs None a reference each time."""
    call = call or _void_call()
    before = sys.getrefcount(None)
    for _ in range(calls):
        call()
    return before - sys.getrefcount(None) >= calls // 2


def broken_binding_message() -> Optional[str]:
    """The sentence to stop with when the installed binding has the fault, else None."""
    if not drops_references():
        return None
    import PySide6

    return BROKEN_BINDING.format(version=PySide6.__version__)

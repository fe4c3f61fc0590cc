"""Keep Python's cycle collector off the long-lived heap: libraries, the window, loaded models.

A full (generation 2) collection walks every tracked object while it holds the GIL, so every
thread waits, the GUI thread included. The window's heap after start is some 420,000 objects
(torch, diffusers, transformers, PySide6); a full collection of it took 660-770 ms on this
project's 2-core machine, and Python starts one by itself whenever enough objects have survived,
for instance while a model loads: an 835 ms event-loop stall with a clip generating (issue 17.7).

`gc.freeze()` moves everything alive to a permanent generation that collections skip (after it
the same full collection took under 1 ms). Objects in it are still freed by reference counting;
only reference cycles among them wait for `collect()`, which the model cache calls when it drops
a model, the one time a large amount of cyclic garbage is expected.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """What exists now is long-lived: keep future collections off it (cheap: no collection)."""
    gc.freeze()


def collect() -> None:
    """A real full collection, frozen objects included (after a model is dropped), then settle again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()

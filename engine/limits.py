"""The bounds on every number a request carries: one table, shared by the command line, the
window and recorded metadata (a PNG's request is untrusted input and gets the same bounds).

The bounds are wide enough for what real models need (SDXL at 1024 px, sd-turbo at 1 step and
guidance 0, a 150-step render) and narrow enough that no value makes a job run without end,
allocate gigabytes for nothing, or make garbage. Size is also judged against the model's native
size: far beyond it models repeat their subject and the cost grows with the square of the side,
so the command line refuses it unless asked (`--any-size`) and the window warns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    """An inclusive range [low, high] (open at low when `above_low`)."""

    low: float
    high: float
    whole: bool  # a whole number, not any number
    above_low: bool = False
    hint: str = ""  # what to do instead, when the range alone does not say

    def allows(self, value: float) -> bool:
        low_ok = value > self.low if self.above_low else value >= self.low
        return low_ok and value <= self.high

    def describe(self) -> str:
        if self.whole:
            return f"from {int(self.low)} to {int(self.high)}"
        return f"above {self.low:g} and at most {self.high:g}" if self.above_low else f"from {self.low:g} to {self.high:g}"


SEED_MAX = 2**64 - 1  # what torch.Generator.manual_seed takes; ComfyUI's range, a superset of A1111's 32 bits

LIMITS: dict[str, Bound] = {
    "count": Bound(1, 100, whole=True, hint="run the command again for more"),
    # diffusers schedulers have at most 1000 training timesteps; more steps than that are refused there
    "steps": Bound(1, 1000, whole=True),
    "seed": Bound(0, SEED_MAX, whole=True, hint="leave it out for a random one"),
    # 0 turns classifier-free guidance off, which turbo and LCM models need; peers stop at 30-100
    "guidance": Bound(0, 50, whole=False),
    # 0 would change nothing (and diffusers then runs zero steps), so it is refused, not rounded up
    "strength": Bound(0, 1, whole=False, above_low=True),
    "radius": Bound(0, 16384, whole=False),
    "grid": Bound(1, 64, whole=True),
    "side": Bound(1, 16384, whole=True),
    "block": Bound(0, 63, whole=True),
    "feather": Bound(0, 1024, whole=True),
    # a clip's length and rate; families add their own rules (LTX 8k+1 frames, Wan 4k+1: engine.clips.families)
    "frames": Bound(1, 1024, whole=True, hint="make a longer clip by continuing a shorter one"),
    "fps": Bound(1, 240, whole=True),
}

# Which bound applies to which request field (GridSeeds' and EditSettings' fields included).
FIELD_BOUNDS: dict[str, str] = {
    "count": "count", "steps": "steps", "seed": "seed", "seeds": "seed", "cell_seeds": "seed",
    "guidance": "guidance", "strength": "strength", "radius": "radius",
    "grid_rows": "grid", "grid_cols": "grid", "rows": "grid", "cols": "grid",
    "width": "side", "height": "side", "row": "block", "col": "block", "feather": "feather", "frames": "frames", "fps": "fps",
}

MAX_PIXELS = 4096 * 4096  # an image to make; beyond this no consumer GPU has the memory
MAX_IMAGE_PIXELS = 64_000_000  # an image file to open (decompression bombs get a sentence, not a crash)

# Per side, against the model's native size: the window warns past WARN, the command line refuses
# past REFUSE unless the user passes --any-size.
NATIVE_WARN = 2
NATIVE_REFUSE = 4


def size_warning(width: int, height: int, native: tuple[int, int], model: str) -> str | None:
    """What the window says when width x height is more than NATIVE_WARN times the native (height,
    width) per side, or less than 1/NATIVE_WARN of it; None when the size is near native."""
    native_h, native_w = native
    if width > NATIVE_WARN * native_w or height > NATIVE_WARN * native_h:
        return (f"{width}x{height} is far beyond {model}'s native {native_w}x{native_h}: expect repeated "
                "subjects and a much longer job.")
    if width * NATIVE_WARN < native_w or height * NATIVE_WARN < native_h:
        return f"{width}x{height} is far below {model}'s native {native_w}x{native_h}: expect smudges, not a picture."
    return None


def size_refusal(width: int, height: int, native: tuple[int, int], model: str) -> str | None:
    """Why the command line refuses this size without --any-size, or None. Small sizes are cheap
    and only look poor, so only sizes far beyond the native one are refused."""
    native_h, native_w = native
    if width > NATIVE_REFUSE * native_w or height > NATIVE_REFUSE * native_h:
        return (f"{width}x{height} is more than {NATIVE_REFUSE} times {model}'s native {native_w}x{native_h} "
                f"a side, where it repeats its subject and runs for a long time; stay within "
                f"{NATIVE_REFUSE * native_w}x{NATIVE_REFUSE * native_h}, or pass --any-size if you mean it.")
    return None

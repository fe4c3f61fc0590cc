"""Cinemagraphs: only the masked region of a still moves. Outside the mask every frame equals the
still bit for bit; inside, the frames change; `loop` wraps from the last frame to the first with
a step no larger than the clip's own frame-to-frame steps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.api import ClipRequest
from engine.clips.files import read_frames
from engine.errors import BadInput
from engine.tasks import run_task


@pytest.fixture(scope="module")
def still_and_mask(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cinemagraph")
    rng = np.random.default_rng(3)
    still = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    Image.fromarray(still).save(folder / "still.png")
    Image.fromarray(mask).save(folder / "mask.png")
    Image.fromarray(mask[:16]).save(folder / "small-mask.png")
    return folder, still, mask > 0


def _cinemagraph(folder, out, model="tiny-wan", **changes) -> ClipRequest:
    fields = dict(prompt="a red cat", output_dir=str(out), model=model, frames=9, steps=3, seed=11,
                  init_image=str(folder / "still.png"), mask=str(folder / "mask.png"), strength=0.9)
    fields.update(changes)
    return ClipRequest(**fields)


@pytest.mark.parametrize("model", ["tiny-wan", "tiny-animatediff"])
def test_outside_the_mask_every_frame_is_the_still(model, still_and_mask, video_cache, direct_context, tmp_path):
    folder, still, mask = still_and_mask
    direct_context.model_cache = video_cache
    frames = 9 if model == "tiny-wan" else 4
    result = run_task(_cinemagraph(folder, tmp_path, model=model, frames=frames), direct_context)
    clip = read_frames(result.clip.master)
    assert clip.shape == (frames, 32, 32, 3)
    for frame in clip:
        assert np.array_equal(frame[~mask], still[~mask]), "a pixel outside the mask moved"
    inside = clip[:, mask].astype(np.int16)
    assert np.abs(inside - still[mask]).max() > 0, "the masked region does not move at all"
    assert len({frame.tobytes() for frame in clip[:, mask]}) > 1, "inside, every frame is the same"


def test_a_looped_cinemagraph_wraps_without_a_jump(still_and_mask, video_cache, direct_context, tmp_path):
    folder, _, mask = still_and_mask
    direct_context.model_cache = video_cache
    clip = read_frames(run_task(_cinemagraph(folder, tmp_path, loop=True), direct_context).clip.master)
    clip = clip[:, mask].astype(np.float32)
    steps = [np.abs(clip[i + 1] - clip[i]).mean() for i in range(len(clip) - 1)]
    wrap = np.abs(clip[0] - clip[-1]).mean()
    moving = [s for s in steps if s > 0]  # an odd-length loop holds its turning frame once
    print(f"loop: wrap step {wrap:.3f}, frame steps median {np.median(moving):.3f} max {max(moving):.3f}")
    assert moving and wrap <= max(moving) and wrap == pytest.approx(steps[0])
    assert wrap > 0, "the loop stands still"


def test_without_loop_the_wrap_is_a_jump(still_and_mask, video_cache, direct_context, tmp_path):
    """What `loop` fixes: the same clip unlooped ends somewhere else than it starts."""
    folder, _, mask = still_and_mask
    direct_context.model_cache = video_cache
    clip = read_frames(run_task(_cinemagraph(folder, tmp_path), direct_context).clip.master)[:, mask].astype(float)
    steps = [np.abs(clip[i + 1] - clip[i]).mean() for i in range(len(clip) - 1)]
    assert np.abs(clip[0] - clip[-1]).mean() > np.median(steps)


def test_a_mask_of_the_wrong_size_is_refused(still_and_mask, video_cache, direct_context, tmp_path):
    folder, _, _ = still_and_mask
    direct_context.model_cache = video_cache
    with pytest.raises(BadInput, match="The mask is 32x16 but the image is 32x32"):
        run_task(_cinemagraph(folder, tmp_path, mask=str(folder / "small-mask.png")), direct_context)


def test_a_mask_needs_a_still(still_and_mask, video_cache, direct_context, tmp_path):
    folder, _, _ = still_and_mask
    direct_context.model_cache = video_cache
    with pytest.raises(BadInput, match="give the image with --image"):
        run_task(_cinemagraph(folder, tmp_path, init_image=None), direct_context)

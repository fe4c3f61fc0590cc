"""Block resampling and inpainting report like generation: a live preview every step, and each
candidate announced as soon as it is saved (tiny kit, real denoising loop)."""

import numpy as np
import pytest
from PIL import Image

from engine.api import EditSettings, GenerateRequest, InpaintRequest, ResampleRequest
from engine.tasks import generate, inpaint, resample

SIZE = 64  # the kit's VAE halves: 32x32 latents, so a 32x32 preview of the full image


@pytest.fixture
def source(tmp_path, direct_context):
    request = GenerateRequest(prompt="a red circle", output_dir=str(tmp_path / "gen"), model="tiny-sd1",
                              steps=2, width=SIZE, height=SIZE, seed=11)
    path = generate.run(request, direct_context).images[0].path
    direct_context.progress.clear()
    direct_context.saved.clear()
    return path


def _mask(tmp_path) -> str:
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask[10:30, 20:50] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return str(tmp_path / "mask.png")


@pytest.mark.parametrize("task", ["resample", "inpaint"])
def test_edits_preview_every_step_and_announce_each_candidate(tmp_path, direct_context, source, task):
    settings = EditSettings(steps=2)
    if task == "resample":
        result = resample.run(ResampleRequest(image=source, output_dir=str(tmp_path), row=1, col=2, seed=3, count=2,
                                              context="full", settings=settings), direct_context)
    else:
        result = inpaint.run(InpaintRequest(image=source, output_dir=str(tmp_path), mask=_mask(tmp_path), seed=3,
                                            count=2, settings=settings), direct_context)
    previews = [preview for _, _, preview in direct_context.progress]
    assert len(previews) == 4
    assert all(p is not None and p.shape == (SIZE // 2, SIZE // 2, 3) and p.dtype == np.uint8 for p in previews)
    assert [(steps, index) for steps, index, _, _ in direct_context.saved] == [(2, 0), (4, 1)]
    assert [(path, seed) for _, _, path, seed in direct_context.saved] == [(i.path, i.seed) for i in result.images]

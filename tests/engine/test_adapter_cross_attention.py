"""A motion adapter folder's cross_attention.safetensors (tuned text projections of its base's
spatial cross-attention) is put on the pipeline's UNet; one that does not fit is one sentence."""

import shutil

import pytest
import torch
from safetensors.torch import save_file

from engine.errors import BadInput
from engine.models import loader
from engine.models.registry import ModelRegistry

KEY = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"


def kit_copy(video_kit, tmp_path):
    """A registry over a copy of the tiny kit's SD 1.x and motion adapter, free to be changed."""
    for name in ("sd1", "animatediff"):
        shutil.copytree(video_kit / name, tmp_path / name)
    return ModelRegistry(bundled_dir=tmp_path)


def load_pipeline(registry):
    return loader.load_clip_pipeline(registry.resolve("tiny-animatediff"), "cpu", torch.float32,
                                     registry.resolve("tiny-sd1"))


def test_tuned_projections_replace_the_base_ones(video_kit, tmp_path):
    registry = kit_copy(video_kit, tmp_path)
    plain = load_pipeline(registry).unet.state_dict()
    names = [k for k in plain if ".attn2.to_k." in k or ".attn2.to_v." in k]
    assert KEY in names or names, names
    key = KEY if KEY in plain else names[0]
    tuned = {key: torch.full_like(plain[key], 0.25)}
    save_file(tuned, str(tmp_path / "animatediff" / loader.ADAPTER_CROSS_ATTENTION))
    unet = load_pipeline(registry).unet.state_dict()
    assert torch.equal(unet[key], tuned[key])
    other = next(k for k in names if k != key)
    assert torch.equal(unet[other], plain[other])  # only what the file names changes


def test_a_file_for_another_base_is_refused(video_kit, tmp_path):
    registry = kit_copy(video_kit, tmp_path)
    save_file({"no_such_block.attn2.to_k.weight": torch.zeros(2, 2)},
              str(tmp_path / "animatediff" / loader.ADAPTER_CROSS_ATTENTION))
    with pytest.raises(BadInput, match="does not fit its base"):
        load_pipeline(registry)

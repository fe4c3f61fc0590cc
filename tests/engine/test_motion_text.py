"""Motion-text conditioning (engine.models.motion_text): the prompt read in front of each motion
module. Untrained it changes nothing; trained it makes the prompt reach the motion modules; a
motion adapter folder's motion_text.safetensors is put on the pipeline's UNet by the loader, and
one that does not fit is one sentence."""

import pytest
import torch
from safetensors.torch import save_file

from engine.errors import BadInput
from engine.models.motion_text import WEIGHTS_NAME, MotionTextConditioning, motion_module_sites
from test_adapter_cross_attention import kit_copy, load_pipeline  # tests/engine is on the path


def _denoise(unet, text, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sample = torch.randn(1, unet.config.in_channels, 4, 8, 8, generator=gen)
    with torch.no_grad():
        return unet(sample, torch.tensor([500]), encoder_hidden_states=text).sample


def _text(unet, seed, frames=4):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, 6, unet.config.cross_attention_dim, generator=gen).repeat_interleave(frames, 0)


def _excite(conditioning):
    """Give every block a non-zero output projection, as training would."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for block in conditioning.blocks.values():
            block.to_out.weight.copy_(torch.randn(block.to_out.weight.shape, generator=gen) * 0.5)


def test_untrained_it_is_the_identity_and_trained_the_prompt_reaches_the_motion_modules(video_kit, tmp_path):
    unet = load_pipeline(kit_copy(video_kit, tmp_path)).unet
    sites = motion_module_sites(unet)
    assert len(sites) >= 3 and all(c > 0 for c in sites.values())
    text_a, text_b = _text(unet, 1), _text(unet, 2)
    plain = _denoise(unet, text_a)
    conditioning = MotionTextConditioning.for_unet(unet).attach(unet)
    assert torch.equal(_denoise(unet, text_a), plain)  # zero output projections: nothing changes
    _excite(conditioning)
    excited_a, excited_b = _denoise(unet, text_a), _denoise(unet, text_b)
    assert (excited_a - plain).abs().max() > 1e-3
    # what it adds depends on the prompt: the same blocks give different changes for other text
    assert ((excited_a - plain) - (excited_b - _denoise_without(unet, conditioning, text_b))).abs().max() > 1e-3
    with pytest.raises(ValueError, match="already has"):
        MotionTextConditioning.for_unet(unet).attach(unet)


def _denoise_without(unet, conditioning, text):
    saved = {k: v.clone() for k, v in conditioning.state_dict().items()}
    with torch.no_grad():
        for block in conditioning.blocks.values():
            block.to_out.weight.zero_()
    out = _denoise(unet, text)
    conditioning.load_state_dict(saved)
    return out


def test_the_loader_puts_an_adapters_motion_text_on_the_pipeline(video_kit, tmp_path):
    registry = kit_copy(video_kit, tmp_path)
    plain = load_pipeline(registry)
    assert getattr(plain.unet, "motion_text", None) is None  # a folder without the file: as before
    conditioning = MotionTextConditioning.for_unet(plain.unet)
    _excite(conditioning)
    save_file({k: v.contiguous() for k, v in conditioning.state_dict().items()},
              str(tmp_path / "animatediff" / WEIGHTS_NAME))
    pipe = load_pipeline(registry)
    assert pipe.unet.motion_text is not None
    for key, value in conditioning.state_dict().items():
        assert torch.equal(pipe.unet.motion_text.state_dict()[key], value)
    # and the real pipeline runs through it: its clip differs from the one without
    def clip(p):
        return p("a red circle", num_frames=4, num_inference_steps=2, height=32, width=32, output_type="np",
                 generator=torch.Generator().manual_seed(0)).frames[0]
    assert abs(clip(pipe) - clip(plain)).max() > 1e-4


def test_motion_text_for_another_base_is_refused(video_kit, tmp_path):
    registry = kit_copy(video_kit, tmp_path)
    save_file({"blocks.no_such_block.to_q.weight": torch.zeros(2, 2)}, str(tmp_path / "animatediff" / WEIGHTS_NAME))
    with pytest.raises(BadInput, match="does not fit its base"):
        load_pipeline(registry)

"""Motion-phrase conditioning for a motion adapter: the prompt's text, read in front of every motion module.

AnimateDiff's motion modules attend across frames at each pixel and never see the prompt; the
words reach them only through the spatial UNet's cross-attention. For the bundled toy-scenes-motion
that path was measured too weak to carry "which way": trained 2,400 steps with the spatial text
projections tuned, the loss with the opposite motion word stayed within 1.1x of the loss with the
right one, and clips moved in the named direction no more often than chance
(engine/toy/README.md). So each motion module gets a small cross-attention of its own from every
pixel of every frame to the prompt's token states, added to its input. Each starts as the identity
(zero output projection), so an untrained one leaves the adapter as it was.

`MotionTextConditioning.attach(unet)` puts it on a `UNetMotionModel` as the submodule
`motion_text` (so `.to()` moves it with the UNet) and hooks the UNet's forward to hand it the
`encoder_hidden_states` of the current call, as diffusers' pipelines pass them (one row per
frame). The weights ship beside the adapter as `motion_text.safetensors`.
"""

from __future__ import annotations

import torch
from torch import nn

WEIGHTS_NAME = "motion_text.safetensors"
HEADS = 4


class PromptCrossAttention(nn.Module):
    """hidden (BF x C x H x W) + attention of each pixel to the text (BF x T x D), zero at start."""

    def __init__(self, channels: int, text_dim: int, heads: int = HEADS):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(min(32, channels), channels)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(text_dim, channels, bias=False)
        self.to_v = nn.Linear(text_dim, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, hidden: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        bf, c, h, w = hidden.shape
        # contiguous: the motion modules hand over channels-last strides, and GroupNorm's
        # channels-last CPU backward crashes on them (SIGSEGV, torch 2.13)
        q = self.to_q(self.norm(hidden.contiguous()).flatten(2).transpose(1, 2))  # BF x HW x C
        k, v = self.to_k(text), self.to_v(text)
        split = lambda x: x.reshape(bf, -1, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        # at a few dozen text tokens the plain product is as cheap as a fused kernel
        weights = (split(q) @ split(k).transpose(-1, -2) * (c // self.heads) ** -0.5).softmax(-1)
        out = weights @ split(v)
        out = self.to_out(out.transpose(1, 2).reshape(bf, h * w, c))
        return hidden + out.transpose(1, 2).reshape(bf, c, h, w)


def motion_module_sites(unet) -> dict[str, int]:
    """{motion module name: its channels}, in the UNet's module order."""
    from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D

    return {name: module.proj_in.in_features for name, module in unet.named_modules()
            if isinstance(module, AnimateDiffTransformer3D)}


def _key(site: str) -> str:
    return site.replace(".", "__")  # module names may not contain dots


class MotionTextConditioning(nn.Module):
    """One PromptCrossAttention per motion module of a UNetMotionModel."""

    def __init__(self, sites: dict[str, int], text_dim: int):
        super().__init__()
        self.blocks = nn.ModuleDict({_key(s): PromptCrossAttention(c, text_dim) for s, c in sites.items()})
        self._text = None  # the current forward call's text states, set and cleared by the UNet hooks

    @classmethod
    def for_unet(cls, unet) -> "MotionTextConditioning":
        return cls(motion_module_sites(unet), unet.config.cross_attention_dim)

    def attach(self, unet) -> "MotionTextConditioning":
        """Make this the UNet's `motion_text` and hook its forward; returns self."""
        if getattr(unet, "motion_text", None) is not None:
            raise ValueError("this UNet already has motion-text conditioning")
        sites = motion_module_sites(unet)
        if set(map(_key, sites)) != set(self.blocks):
            raise ValueError("the motion-text weights do not fit this UNet's motion modules")
        unet.add_module("motion_text", self.to(device=unet.device, dtype=unet.dtype))
        unet.register_forward_pre_hook(self._take_text, with_kwargs=True)
        unet.register_forward_hook(self._drop_text)
        modules = dict(unet.named_modules())
        for site in sites:
            modules[site].register_forward_pre_hook(self._conditioner(_key(site)))
        return self

    def _take_text(self, _unet, args, kwargs):
        text = kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)
        self._text = text[0] if isinstance(text, tuple) else text

    def _drop_text(self, *_):
        self._text = None

    def _conditioner(self, key: str):
        block = self.blocks[key]

        def hook(_module, args):
            if self._text is None:  # called outside a UNet forward: nothing to read
                return None
            return (block(args[0], self._text.to(args[0].dtype)), *args[1:])
        return hook


def attach_from_file(unet, path) -> MotionTextConditioning:
    """Load `motion_text.safetensors` and attach it to `unet` (a ValueError when it does not fit)."""
    from safetensors.torch import load_file

    conditioning = MotionTextConditioning.for_unet(unet)
    weights = load_file(str(path))
    missing, unexpected = conditioning.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ValueError(f"the motion-text weights do not fit this UNet ({(missing or unexpected)[0]})")
    return conditioning.attach(unet)

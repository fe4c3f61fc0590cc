"""Write a diffusers Stable Diffusion 1.x pipeline folder as one original-layout checkpoint.

The inverse of diffusers' `convert_ldm_unet_checkpoint` / `convert_ldm_vae_checkpoint` /
`convert_ldm_clip_checkpoint`: the UNet goes under `model.diffusion_model.*` (CompVis
`input_blocks` / `middle_block` / `output_blocks` numbering), the VAE under
`first_stage_model.*` (`encoder.down.N.block.M`, `mid.attn_1` with 1x1-conv attention
weights) and the text encoder under `cond_stage_model.transformer.text_model.*` (SD 1.x, CLIP)
or `cond_stage_model.model.*` (SD 2.x, OpenCLIP: `transformer.resblocks.N` with fused
`in_proj` attention weights): the layout of the `.safetensors` files people download from
model sites. Tests use it to make
single-file checkpoints out of the tiny-model kit; it is generic over the number of blocks and
layers, read from the folder's configs and weight names.

Only `.safetensors` weights are read (never pickles). SDXL folders (two text encoders) are not
supported: diffusers tells SDXL's two encoders apart by width, and the tiny kit's are both 32.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.atomic import write_atomic

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."
OPENCLIP_PREFIX = "cond_stage_model.model."

# diffusers ResnetBlock2D (UNet) -> LDM ResBlock
_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
# diffusers top-level UNet layers -> LDM
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    "class_embedding.linear_1": "label_emb.0.0",
    "class_embedding.linear_2": "label_emb.0.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}
# diffusers VAE top-level layers -> LDM
_VAE_TOP = {
    "encoder.conv_in": "encoder.conv_in",
    "encoder.conv_out": "encoder.conv_out",
    "encoder.conv_norm_out": "encoder.norm_out",
    "decoder.conv_in": "decoder.conv_in",
    "decoder.conv_out": "decoder.conv_out",
    "decoder.conv_norm_out": "decoder.norm_out",
    "quant_conv": "quant_conv",
    "post_quant_conv": "post_quant_conv",
}
# diffusers VAE attention (linear layers) -> LDM AttnBlock (1x1 convs)
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors")


def _read_safetensors(folder: Path) -> dict:
    """All tensors of one component folder, single-file or sharded safetensors."""
    from safetensors.torch import load_file

    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return load_file(str(folder / name))
        index = folder / f"{name}.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            tensors: dict = {}
            for shard in shards:
                tensors.update(load_file(str(folder / shard)))
            return tensors
    raise FileNotFoundError(f"no .safetensors weights in {folder}")


def _read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def _count(keys, prefix: str) -> int:
    """How many `prefix{N}.` children exist (max N + 1), 0 if none."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for k in keys if (m := pattern.match(k))]
    return max(found) + 1 if found else 0


def _move(state: dict, out: dict, src: str, dst: str, rename=None) -> None:
    """Move every key under `src.` to `dst.`; `rename` maps the first part(s) of the remainder."""
    for key in [k for k in state if k.startswith(src + ".")]:
        rest = key[len(src) + 1 :]
        if rename:
            for old, new in rename.items():
                if rest.startswith(old + "."):
                    rest = new + rest[len(old) :]
                    break
        out[f"{dst}.{rest}"] = state.pop(key)


def unet_to_ldm(state: dict, config: dict) -> dict:
    """diffusers UNet2DConditionModel state dict -> LDM `UNetModel` keys (without prefix)."""
    state = dict(state)
    out: dict = {}
    for src, dst in _UNET_TOP.items():
        _move(state, out, src, dst)

    keys = list(state)
    index = 1  # input_blocks.0 is conv_in
    for b in range(len(config["down_block_types"])):
        for layer in range(_count(keys, f"down_blocks.{b}.resnets.")):
            _move(state, out, f"down_blocks.{b}.resnets.{layer}", f"input_blocks.{index}.0", _UNET_RESNET)
            _move(state, out, f"down_blocks.{b}.attentions.{layer}", f"input_blocks.{index}.1")
            index += 1
        if any(k.startswith(f"down_blocks.{b}.downsamplers.0.") for k in keys):
            _move(state, out, f"down_blocks.{b}.downsamplers.0.conv", f"input_blocks.{index}.0.op")
            index += 1

    # UNetMidBlock2DCrossAttn: resnet, attention, resnet, (attention, resnet ...)
    for j in range(_count(keys, "mid_block.resnets.")):
        _move(state, out, f"mid_block.resnets.{j}", f"middle_block.{2 * j}", _UNET_RESNET)
        _move(state, out, f"mid_block.attentions.{j}", f"middle_block.{2 * j + 1}")

    index = 0
    for b in range(len(config["up_block_types"])):
        n_layers = _count(keys, f"up_blocks.{b}.resnets.")
        has_attention = _count(keys, f"up_blocks.{b}.attentions.") > 0
        for layer in range(n_layers):
            _move(state, out, f"up_blocks.{b}.resnets.{layer}", f"output_blocks.{index}.0", _UNET_RESNET)
            _move(state, out, f"up_blocks.{b}.attentions.{layer}", f"output_blocks.{index}.1")
            if layer == n_layers - 1:
                # the upsampler sits after the attention when there is one
                slot = 2 if has_attention else 1
                _move(state, out, f"up_blocks.{b}.upsamplers.0.conv", f"output_blocks.{index}.{slot}.conv")
            index += 1

    if state:
        raise ValueError(f"UNet weights with no original-layout name: {sorted(state)[:5]}")
    return out


def vae_to_ldm(state: dict, config: dict) -> dict:
    """diffusers AutoencoderKL state dict -> LDM `AutoencoderKL` keys (without prefix)."""
    state = dict(state)
    out: dict = {}
    for src, dst in _VAE_TOP.items():
        _move(state, out, src, dst)
    resnet = {"conv_shortcut": "nin_shortcut"}
    keys = list(state)
    n_blocks = len(config["down_block_types"])
    for i in range(n_blocks):
        for j in range(_count(keys, f"encoder.down_blocks.{i}.resnets.")):
            _move(state, out, f"encoder.down_blocks.{i}.resnets.{j}", f"encoder.down.{i}.block.{j}", resnet)
        _move(state, out, f"encoder.down_blocks.{i}.downsamplers.0.conv", f"encoder.down.{i}.downsample.conv")
    n_up = len(config["up_block_types"])
    for i in range(n_up):
        level = n_up - 1 - i  # diffusers counts decoder blocks from the bottom, LDM from the top
        for j in range(_count(keys, f"decoder.up_blocks.{i}.resnets.")):
            _move(state, out, f"decoder.up_blocks.{i}.resnets.{j}", f"decoder.up.{level}.block.{j}", resnet)
        _move(state, out, f"decoder.up_blocks.{i}.upsamplers.0.conv", f"decoder.up.{level}.upsample.conv")
    for part in ("encoder", "decoder"):
        for j in range(_count(keys, f"{part}.mid_block.resnets.")):
            _move(state, out, f"{part}.mid_block.resnets.{j}", f"{part}.mid.block_{j + 1}", resnet)
        attention: dict = {}
        _move(state, attention, f"{part}.mid_block.attentions.0", f"{part}.mid.attn_1", _VAE_ATTN)
        for key, tensor in attention.items():
            # LDM's attention projections are 1x1 convolutions
            if tensor.ndim == 2:
                tensor = tensor.reshape(*tensor.shape, 1, 1).clone()
            out[key] = tensor
    if state:
        raise ValueError(f"VAE weights with no original-layout name: {sorted(state)[:5]}")
    return out


def clip_to_ldm(state: dict) -> dict:
    """transformers CLIPTextModel state dict -> `text_model.*` keys (the layout LDM embeds).

    transformers >= 5.6 saves CLIPTextModel without the `text_model.` level; older versions
    with it. The original checkpoints always have it.
    """
    out = {}
    for key, tensor in state.items():
        if key.endswith("position_ids"):
            continue
        out[key if key.startswith("text_model.") else "text_model." + key] = tensor
    return out


def clip_to_openclip(state: dict) -> dict:
    """transformers CLIPTextModel state dict -> OpenCLIP text tower keys (SD 2.x's layout).

    The inverse of diffusers' `convert_open_clip_checkpoint`: per layer, q/k/v projections are
    fused into `attn.in_proj_weight` / `in_proj_bias`; a projection, if any, is stored transposed.
    """
    import torch

    plain = {k.removeprefix("text_model."): v for k, v in state.items() if not k.endswith("position_ids")}
    out = {
        "positional_embedding": plain.pop("embeddings.position_embedding.weight"),
        "token_embedding.weight": plain.pop("embeddings.token_embedding.weight"),
        "ln_final.weight": plain.pop("final_layer_norm.weight"),
        "ln_final.bias": plain.pop("final_layer_norm.bias"),
    }
    if "text_projection.weight" in plain:
        out["text_projection"] = plain.pop("text_projection.weight").T.contiguous()
    for i in range(_count(plain, "encoder.layers.")):
        src, dst = f"encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[f"{dst}attn.in_proj_{kind}"] = torch.cat(
                [plain.pop(f"{src}self_attn.{p}_proj.{kind}") for p in ("q", "k", "v")], dim=0
            )
            for old, new in (
                ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("self_attn.out_proj", "attn.out_proj"),
                ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
            ):
                out[f"{dst}{new}.{kind}"] = plain.pop(f"{src}{old}.{kind}")
    if plain:
        raise ValueError(f"text encoder weights with no OpenCLIP name: {sorted(plain)[:5]}")
    return out


def _family(folder: Path) -> str:
    manifest = folder / "latent-studio.json"
    if manifest.is_file():
        return json.loads(manifest.read_text(encoding="utf-8")).get("family", "sd1")
    return "sd1"


def write_ldm_checkpoint(pipeline_folder: str | Path, out_path: str | Path, family: str | None = None) -> Path:
    """Convert a diffusers SD 1.x/2.x pipeline folder (unet, vae, text_encoder) into one file.

    `family` ("sd1" or "sd2") picks the text encoder layout; by default the folder's
    latent-studio.json says, else "sd1".
    """
    from safetensors.torch import save_file

    folder = Path(pipeline_folder)
    family = family or _family(folder)
    if family not in ("sd1", "sd2") or (folder / "text_encoder_2").exists():
        raise ValueError(f"{folder} is not an SD 1.x/2.x pipeline; only those layouts are written")
    checkpoint = {}
    for key, tensor in unet_to_ldm(_read_safetensors(folder / "unet"), _read_config(folder / "unet")).items():
        checkpoint[UNET_PREFIX + key] = tensor
    for key, tensor in vae_to_ldm(_read_safetensors(folder / "vae"), _read_config(folder / "vae")).items():
        checkpoint[VAE_PREFIX + key] = tensor
    text = _read_safetensors(folder / "text_encoder")
    if family == "sd2":
        checkpoint.update({OPENCLIP_PREFIX + k: v for k, v in clip_to_openclip(text).items()})
    else:
        checkpoint.update({TEXT_PREFIX + k: v for k, v in clip_to_ldm(text).items()})
    tensors = {k: v.contiguous() for k, v in checkpoint.items()}
    return write_atomic(out_path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))

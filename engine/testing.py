"""Tiny-model kit: random-weight pipelines in diffusers layout, built offline.

Tests load these through the same registry and loader as real models. Every component is
a real diffusers/transformers class with a tiny config (the shapes diffusers' own tests use),
seeded, so the same folder is written on every machine. The tokenizer is built locally by
`engine.tokenizer`; nothing here touches the network.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.tokenizer import write_clip_tokenizer

# Words the tiny tokenizer spells as single tokens; anything else still tokenizes by bytes.
TINY_WORDS = "a an the of on in and with red green blue cat dog circle square photo of painting".split()

# Native image size of the tiny pipelines: a 16x16 latent with the 2x VAE below.
TINY_SIZE = 32

_SD_SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
)


def _write_manifest(folder: Path, model_id: str, family: str, **extra) -> None:
    manifest = {
        "id": model_id,
        "family": family,
        "native_size": [TINY_SIZE, TINY_SIZE],
        "default_steps": 4,
        "default_guidance": 5.0,
        "default_scheduler": "ddim",
        "description": f"tiny random-weight {family} pipeline for tests",
    }
    manifest.update(extra)
    (folder / "latent-studio.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _tiny_text_config(tokenizer, hidden_act: str = "quick_gelu", **overrides):
    from transformers import CLIPTextConfig

    config = dict(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=tokenizer.model_max_length,
        hidden_act=hidden_act,
    )
    config.update(overrides)
    return CLIPTextConfig(**config)


def _tiny_vae():
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=TINY_SIZE,
    )


def _write_sd(folder: Path, model_id: str, family: str, unet_in_channels: int = 4) -> Path:
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_clip_tokenizer(folder / "tokenizer", TINY_WORDS, model_max_length=16)
    sd2 = family == "sd2"
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=TINY_SIZE // 2,
        in_channels=unet_in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4) if sd2 else 8,
        use_linear_projection=sd2,
    )
    vae = _tiny_vae()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_tiny_text_config(tokenizer, hidden_act="gelu" if sd2 else "quick_gelu"))
    scheduler = DDIMScheduler(prediction_type="v_prediction" if sd2 else "epsilon", **_SD_SCHEDULER)
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    _write_manifest(folder, model_id, family)
    return folder


def write_tiny_sd1(folder: str | Path, model_id: str = "tiny-sd1") -> Path:
    """A tiny SD 1.x pipeline (epsilon prediction, quick-gelu CLIP text encoder)."""
    return _write_sd(Path(folder), model_id, "sd1")


def write_tiny_sd1_inpaint(folder: str | Path, model_id: str = "tiny-sd1-inpaint") -> Path:
    """A tiny SD 1.x inpainting checkpoint: the UNet takes latents + mask + masked-image latents (9 channels)."""
    return _write_sd(Path(folder), model_id, "sd1", unet_in_channels=9)


def write_tiny_sd2(folder: str | Path, model_id: str = "tiny-sd2") -> Path:
    """A tiny SD 2.x pipeline (v-prediction, linear attention projections, gelu text encoder)."""
    return _write_sd(Path(folder), model_id, "sd2")


def write_tiny_sdxl(folder: str | Path, model_id: str = "tiny-sdxl") -> Path:
    """A tiny SDXL pipeline: two text encoders and text-time added conditioning."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_clip_tokenizer(folder / "tokenizer", TINY_WORDS, model_max_length=16)
    tokenizer_2 = write_clip_tokenizer(folder / "tokenizer_2", TINY_WORDS, model_max_length=16)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=TINY_SIZE // 2,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,  # 6 time ids x 8 + 32 pooled text
        cross_attention_dim=64,  # the two encoders' 32-wide states, concatenated
        norm_num_groups=1,
    )
    vae = _tiny_vae()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_tiny_text_config(tokenizer, hidden_act="gelu"))
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(
        _tiny_text_config(tokenizer_2, hidden_act="gelu", projection_dim=32)
    )
    scheduler = EulerDiscreteScheduler(**{k: v for k, v in _SD_SCHEDULER.items() if k != "set_alpha_to_one" and k != "clip_sample"})
    pipe = StableDiffusionXLPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    _write_manifest(folder, model_id, "sdxl", default_scheduler="euler")
    return folder


def write_tiny_clip(folder: str | Path, model_id: str = "tiny-clip") -> Path:
    """A tiny CLIP scorer (text + vision towers) with its tokenizer and image processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPVisionConfig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_clip_tokenizer(folder, TINY_WORDS, model_max_length=16)
    text_config = _tiny_text_config(tokenizer, hidden_act="quick_gelu").to_dict()
    vision_config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        image_size=TINY_SIZE, patch_size=8,
    ).to_dict()
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=16))
    model.save_pretrained(folder, safe_serialization=True)
    CLIPImageProcessor(
        size={"shortest_edge": TINY_SIZE}, crop_size={"height": TINY_SIZE, "width": TINY_SIZE}
    ).save_pretrained(folder)
    (folder / "latent-studio.json").write_text(
        json.dumps({"id": model_id, "family": "clip", "description": "tiny random-weight CLIP scorer"}),
        encoding="utf-8",
    )
    return folder


KIT_WRITERS = {
    "sd1": write_tiny_sd1,
    "sd1-inpaint": write_tiny_sd1_inpaint,
    "sd2": write_tiny_sd2,
    "sdxl": write_tiny_sdxl,
    "clip": write_tiny_clip,
}

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


# --- video families -------------------------------------------------------------------------

# Native clip size and length of the tiny video pipelines (LTX wants 8k+1 frames, Wan 4k+1: 9 is both).
TINY_CLIP_FRAMES = 9
TINY_CLIP_SIZE = 32


def write_t5_tokenizer(folder: Path, words=TINY_WORDS, model_max_length: int = 16):
    """A T5 (unigram) tokenizer built offline from a small vocabulary: every given word as one
    piece (with the word-start marker), then single letters and digits so any text tokenizes."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(f"\u2581{w}", -1.0) for w in dict.fromkeys(words)]
    pieces += [("\u2581", -2.0)] + [(c, -3.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,-'"]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)
    tokenizer.save_pretrained(folder)
    return tokenizer


def _tiny_t5(tokenizer):
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    return T5EncoderModel(T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    ))


def _video_manifest(folder: Path, model_id: str, family: str, **extra) -> None:
    fields = dict(native_size=[TINY_CLIP_SIZE, TINY_CLIP_SIZE], default_frames=TINY_CLIP_FRAMES, default_fps=8)
    _write_manifest(folder, model_id, family, **{**fields, **extra})


def write_tiny_motion_adapter(folder: str | Path, base: str | None = "tiny-sd1",
                              model_id: str = "tiny-animatediff") -> Path:
    """A tiny AnimateDiff MotionAdapter for the tiny SD 1.x UNet; its manifest names `base`
    (None: the user gives the base with --model)."""
    import torch
    from diffusers import MotionAdapter

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    adapter = MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=2, motion_norm_num_groups=2,
                            motion_num_attention_heads=4, motion_max_seq_length=32)
    adapter.save_pretrained(folder, safe_serialization=True)
    extra = {"base": base} if base else {}
    _video_manifest(folder, model_id, "animatediff", default_frames=8, default_scheduler="ddim", **extra)
    return folder


def write_tiny_svd(folder: str | Path, model_id: str = "tiny-svd") -> Path:
    """A tiny Stable Video Diffusion pipeline (image to clip); its CLIP vision encoder is 224 px,
    as SVD resizes its conditioning image to 224 before encoding."""
    import torch
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=TINY_CLIP_SIZE // 2, in_channels=8,
        out_channels=4, down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"), cross_attention_dim=32,
        num_attention_heads=8, projection_class_embeddings_input_dim=96, addition_time_embed_dim=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                       down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                                       latent_channels=4)
    torch.manual_seed(0)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32,
    ))
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    feature_extractor = CLIPImageProcessor(crop_size=224, size=224)
    pipe = StableVideoDiffusionPipeline(vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
                                        feature_extractor=feature_extractor)
    pipe.save_pretrained(folder, safe_serialization=True)
    _video_manifest(folder, model_id, "svd", default_frames=4, default_guidance=2.0, default_scheduler="euler")
    return folder


def write_tiny_ltx(folder: str | Path, model_id: str = "tiny-ltx") -> Path:
    """A tiny LTX-Video pipeline (saved as LTXConditionPipeline) with an offline T5 tokenizer."""
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline,
                           LTXVideoTransformer3DModel)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_t5_tokenizer(folder / "tokenizer")
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    pipe = LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), vae=vae,
                                text_encoder=_tiny_t5(tokenizer), tokenizer=tokenizer, transformer=transformer)
    pipe.save_pretrained(folder, safe_serialization=True)
    _video_manifest(folder, model_id, "ltx", default_guidance=3.0, default_scheduler="flow_euler")
    return folder


def write_tiny_wan(folder: str | Path, model_id: str = "tiny-wan", vace: bool = False, vae_width: int = 3) -> Path:
    """A tiny Wan 2.1 text-to-clip pipeline with an offline T5 tokenizer; with `vace`, saved as
    WanVACEPipeline with a WanVACETransformer3DModel (one control block, on layer 0), as the
    Wan2.1-VACE repos are (their model_index.json names those classes). `vae_width`: the VAE's
    base channels; 3 wide, a random encoder hardly tells one frame from another (16 does)."""
    import diffusers
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_t5_tokenizer(folder / "tokenizer")
    torch.manual_seed(0)
    # VACE: latents unscaled (Wan 2.1's real mean and std would bury the kept frames under an offset)
    unscaled = dict(latents_mean=[0.0] * 16, latents_std=[1.0] * 16) if vace else {}
    vae = AutoencoderKLWan(base_dim=vae_width, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], **unscaled)
    torch.manual_seed(0)
    # VACE's control input: the kept and the generated part's latents (2 x 16) and the mask, one
    # channel per pixel of the VAE's 8x8 spatial factor (64)
    control = dict(vace_layers=[0], vace_in_channels=2 * 16 + 8 * 8) if vace else {}
    transformer = getattr(diffusers, "WanVACETransformer3DModel" if vace else "WanTransformer3DModel")(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, **control,
    )
    if vace:  # a trained VACE leans on its control input, a random one hardly: scaled, other kept
        with torch.no_grad():  # frames change the new ones measurably (2.7 of 255 here, 0.08 unscaled)
            transformer.vace_patch_embedding.weight.mul_(30.0)
    pipe = getattr(diffusers, "WanVACEPipeline" if vace else "WanPipeline")(
        tokenizer=tokenizer, text_encoder=_tiny_t5(tokenizer), vae=vae, transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0))
    pipe.save_pretrained(folder, safe_serialization=True)
    _video_manifest(folder, model_id, "wan", default_guidance=5.0, default_scheduler="flow_euler")
    return folder


def write_tiny_wan_vace(folder: str | Path, model_id: str = "tiny-wan-vace") -> Path:
    """A tiny Wan VACE pipeline: Wan that also takes frames to keep, a mask and reference images."""
    return write_tiny_wan(folder, model_id, vace=True, vae_width=16)


def write_tiny_ip_adapter(folder: str | Path, base: str | Path) -> Path:
    """A tiny IP-Adapter for the SD 1.x UNet at `base` (a pipeline folder): an image projection to 4
    tokens and to_k_ip/to_v_ip weights for each of its cross-attention layers, in
    `ip-adapter.safetensors`, with a tiny CLIPVisionModelWithProjection in `image_encoder/`. Loads
    offline with `pipe.load_ip_adapter(folder, subfolder="", weight_name="ip-adapter.safetensors",
    local_files_only=True)`."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unet = UNet2DConditionModel.from_pretrained(Path(base) / "unet")
    cross, embed, tokens = unet.config.cross_attention_dim, 32, 4
    generator = torch.Generator().manual_seed(0)
    weights = {
        "image_proj.proj.weight": torch.randn(cross * tokens, embed, generator=generator) * 0.02,
        "image_proj.proj.bias": torch.zeros(cross * tokens),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key = 1  # diffusers numbers the cross-attention layers 1, 3, 5 ... in attn_processors order
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        hidden = unet.get_submodule(name[: -len(".processor")]).to_q.out_features
        for part in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key}.{part}.weight"] = torch.randn(hidden, cross, generator=generator) * 0.2
        key += 2
    save_file(weights, str(folder / "ip-adapter.safetensors"))
    torch.manual_seed(0)
    CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=embed, num_hidden_layers=2, num_attention_heads=4, image_size=32,
        intermediate_size=37, patch_size=8,
    )).save_pretrained(folder / "image_encoder", safe_serialization=True)
    return folder


# Written into the `video_kit` fixture's folder next to a tiny SD 1.x base (the motion adapter's).
VIDEO_KIT_WRITERS = {
    "sd1": write_tiny_sd1,
    "animatediff": write_tiny_motion_adapter,
    "svd": write_tiny_svd,
    "ltx": write_tiny_ltx,
    "wan": write_tiny_wan,
    "wan-vace": write_tiny_wan_vace,
}

"""Single-file checkpoints: LDM export round trip, family detection, refusals, shipped configs."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.errors import BadInput, ModelNotFound, UnsafeCheckpoint
from engine.models.ldm_export import clip_to_ldm, unet_to_ldm, vae_to_ldm, write_ldm_checkpoint
from engine.models.single_file import (
    PICKLE_SUFFIXES,
    SD2_KEY,
    SDXL_KEY,
    UNET_KEY,
    detect_single_file_family,
    family_from_shapes,
    load_single_file,
)
from engine.paths import shipped_configs_dir

SD15 = shipped_configs_dir() / "sd15"
SD21 = shipped_configs_dir() / "sd21"
SDXL = shipped_configs_dir() / "sdxl"


@pytest.fixture(scope="module")
def tiny(kit):
    """The kit's tiny SD 1.x folder."""
    return kit / "sd1"


@pytest.fixture(scope="module")
def checkpoint(tiny, tmp_path_factory):
    """The tiny pipeline written as one original-layout .safetensors file."""
    return write_ldm_checkpoint(tiny, tmp_path_factory.mktemp("ldm") / "tiny-sd1.safetensors")


@pytest.fixture
def no_network(monkeypatch):
    """Record (and fail) any attempt to resolve or connect, with hub offline mode NOT masking it."""
    import huggingface_hub.constants as hub_constants

    attempts = []

    def getaddrinfo(*args, **kwargs):
        attempts.append(("dns", args[:2]))
        raise OSError("no network in tests")

    def connect(self, address):
        attempts.append(("connect", address))
        raise OSError("no network in tests")

    monkeypatch.setattr(hub_constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def _run(pipe, prompt="a red circle"):
    return pipe(
        prompt, num_inference_steps=2, height=32, width=32, guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(7), output_type="np",
    ).images


# --- the export / load round trip ------------------------------------------------------------


def test_export_uses_the_original_ldm_layout(checkpoint):
    assert detect_single_file_family(checkpoint) == "sd1"
    keys = set(load_file(str(checkpoint)))
    assert {k.split(".")[0] for k in keys} == {"model", "first_stage_model", "cond_stage_model"}
    # names diffusers' converters (and every SD 1.x checkpoint) use
    for key in (
        UNET_KEY,
        "model.diffusion_model.time_embed.0.weight",
        "model.diffusion_model.input_blocks.3.0.op.weight",  # first downsampler
        "model.diffusion_model.input_blocks.4.1.proj_in.weight",  # first cross-attention
        "model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight",
        "model.diffusion_model.output_blocks.2.2.conv.weight",  # upsampler after an attention
        "model.diffusion_model.out.2.weight",
        "first_stage_model.encoder.down.0.block.0.norm1.weight",
        "first_stage_model.decoder.up.1.upsample.conv.weight",
        "first_stage_model.encoder.mid.attn_1.q.weight",
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight",
        "cond_stage_model.transformer.text_model.final_layer_norm.weight",
    ):
        assert key in keys, key
    assert load_file(str(checkpoint))["first_stage_model.decoder.mid.attn_1.proj_out.weight"].ndim == 4


@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_round_trip_is_bit_identical(kit, tiny, checkpoint, tmp_path, no_network, family):
    from diffusers import StableDiffusionPipeline

    folder = kit / family
    path = checkpoint if family == "sd1" else write_ldm_checkpoint(folder, tmp_path / "tiny-sd2.safetensors")
    if family == "sd2":  # SD 2.x keeps its OpenCLIP text tower in OpenCLIP's own layout
        fused = load_file(str(path))["cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"]
        assert fused.shape == (96, 32)
    loaded = load_single_file(path, family, config_dir=folder)
    reference = StableDiffusionPipeline.from_pretrained(
        folder, local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    assert type(loaded) is StableDiffusionPipeline and loaded.safety_checker is None
    for name in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(loaded, name).state_dict(), getattr(reference, name).state_dict()
        assert ours.keys() == theirs.keys(), name
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name
    assert loaded.scheduler.config == reference.scheduler.config
    loaded.set_progress_bar_config(disable=True)
    reference.set_progress_bar_config(disable=True)
    image = _run(loaded)
    assert image.shape == (1, 32, 32, 3) and image.std() > 0
    assert np.array_equal(image, _run(reference))
    assert no_network == []


def test_torch_dtype_is_applied(tiny, checkpoint):
    pipe = load_single_file(checkpoint, "sd1", config_dir=tiny, torch_dtype=torch.bfloat16)
    assert pipe.unet.dtype == pipe.vae.dtype == pipe.text_encoder.dtype == torch.bfloat16


def test_loader_builds_single_file_specs(tiny, checkpoint):
    from engine.models import spec as specs
    from engine.models.loader import load_text_to_image
    from engine.models.spec import ModelSpec

    spec = ModelSpec(id="tiny", family="sd1", source=specs.SINGLE_FILE, location=str(checkpoint), config_dir=str(tiny))
    pipe = load_text_to_image(spec, "cpu", torch.float32)
    assert pipe.device.type == "cpu" and pipe.unet.config.cross_attention_dim == 32


def test_a_trusted_pickle_loads_and_an_untrusted_one_is_refused(tiny, checkpoint, tmp_path):
    pickled = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": load_file(str(checkpoint))}, pickled)
    with pytest.raises(UnsafeCheckpoint, match=r"convert it to \.safetensors.*--trust-pickle"):
        load_single_file(pickled, "sd1", config_dir=tiny)
    pipe = load_single_file(pickled, "sd1", config_dir=tiny, trust_pickle=True)
    assert torch.equal(pipe.unet.conv_in.weight, load_file(str(checkpoint))[UNET_KEY])


@pytest.mark.parametrize("suffix", PICKLE_SUFFIXES)
def test_pickled_files_are_never_opened(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"\x80\x04 pretend this is a malicious pickle")
    with pytest.raises(UnsafeCheckpoint, match="safetensors") as info:
        load_single_file(path, "sd1")
    assert "pickled checkpoint" in str(info.value) and "arbitrary code" in str(info.value)
    with pytest.raises(UnsafeCheckpoint):
        detect_single_file_family(path)


# --- bad inputs ------------------------------------------------------------------------------


def test_missing_file_and_missing_config(tmp_path, checkpoint, no_network):
    with pytest.raises(ModelNotFound, match="does not exist"):
        load_single_file(tmp_path / "nope.safetensors", "sd1")
    with pytest.raises(ModelNotFound, match="does not exist"):
        detect_single_file_family(tmp_path / "nope.safetensors")
    # diffusers would treat a config it cannot find as a repo id and download it, even with
    # local_files_only=True; we refuse before calling it.
    with pytest.raises(ModelNotFound, match="model_index.json"):
        load_single_file(checkpoint, "sd1", config_dir=tmp_path / "no-config")
    assert no_network == []


def test_junk_and_non_sd_files_are_bad_input(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a safetensors file at all")
    for call in (lambda: load_single_file(junk, "sd1"), lambda: detect_single_file_family(junk)):
        with pytest.raises(BadInput, match="not a readable .safetensors file"):
            call()
    truncated = tmp_path / "truncated.safetensors"
    save_file({UNET_KEY: torch.zeros(4, 4, 3, 3)}, str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:-20])
    with pytest.raises(BadInput, match="not a readable"):
        load_single_file(truncated, "sd1")
    lora = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down_blocks_0.alpha": torch.ones(())}, str(lora))
    with pytest.raises(BadInput, match="not a Stable Diffusion checkpoint"):
        detect_single_file_family(lora)


def test_incomplete_checkpoint_is_bad_input(tiny, checkpoint, tmp_path):
    state = load_file(str(checkpoint))
    no_vae = tmp_path / "no-vae.safetensors"
    save_file({k: v for k, v in state.items() if not k.startswith("first_stage_model.")}, str(no_vae))
    with pytest.raises(BadInput, match="AutoencoderKL"):
        load_single_file(no_vae, "sd1", config_dir=tiny)
    dropped = next(k for k in state if k.startswith("cond_stage_model.") and "layers.1." in k)
    partial = tmp_path / "partial.safetensors"
    save_file({k: v for k, v in state.items() if k != dropped}, str(partial))
    with pytest.raises(BadInput, match="text_encoder lacks 1 weights"):
        load_single_file(partial, "sd1", config_dir=tiny)


def test_wrong_architecture_for_the_config_is_bad_input(checkpoint, tmp_path):
    # the tiny checkpoint against the real SD 1.5 config: shapes do not match
    with pytest.raises(BadInput, match="Could not load tiny-sd1.safetensors as a sd1 checkpoint"):
        load_single_file(checkpoint, "sd1")


# --- family detection ------------------------------------------------------------------------


def _header_only(path, tensors):
    save_file({k: torch.zeros(shape) for k, shape in tensors.items()}, str(path))
    return path


def test_family_detection_reads_keys_and_shapes(tmp_path, checkpoint):
    unet = {UNET_KEY: (320, 4, 3, 3)}
    sd1 = _header_only(tmp_path / "sd1.safetensors", {**unet, SD2_KEY: (320, 768)})
    sd2 = _header_only(tmp_path / "sd2.safetensors", {**unet, SD2_KEY: (320, 1024)})
    sdxl = _header_only(tmp_path / "sdxl.safetensors", {**unet, SDXL_KEY: (1280,)})
    assert [detect_single_file_family(p) for p in (sd1, sd2, sdxl, checkpoint)] == ["sd1", "sd2", "sdxl", "sd1"]
    # with the shipped configs the family must match the file
    with pytest.raises(BadInput, match="looks like a sdxl checkpoint"):
        load_single_file(sdxl, "sd1")
    with pytest.raises(BadInput, match="No single-file loader"):
        load_single_file(sd1, "svd")


# --- shipped configs -------------------------------------------------------------------------


def test_shipped_sd15_tokenizer_is_the_real_clip_vocabulary():
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(SD15 / "tokenizer")
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer.pad_token == "<|endoftext|>"
    # SD 2.x / SDXL's OpenCLIP encoder pad with "!", same vocabulary files
    for folder in (SD21 / "tokenizer", SDXL / "tokenizer_2"):
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        assert config["pad_token"] == "!"
        assert (folder / "vocab.json").read_bytes() == (SD15 / "tokenizer" / "vocab.json").read_bytes()
        assert (folder / "merges.txt").read_bytes() == (SD15 / "tokenizer" / "merges.txt").read_bytes()


def test_shipped_configs_have_the_real_architectures():
    from diffusers import AutoencoderKL, DiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig

    index = DiffusionPipeline.load_config(SD15)
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["safety_checker"] == [None, None] and index["feature_extractor"] == [None, None]
    unet = UNet2DConditionModel.load_config(SD15, subfolder="unet")
    assert unet["block_out_channels"] == [320, 640, 1280, 1280] and unet["cross_attention_dim"] == 768
    assert unet["attention_head_dim"] == 8 and unet["sample_size"] == 64 and unet["layers_per_block"] == 2
    assert not unet["use_linear_projection"]
    vae = AutoencoderKL.load_config(SD15, subfolder="vae")
    assert vae["block_out_channels"] == [128, 256, 512, 512] and vae["scaling_factor"] == 0.18215
    text = CLIPTextConfig.from_pretrained(SD15, subfolder="text_encoder")
    assert (text.hidden_size, text.num_hidden_layers, text.hidden_act) == (768, 12, "quick_gelu")
    assert text.vocab_size == 49408 and text.max_position_embeddings == 77
    scheduler = json.loads((SD15 / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    assert scheduler["_class_name"] == "PNDMScheduler" and scheduler["beta_schedule"] == "scaled_linear"
    assert (scheduler["beta_start"], scheduler["beta_end"], scheduler["steps_offset"]) == (0.00085, 0.012, 1)

    unet21 = UNet2DConditionModel.load_config(SD21, subfolder="unet")
    assert unet21["cross_attention_dim"] == 1024 and unet21["use_linear_projection"] and unet21["sample_size"] == 96
    text21 = CLIPTextConfig.from_pretrained(SD21, subfolder="text_encoder")
    assert (text21.hidden_size, text21.num_hidden_layers, text21.hidden_act) == (1024, 23, "gelu")
    scheduler21 = json.loads((SD21 / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    assert scheduler21["prediction_type"] == "v_prediction"

    assert DiffusionPipeline.load_config(SDXL)["_class_name"] == "StableDiffusionXLPipeline"
    unetxl = UNet2DConditionModel.load_config(SDXL, subfolder="unet")
    assert unetxl["cross_attention_dim"] == 2048 and unetxl["transformer_layers_per_block"] == [1, 2, 10]
    assert AutoencoderKL.load_config(SDXL, subfolder="vae")["scaling_factor"] == 0.13025
    text2 = CLIPTextConfig.from_pretrained(SDXL, subfolder="text_encoder_2")
    assert (text2.hidden_size, text2.num_hidden_layers, text2.projection_dim) == (1280, 32, 1280)
    scheduler_xl = json.loads((SDXL / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    assert scheduler_xl["_class_name"] == "EulerDiscreteScheduler"


def _meta_ldm_shapes(config_dir):
    """Full-size UNet/VAE/CLIP-L from a shipped config on the meta device (no memory), their
    diffusers state dicts, and the original-layout names and shapes they export to."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    configs = {
        "unet": UNet2DConditionModel.load_config(config_dir, subfolder="unet"),
        "vae": AutoencoderKL.load_config(config_dir, subfolder="vae"),
    }
    with init_empty_weights():
        states = {
            "unet": UNet2DConditionModel.from_config(configs["unet"]).state_dict(),
            "vae": AutoencoderKL.from_config(configs["vae"]).state_dict(),
            "text": CLIPTextModel(CLIPTextConfig.from_pretrained(config_dir, subfolder="text_encoder")).state_dict(),
        }
    ldm = {
        "unet": unet_to_ldm(states["unet"], configs["unet"]),
        "vae": vae_to_ldm(states["vae"], configs["vae"]),
        "text": clip_to_ldm(states["text"]),
    }
    prefixes = {"unet": "model.diffusion_model.", "vae": "first_stage_model.", "text": "cond_stage_model.transformer."}
    shapes = {prefixes[part] + k: tuple(v.shape) for part, tensors in ldm.items() for k, v in tensors.items()}
    return configs, states, ldm, shapes


@pytest.mark.parametrize("name", ["sd15", "sd21", "sdxl"])
def test_shipped_configs_match_diffusers_original_layout_converters(name):
    """diffusers' own LDM converters map the original-layout names back onto exactly the
    shipped architectures (all on the meta device: no weights, no memory)."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

    configs, states, ldm, _ = _meta_ldm_shapes(shipped_configs_dir() / name)
    unet = {"model.diffusion_model." + k: v for k, v in ldm["unet"].items()}
    back = convert_ldm_unet_checkpoint(unet, configs["unet"])
    assert {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in states["unet"].items()}
    back = convert_ldm_vae_checkpoint({"first_stage_model." + k: v for k, v in ldm["vae"].items()}, configs["vae"])
    assert {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in states["vae"].items()}


def test_shipped_sd15_and_sd21_configs_have_the_real_checkpoint_names_and_shapes():
    _, _, _, shapes = _meta_ldm_shapes(SD15)
    # well-known names and shapes of v1-5-pruned-emaonly.safetensors
    assert shapes[UNET_KEY] == (320, 4, 3, 3)
    assert shapes["model.diffusion_model.output_blocks.11.0.skip_connection.weight"] == (320, 640, 1, 1)
    assert shapes["model.diffusion_model.input_blocks.9.0.op.weight"] == (1280, 1280, 3, 3)
    assert shapes["model.diffusion_model.output_blocks.2.1.conv.weight"] == (1280, 1280, 3, 3)
    assert shapes["model.diffusion_model.output_blocks.8.2.conv.weight"] == (640, 640, 3, 3)
    assert shapes["model.diffusion_model.middle_block.1.proj_in.weight"] == (1280, 1280, 1, 1)
    assert shapes[SD2_KEY] == (320, 768)
    assert shapes["first_stage_model.encoder.mid.attn_1.q.weight"] == (512, 512, 1, 1)
    assert shapes["first_stage_model.decoder.up.3.block.0.conv1.weight"] == (512, 512, 3, 3)
    assert shapes["cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"] == (77, 768)
    assert shapes["cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"] == (49408, 768)
    assert sum(1 for k in shapes if k.startswith("model.diffusion_model.")) == 686
    assert family_from_shapes(shapes) == "sd1"
    # SD 2.1: 1024-wide cross-attention, linear transformer projections
    _, _, _, shapes = _meta_ldm_shapes(SD21)
    assert shapes[SD2_KEY] == (320, 1024)
    assert shapes["model.diffusion_model.input_blocks.1.1.proj_in.weight"] == (320, 320)
    assert family_from_shapes(shapes) == "sd2"

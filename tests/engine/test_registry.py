import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from engine.errors import BadInput, ModelNotFound, UnsafeCheckpoint
from engine.models.registry import ModelRegistry


def test_lists_bundled_kit_models_with_families(kit):
    registry = ModelRegistry(bundled_dir=kit)
    found = {spec.id: spec for spec in registry.list()}
    assert {found[i].family for i in ("tiny-sd1", "tiny-sd2", "tiny-sdxl", "tiny-clip")} == {"sd1", "sd2", "sdxl", "clip"}
    assert all(spec.available and spec.source == "bundled" for spec in found.values())


def test_detects_family_from_configs_without_a_manifest(kit, tmp_path):
    for name, family in (("sd1", "sd1"), ("sd2", "sd2"), ("sdxl", "sdxl"), ("clip", "clip")):
        copy = tmp_path / name
        shutil.copytree(kit / name, copy)
        (copy / "latent-studio.json").unlink()
        spec = ModelRegistry(bundled_dir=tmp_path / "none").resolve(str(copy))
        assert spec.family == family and spec.source == "local"


def _lay_out_hf_cache(cache: Path, repo_id: str, source: Path) -> None:
    """The layout huggingface_hub writes: files in blobs/, symlinked from snapshots/<commit>, refs/main."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo_dir / "snapshots" / commit
    (repo_dir / "blobs").mkdir(parents=True)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        blob = repo_dir / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        link = snapshot / file.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)


def test_resolves_a_repo_id_from_the_local_hf_cache(kit, tmp_path):
    cache = tmp_path / "hub"
    _lay_out_hf_cache(cache, "someone/tiny-sd", kit / "sd1")
    registry = ModelRegistry(bundled_dir=tmp_path / "none", hf_cache_dir=cache)
    spec = registry.resolve("someone/tiny-sd")
    assert spec.source == "hf-cache" and spec.family == "sd1" and spec.id == "someone/tiny-sd"
    assert Path(spec.location, "model_index.json").is_file()
    assert "someone/tiny-sd" in [s.id for s in registry.list()]


def test_loads_and_generates_from_the_local_hf_cache_offline(kit, tmp_path):
    from engine.api import GenerateRequest
    from engine.cli import run_job
    from engine.models.cache import ModelCache

    cache = tmp_path / "hub"
    _lay_out_hf_cache(cache, "someone/tiny-sd", kit / "sd1")
    models = ModelCache(ModelRegistry(bundled_dir=tmp_path / "none", hf_cache_dir=cache), device="cpu")
    request = GenerateRequest(prompt="a cat", output_dir=str(tmp_path / "out"), model="someone/tiny-sd",
                              seed=1, steps=2, width=64, height=64, grid_rows=2, grid_cols=2)
    result = run_job(request, models, show_progress=False)
    assert result.model == "someone/tiny-sd" and models.loaded() == ["someone/tiny-sd"] and models.loads == 1
    with Image.open(result.images[0].path) as image:
        assert image.size == (64, 64)


def test_uncached_repo_id_says_how_to_get_it(tmp_path):
    registry = ModelRegistry(bundled_dir=tmp_path / "none", hf_cache_dir=tmp_path / "hub")
    with pytest.raises(ModelNotFound, match="huggingface-cli download stabilityai/sd-turbo"):
        registry.resolve("stabilityai/sd-turbo")


def test_unknown_name_and_non_model_paths(tmp_path):
    registry = ModelRegistry(bundled_dir=tmp_path / "none")
    with pytest.raises(ModelNotFound, match="No model called"):
        registry.resolve("no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="not a model folder"):
        registry.resolve(str(tmp_path / "empty"))


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin"])
def test_pickled_checkpoints_are_refused_by_default(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"not really a pickle")
    registry = ModelRegistry(bundled_dir=tmp_path / "none")
    with pytest.raises(UnsafeCheckpoint, match="safetensors"):
        registry.resolve(str(path))
    assert registry.resolve(str(path), trust_pickle=True).trust_pickle


def test_default_model_missing_names_the_way_out(tmp_path):
    registry = ModelRegistry(bundled_dir=tmp_path / "none")
    with pytest.raises(ModelNotFound, match="--model"):
        registry.default_image_model()
    assert registry.default_scorer() is None


def test_damaged_manifest_is_reported(kit, tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(kit / "sd1", copy)
    (copy / "latent-studio.json").write_text("{not json")
    with pytest.raises(BadInput, match="damaged"):
        ModelRegistry(bundled_dir=tmp_path / "none").resolve(str(copy))


def _copy_with_pickled_unet(kit: Path, folder: Path, keep_safetensors: bool = False) -> Path:
    """The tiny sd1 pipeline with its UNet weights as a pickled .bin (what a trial folder had)."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(kit / "sd1", folder)
    weights = next((folder / "unet").glob("*.safetensors"))
    torch.save(load_file(weights), folder / "unet" / "diffusion_pytorch_model.bin")
    if not keep_safetensors:
        weights.unlink()
    return folder


def test_pickles_inside_a_model_folder_are_refused_like_loose_ones(kit, tmp_path):
    folder = _copy_with_pickled_unet(kit, tmp_path / "pickled")
    registry = ModelRegistry(bundled_dir=tmp_path / "none")
    with pytest.raises(UnsafeCheckpoint) as inside:
        registry.resolve(str(folder))
    loose = tmp_path / "model.bin"
    loose.write_bytes(b"pickle")
    with pytest.raises(UnsafeCheckpoint) as outside:
        registry.resolve(str(loose))
    assert str(inside.value) == str(outside.value).replace("model.bin", "pickled/unet/diffusion_pytorch_model.bin")


def test_a_trusted_pickled_folder_loads_and_an_untrusted_one_never_reaches_diffusers(kit, tmp_path):
    from engine.models.loader import load_text_to_image

    folder = _copy_with_pickled_unet(kit, tmp_path / "pickled")
    registry = ModelRegistry(bundled_dir=tmp_path / "none")
    trusted = registry.resolve(str(folder), trust_pickle=True)
    assert trusted.trust_pickle
    assert load_text_to_image(trusted, "cpu", None).unet.config.sample_size > 0
    # a spec that skipped the registry's check still loads safetensors only
    untrusted = registry.resolve(str(kit / "sd1"))
    with pytest.raises(BadInput, match="Could not load"):
        load_text_to_image(dataclasses.replace(untrusted, location=str(folder)), "cpu", None)


def test_a_folder_with_both_weights_loads_the_safetensors_without_trust(kit, tmp_path):
    folder = _copy_with_pickled_unet(kit, tmp_path / "both", keep_safetensors=True)
    spec = ModelRegistry(bundled_dir=tmp_path / "none").resolve(str(folder))
    assert spec.available and not spec.trust_pickle


@pytest.mark.parametrize("index", ["[]", "{\"_class_name\": ", "{\"_class_name\": 5}", "\"text\""])
def test_a_damaged_model_folder_is_listed_unavailable_and_hides_no_other(kit, tmp_path, index):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(kit / "sd1", models / "good")
    broken = models / "broken"
    shutil.copytree(kit / "sd1", broken)
    (broken / "latent-studio.json").unlink()
    (broken / "model_index.json").write_text(index)
    registry = ModelRegistry(bundled_dir=kit, local_folders=(models,))
    listed = {spec.id: spec for spec in registry.list()}
    assert {"tiny-sd1", "tiny-sd2", "tiny-sdxl", "tiny-clip"} <= set(listed) and listed["tiny-sd1"].available
    assert listed["broken"].available is False and "model_index.json" in listed["broken"].problem
    assert listed["broken"].summary()["problem"] == listed["broken"].problem
    with pytest.raises(BadInput, match="model_index.json"):
        registry.resolve(str(broken))


@pytest.mark.parametrize("manifest", [{"native_size": "big"}, {"native_size": [64]}, {"default_steps": "many"},
                                      {"default_guidance": True}, {"family": 3}, {"still_word": ["still"]}, []])
def test_a_manifest_with_wrong_types_is_named(kit, tmp_path, manifest):
    copy = tmp_path / "odd"
    shutil.copytree(kit / "sd1", copy)
    (copy / "latent-studio.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match="latent-studio.json"):
        ModelRegistry(bundled_dir=tmp_path / "none").resolve(str(copy))

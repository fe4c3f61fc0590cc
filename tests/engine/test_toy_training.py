"""The toy-scenes training code runs every stage, resumes, and exports a model the loader takes.

A few steps per stage only: this checks the pipeline of training -> checkpoints -> export ->
registry -> generate, not the quality of a model (test_bundled_model does that).
"""

import json

import numpy as np
import torch
from PIL import Image

from engine.api import GenerateRequest
from engine.jobs import JobContext
from engine.models.cache import ModelCache
from engine.models.registry import ModelRegistry
from engine.tasks import generate
from engine.toy.training import export, train


def test_train_resume_export_and_generate(tmp_path):
    run = tmp_path / "run"
    args = ["--out", str(run), "--minutes", "5", "--max-steps", "2", "--cache-size", "64",
            "--threads", "1", "--checkpoint-minutes", "60"]
    train.main(args)
    steps = {stage: torch.load(run / stage / "ckpt.pt", weights_only=True)["step"]
             for stage in ("vae", "clip", "unet")}
    assert steps == {"vae": 2, "clip": 2, "unet": 2}
    cache = torch.load(run / "cache" / "latents.pt", weights_only=True)
    assert cache["mean"].shape == (64, 4, 16, 16) and len(cache["captions"]) == 64

    # Running the same command again resumes from the checkpoints instead of starting over.
    train.main([*args[:5], "4", *args[6:]])
    assert torch.load(run / "unet" / "ckpt.pt", weights_only=True)["step"] == 4

    dest = tmp_path / "models"
    dest.mkdir()
    info = export.export_image_model(run, dest / "toy-scenes")
    export.export_clip(run, dest / "toy-scenes-clip")
    assert info["training"]["unet_steps"] == 4
    assert not list(dest.glob("*.tmp"))
    assert all(f.suffix != ".bin" for f in dest.rglob("*"))
    manifest = json.loads((dest / "toy-scenes" / "latent-studio.json").read_text())
    assert manifest["native_size"] == [64, 64]

    registry = ModelRegistry(bundled_dir=dest)
    assert registry.default_image_model().id == "toy-scenes"
    assert registry.default_scorer().id == "toy-scenes-clip"
    request = GenerateRequest(prompt="a red circle on the left on a black background", seed=1, count=2,
                              steps=2, rerank=True, output_dir=str(tmp_path / "out"))
    result = generate.run(request, JobContext(0, model_cache=ModelCache(registry, device="cpu")))
    assert len(result.images) == 2 and all(image.score is not None for image in result.images)
    pixels = np.asarray(Image.open(result.images[0].path))
    assert pixels.shape == (64, 64, 3)


def test_hard_negative_captions_differ_from_the_truth_in_one_way():
    from collections import Counter

    from engine.toy import scenes as S

    rng = np.random.default_rng(3)
    kinds = Counter()
    for _ in range(2000):
        scene = S.sample_scene(rng)
        truth = S.parse_caption(S.caption(scene))
        negative = S.parse_caption(train.perturb_caption(rng, scene))  # inside the grammar
        assert negative != truth
        if negative.background != truth.background:
            assert negative.objects == truth.objects
            kinds["background"] += 1
            continue
        changed = {field for a, b in zip(truth.objects, negative.objects)
                   for field in ("shape", "colour", "position", "size") if getattr(a, field) != getattr(b, field)}
        kinds[" and ".join(sorted(changed))] += 1
    # one attribute each, except a two-object swap (both colours, or both positions)
    assert set(kinds) == {"background", "colour", "shape", "position", "size"}
    assert kinds["shape"] > kinds["colour"] > kinds["background"]  # weighted towards the hard kinds

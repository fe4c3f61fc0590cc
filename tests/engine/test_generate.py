"""Text-to-image and image-to-image on the tiny kit, through the real loader and denoising loop."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from engine.api import GenerateRequest
from engine.errors import BadInput, Cancelled
from engine.grid import derive_grid_seeds, grid_noise
from engine.metadata import read_request, read_studio_metadata
from engine.tasks.generate import run


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def request(tmp_path, model="tiny-sd1", **kw):
    return GenerateRequest(prompt="a red circle", output_dir=str(tmp_path), model=model, steps=3, **kw)


@pytest.mark.parametrize("model", ["tiny-sd1", "tiny-sd2", "tiny-sdxl"])
def test_generation_is_reproduced_bit_for_bit_from_its_metadata(tmp_path, direct_context, model):
    result = run(request(tmp_path / "a", model=model, seed=5), direct_context)
    (image,) = result.images
    assert image.seed == 5 and image.grid == derive_grid_seeds(5, 4, 4)
    original = pixels(image.path)
    assert original.shape == (32, 32, 3) and original.std() > 0
    recorded = replace(read_request(image.path), output_dir=str(tmp_path / "b"))
    assert recorded.grid_seeds == image.grid and recorded.count == 1
    again = run(recorded, direct_context)
    assert np.array_equal(pixels(again.images[0].path), original)


def test_candidates_use_consecutive_seeds_and_are_ranked_best_first(tmp_path, direct_context):
    result = run(request(tmp_path, seed=10, count=3, scorer="tiny-clip", rerank=True), direct_context)
    assert sorted(i.seed for i in result.images) == [10, 11, 12]
    scores = [i.score for i in result.images]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    assert len({i.path for i in result.images}) == 3
    assert result.seconds > 0


def test_reseeding_one_cell_changes_the_image(tmp_path, direct_context):
    grid = derive_grid_seeds(3, 4, 4)
    a = run(request(tmp_path, grid_seeds=grid), direct_context).images[0]
    b = run(request(tmp_path, grid_seeds=grid.with_seed(0, 0, 99)), direct_context).images[0]
    assert not np.array_equal(pixels(a.path), pixels(b.path))


def test_png_carries_a1111_parameters_and_the_full_request(tmp_path, direct_context):
    path = run(request(tmp_path, seed=77, negative_prompt="blurry", guidance=6.5), direct_context).images[0].path
    text = Image.open(path).text
    lines = text["parameters"].splitlines()
    assert lines[0] == "a red circle"
    assert lines[1] == "Negative prompt: blurry"
    for field in ("Steps: 3", "Sampler: DDIM", "CFG scale: 6.5", "Seed: 77", "Size: 32x32", "Model: tiny-sd1"):
        assert field in lines[2]
    studio = read_studio_metadata(path)
    assert studio["request"]["grid_seeds"]["seeds"] == list(derive_grid_seeds(77, 4, 4).seeds)


def test_progress_reports_every_step_with_previews(tmp_path, direct_context):
    run(request(tmp_path, count=2), direct_context)
    steps = [(s, t) for s, t, _ in direct_context.progress]
    assert steps == [(i, 6) for i in range(1, 7)]
    preview = direct_context.progress[-1][2]
    assert preview.shape == (16, 16, 3) and preview.dtype == np.uint8


def test_each_candidate_is_announced_once_saved_before_the_next_starts(tmp_path, direct_context):
    result = run(request(tmp_path, seed=10, count=3, scorer="tiny-clip", rerank=True), direct_context)
    saved = direct_context.saved
    assert [(steps, index, seed) for steps, index, _, seed in saved] == [(3, 0, 10), (6, 1, 11), (9, 2, 12)]
    assert {image.path: image.seed for image in result.images} == {path: seed for _, _, path, seed in saved}


def test_cancel_stops_between_steps(tmp_path, direct_context):
    direct_context.cancel_after = 2
    with pytest.raises(Cancelled):
        run(request(tmp_path, count=2), direct_context)
    assert len(direct_context.progress) == 2
    assert not list(tmp_path.glob("*.png"))


def test_image_to_image_follows_the_init_image(tmp_path, kit_cache, direct_context):
    from engine import sampling

    init = np.zeros((32, 32, 3), dtype=np.uint8)
    init[:, :16] = 255
    init_path = tmp_path / "init.png"
    Image.fromarray(init).save(init_path)
    # random tiny weights: compare with the VAE round trip of the init image, not the image itself
    pipe = kit_cache.pipeline(kit_cache.registry.resolve("tiny-sd1"))
    round_trip = sampling.decode(pipe, sampling.encode_image(pipe, Image.fromarray(init))).astype(float)
    weak = run(request(tmp_path, init_image=str(init_path), strength=0.3, seed=1), direct_context).images[0]
    strong = run(request(tmp_path, init_image=str(init_path), strength=1.0, seed=1), direct_context).images[0]
    err_weak = np.abs(pixels(weak.path).astype(float) - round_trip).mean()
    err_strong = np.abs(pixels(strong.path).astype(float) - round_trip).mean()
    assert err_weak < err_strong
    again = run(replace(read_request(weak.path), output_dir=str(tmp_path / "again")), direct_context).images[0]
    assert np.array_equal(pixels(again.path), pixels(weak.path))


@pytest.mark.parametrize("scheduler", ["euler", "euler_a", "dpm++_2m", "unipc", "heun", "pndm", "lcm"])
def test_schedulers_by_name_are_reproducible(tmp_path, direct_context, scheduler):
    a = run(request(tmp_path / "a", scheduler=scheduler, seed=2), direct_context).images[0]
    b = run(request(tmp_path / "b", scheduler=scheduler, seed=2), direct_context).images[0]
    assert np.array_equal(pixels(a.path), pixels(b.path))
    assert "Sampler: " in Image.open(a.path).text["parameters"]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"width": 30}, "multiples of 4"),
        ({"grid_rows": 20}, "finer than"),
        ({"scheduler": "warp"}, "Unknown scheduler"),
        ({"count": 0}, "Count"),
        ({"init_image": "/nonexistent.png"}, "does not exist"),
        ({"model": "tiny-clip"}, "cannot make images"),
    ],
)
def test_bad_requests_get_clear_errors(tmp_path, direct_context, kw, message):
    from engine.tasks import run_task  # where every executor checks a request's bounds (engine.validation)

    with pytest.raises(BadInput, match=message):
        run_task(request(tmp_path, **kw), direct_context)


@pytest.mark.parametrize("model", ["tiny-sd1", "tiny-sdxl"])
def test_our_loop_matches_the_diffusers_pipeline_call(tmp_path, kit_cache, direct_context, model):
    """The shared denoising loop must be the same computation as Pipeline.__call__."""
    spec = kit_cache.registry.resolve(model)
    result = run(request(tmp_path, model=model, seed=4, guidance=5.0), direct_context)  # its own scheduler
    ours = pixels(result.images[0].path)
    pipe = kit_cache.pipeline(spec)
    noise = grid_noise(derive_grid_seeds(4, 4, 4), 4, 16, 16)
    theirs = pipe(
        "a red circle", height=32, width=32, num_inference_steps=3, guidance_scale=5.0,
        latents=noise.clone(), output_type="np",
    ).images[0]
    theirs = (theirs * 255).round().astype(np.uint8)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1

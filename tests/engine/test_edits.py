"""Block resampling, inpainting and their comparison on the tiny kit (DESIGN sections 5 and 6)."""

import json
import os
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from engine import edits, metrics
from engine.api import CompareRequest, EditSettings, GenerateRequest, InpaintRequest, ResampleRequest
from engine.edits import distance_to_box
from engine.errors import BadInput
from engine.metadata import read_request, read_studio_metadata
from engine.tasks import compare, generate, inpaint, resample

SIZE = 64  # 4x4 grid of 16 px blocks; the kit's VAE halves, so a block is 8x8 latents


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float64)


@pytest.fixture
def source(tmp_path, direct_context):
    request = GenerateRequest(prompt="a red circle", output_dir=str(tmp_path / "gen"), model="tiny-sd1",
                              steps=4, width=SIZE, height=SIZE, seed=11)
    return generate.run(request, direct_context).images[0].path


def block_box(row, col, size=16):
    return row * size, (row + 1) * size, col * size, (col + 1) * size


@pytest.mark.parametrize("context", ["window", "full"])
def test_resample_changes_the_block_and_nothing_beyond_the_radius(tmp_path, direct_context, source, context):
    result = resample.run(ResampleRequest(image=source, output_dir=str(tmp_path), row=1, col=2, seed=3, count=2,
                                          context=context), direct_context)
    original = pixels(source)
    box = block_box(1, 2)
    distance = distance_to_box(SIZE, SIZE, box)
    mask = distance == 0
    assert len({i.seed for i in result.images}) == 2
    for image in result.images:
        new = pixels(image.path)
        diff = np.abs(new - original).max(axis=2)
        assert metrics.change_inside(original / 255, new / 255, mask) > 0.02
        assert diff[distance >= 16].max() <= 1  # beyond the fall-off: at most 1/255
        assert diff[(distance > 0) & (distance < 8)].mean() > 0.5  # the ring adapts to the new block


@pytest.mark.parametrize("context", ["window", "full"])
def test_resample_change_falls_off_through_the_ring(tmp_path, direct_context, source, context):
    """Inside the radius, the change the new cell seed causes fades with distance.

    Compared with a resample that keeps the cell's own seed, so the tiny kit's VAE round-trip
    drift (which is there with any seed) cancels out. Measured on this kit: at 4-8 px out the
    change is 0.23-0.32 of that in the first 4 px; a hard mask (ring never free, only the decoder's
    reach) gives 0.09-0.11 and a map that rises with distance 0.05-0.09 and is not monotone.
    """
    cell_seed = read_request(source).grid_seeds.seed_at(1, 2)
    same, new = (
        resample.run(ResampleRequest(image=source, output_dir=str(tmp_path / name), row=1, col=2, seed=3, count=1,
                                     cell_seeds=seeds, context=context), direct_context).images[0].path
        for name, seeds in (("same", (cell_seed,)), ("new", None))
    )
    mask = distance_to_box(SIZE, SIZE, block_box(1, 2)) == 0
    y, y2 = pixels(same) / 255, pixels(new) / 255
    profile = [change for _, change in metrics.ring_profile(y, y2, mask, 2, 16)]  # 2 px rings out to the radius
    near, mid = np.mean(profile[:2]), np.mean(profile[2:4])
    assert 0 < near < metrics.change_inside(y, y2, mask)
    assert mid > 0.18 * near  # the ring adapts to the new block
    assert all(b <= a + 1e-4 for a, b in zip(profile, profile[1:]))


def _latent_distance(prepared, block, window):
    """Distance in latent pixels from each latent of `window` to the block (0 inside)."""
    box = (block.top - window.top, block.bottom - window.top, block.left - window.left, block.right - window.left)
    return distance_to_box(window.height, window.width, box)


@pytest.mark.parametrize("context", ["window", "full"])
def test_resample_holds_the_denoise_to_the_original_outside_the_fall_off(direct_context, source, context):
    """What the denoise produced, before paste-back (which restores the far pixels whatever it did):
    beyond the radius the latents are the original's exactly, in the outer fall-off ring they moved
    much less than in the block (the ring was held until late in the schedule), and the block changed."""
    prepared = edits.PreparedEdit(source, EditSettings(), direct_context.model_cache, None, None, grid_required=True)
    block = prepared.block(1, 2)
    grid = prepared.source.grid.with_seed(1, 2, 424242)
    radius_px = 16.0
    denoised = resample.resample_latents(prepared, block, grid, radius_px, 1.0, context)
    change = (denoised.latents - denoised.original).abs().mean(dim=1)[0].numpy()
    distance = _latent_distance(prepared, block, denoised.window)
    radius = radius_px / prepared.factor
    assert np.array_equal(change[distance > radius], np.zeros(int((distance > radius).sum())))
    inside = change[distance == 0].mean()
    outer_ring = change[(distance > radius / 2) & (distance <= radius)].mean()
    assert inside > 0.3
    assert 0 < outer_ring < 0.5 * inside


def test_inpaint_denoise_keeps_the_latents_outside_the_mask_and_redraws_inside(direct_context, source):
    """Latent masking, before the composite (which keeps outside pixels whatever the denoise did):
    outside the block the latents are the original's exactly, inside they were drawn anew."""
    prepared = edits.PreparedEdit(source, EditSettings(model="tiny-sd1"), direct_context.model_cache, None, None,
                                  grid_required=True)
    block = prepared.block(2, 1)
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    top, bottom, left, right = block.pixel_box
    mask[top:bottom, left:right] = True
    denoised = inpaint.inpaint_latents(prepared, mask, seed=3, strength=1.0)
    change = (denoised.latents - denoised.original).abs().mean(dim=1)[0].numpy()
    inside = np.zeros(change.shape, dtype=bool)
    inside[block.top:block.bottom, block.left:block.right] = True
    assert np.array_equal(change[~inside], np.zeros(int((~inside).sum())))
    assert change[inside].mean() > 0.3


def test_resample_metadata_holds_new_seeds_and_regenerates_exactly(tmp_path, direct_context, source):
    first = resample.run(ResampleRequest(image=source, output_dir=str(tmp_path / "a"), row=0, col=0, seed=5,
                                         count=1), direct_context).images[0]
    recorded = read_studio_metadata(first.path)
    assert recorded["grid"]["seeds"][0] == first.seed
    original_grid = read_studio_metadata(source)["request"]["grid_seeds"]["seeds"]
    assert recorded["grid"]["seeds"][1:] == original_grid[1:]
    again = resample.run(replace(read_request(first.path), output_dir=str(tmp_path / "b")), direct_context).images[0]
    assert np.array_equal(pixels(again.path), pixels(first.path))
    # chaining: resample the resampled image; the grid now starts from the new seeds
    second = resample.run(ResampleRequest(image=first.path, output_dir=str(tmp_path / "c"), row=3, col=3, seed=9,
                                          count=1), direct_context).images[0]
    chained = read_studio_metadata(second.path)["grid"]["seeds"]
    assert chained[0] == first.seed and chained[-1] == second.seed


def test_window_mode_denoises_a_smaller_latent_aligned_to_the_unet(tmp_path, direct_context, source):
    from engine import edits

    block = edits.locate_block(4, 4, 1, 1, 32, 32, 2)
    window = edits.denoise_window(block, 5, 32, 32, 4, "window")
    assert window.height < 32 and window.width < 32
    assert window.top <= block.top - 5 and window.bottom >= block.bottom + 5
    assert all(v % 4 == 0 for v in (window.top, window.bottom, window.left, window.right))
    full = edits.denoise_window(block, 8, 32, 32, 2, "full")
    assert (full.height, full.width) == (32, 32)


def test_imported_images_need_a_grid_and_then_work(tmp_path, direct_context):
    rng = np.random.default_rng(0)
    plain = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(plain)
    with pytest.raises(BadInput, match="--grid"):
        resample.run(ResampleRequest(image=str(plain), output_dir=str(tmp_path), row=0, col=0,
                                     settings=_tiny()), direct_context)
    result = resample.run(ResampleRequest(image=str(plain), output_dir=str(tmp_path), row=0, col=0, count=1,
                                          grid_rows=4, grid_cols=4, settings=_tiny()), direct_context)
    new = pixels(result.images[0].path)
    original = pixels(plain)
    distance = distance_to_box(SIZE, SIZE, block_box(0, 0))
    assert np.abs(new - original)[distance == 0].mean() > 1
    assert np.abs(new - original).max(axis=2)[distance >= 16].max() <= 1


def _tiny():
    from engine.api import EditSettings

    return EditSettings(model="tiny-sd1", prompt="a cat", steps=4)


@pytest.mark.parametrize("model", ["tiny-sd1", "tiny-sd1-inpaint"])
def test_inpaint_leaves_every_pixel_outside_the_mask_identical(tmp_path, direct_context, source, model):
    from engine.api import EditSettings

    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask[10:30, 20:50] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask).save(mask_path)
    for request in (
        InpaintRequest(image=source, output_dir=str(tmp_path), row=2, col=1, settings=EditSettings(model=model)),
        InpaintRequest(image=source, output_dir=str(tmp_path), mask=str(mask_path), settings=EditSettings(model=model)),
    ):
        image = inpaint.run(request, direct_context).images[0]
        original, new = pixels(source), pixels(image.path)
        inside = np.zeros((SIZE, SIZE), dtype=bool)
        if request.mask:
            inside = mask > 0
        else:
            top, bottom, left, right = block_box(2, 1)
            inside[top:bottom, left:right] = True
        assert np.array_equal(new[~inside], original[~inside])
        assert np.abs(new - original)[inside].mean() > 1


def test_compare_measures_both_and_writes_its_files(tmp_path, direct_context, source):
    # an asymmetric block (row 0, column 2 of 2x4: pixels 0..32 x 32..48), so a swap of row and column shows
    result = compare.run(CompareRequest(image=source, output_dir=str(tmp_path), row=0, col=2, seed=2, grid_rows=2,
                                        grid_cols=4), direct_context)
    keys = {"distortion_radial", "change_inside", "mse_inside", "mse_outside", "ssim_outside", "seam", "seam_step",
            "seconds"}
    assert set(result.resample_metrics) == keys == set(result.inpaint_metrics)
    assert result.inpaint_metrics["distortion_radial"] == 0.0 and result.inpaint_metrics["mse_outside"] == 0.0
    assert result.resample_metrics["change_inside"] > 0.02
    side = Image.open(result.side_by_side)
    assert side.size == (3 * SIZE, SIZE)
    assert len(result.heatmaps) == 2 and all(Image.open(p).size == (SIZE, SIZE) for p in result.heatmaps)
    report = json.loads(open(result.report).read())
    assert report["resample"]["metrics"]["change_inside"] == result.resample_metrics["change_inside"]
    assert report["block"]["pixel_box"] == [0, 32, 32, 48]
    original, inpainted = pixels(source), pixels(result.inpaint_path)
    block = np.zeros((SIZE, SIZE), dtype=bool)
    block[0:32, 32:48] = True
    assert np.array_equal(inpainted[~block], original[~block]) and np.abs(inpainted - original)[block].mean() > 1


def test_compare_twice_into_one_folder_keeps_both_runs_and_each_report_points_at_its_own(tmp_path, direct_context,
                                                                                       source):
    runs = [compare.run(CompareRequest(image=source, output_dir=str(tmp_path), row=1, col=2, seed=2, radius=radius),
                        direct_context) for radius in (4, 12)]
    files = [{r.resample_path, r.inpaint_path, r.side_by_side, r.report, *r.heatmaps} for r in runs]
    assert all(len(names) == 6 for names in files) and not files[0] & files[1]
    assert all(os.path.isfile(path) for names in files for path in names)
    for run in runs:
        report = json.loads(open(run.report).read())
        assert report["radius"] == read_request(run.resample_path).radius
        assert report["resample"]["path"] == os.path.basename(run.resample_path)
        assert report["inpaint"]["path"] == os.path.basename(run.inpaint_path)
        assert report["side_by_side"] == os.path.basename(run.side_by_side)
        assert report["heatmaps"] == [os.path.basename(path) for path in run.heatmaps]
        assert report["resample"]["metrics"] == run.resample_metrics


class _SlowLoading:
    """A model cache whose every pipeline() call takes `delay` seconds, as loading from a slow disk would."""

    def __init__(self, model_cache, delay: float):
        self.registry = model_cache.registry
        self._model_cache = model_cache
        self._delay = delay

        self.pipeline_calls = 0

    def pipeline(self, spec, kind="txt2img"):
        self.pipeline_calls += 1
        time.sleep(self._delay)
        return self._model_cache.pipeline(spec, kind)


def test_compare_prepares_the_edit_once_and_encodes_the_prompt_once(tmp_path, direct_context, source, monkeypatch):
    from engine import sampling

    encoded = []
    real_encode = sampling.encode_conditioning
    monkeypatch.setattr(sampling, "encode_conditioning", lambda *a, **k: encoded.append(a[2]) or real_encode(*a, **k))
    read = []
    real_load = edits.load_source
    monkeypatch.setattr(edits, "load_source", lambda path: read.append(path) or real_load(path))
    counting = _SlowLoading(direct_context.model_cache, 0.0)
    direct_context.model_cache = counting
    compare.run(CompareRequest(image=source, output_dir=str(tmp_path), row=1, col=2, seed=2), direct_context)
    assert (read, counting.pipeline_calls, len(encoded)) == ([source], 1, 1)


def test_compare_seconds_leave_model_loading_out(tmp_path, direct_context, source):
    request = CompareRequest(image=source, output_dir=str(tmp_path), row=1, col=1, seed=2)
    quick = compare.run(request, direct_context)
    # Generous, so a busy machine slowing the second run does not fail it; loading time counted
    # in would still push a side past the delay.
    delay = 10 * max(quick.resample_metrics["seconds"], quick.inpaint_metrics["seconds"]) + 1.0
    direct_context.model_cache = _SlowLoading(direct_context.model_cache, delay)
    slow = compare.run(request, direct_context)
    for measures in (slow.resample_metrics, slow.inpaint_metrics):
        assert 0 < measures["seconds"] < delay


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda src, out: ResampleRequest(image=src, output_dir=out, row=4, col=0), "outside the 4x4 grid"),
        (lambda src, out: ResampleRequest(image=src, output_dir=out, row=0, col=0, context="sideways"), "Context"),
        (lambda src, out: InpaintRequest(image=src, output_dir=out), "either a block"),
        (lambda src, out: ResampleRequest(image=out + "/missing.png", output_dir=out, row=0, col=0), "does not exist"),
    ],
)
def test_bad_edit_requests_get_clear_errors(tmp_path, direct_context, source, make, message):
    with pytest.raises(BadInput, match=message):
        task = {"resample": resample, "inpaint": inpaint}[make(source, str(tmp_path)).task]
        task.run(make(source, str(tmp_path)), direct_context)


def test_mask_of_another_size_and_unreadable_files(tmp_path, direct_context, source):
    small = tmp_path / "small.png"
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8)).save(small)
    with pytest.raises(BadInput, match="same size"):
        inpaint.run(InpaintRequest(image=source, output_dir=str(tmp_path), mask=str(small)), direct_context)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not a png")
    with pytest.raises(BadInput, match="not a readable image"):
        resample.run(ResampleRequest(image=str(junk), output_dir=str(tmp_path), row=0, col=0, grid_rows=2,
                                     grid_cols=2, settings=_tiny()), direct_context)


def test_an_inpainting_model_is_refused_for_generate_and_resample_with_a_clear_error(tmp_path, direct_context,
                                                                                   source):
    from engine.api import EditSettings

    with pytest.raises(BadInput, match="inpainting model"):
        generate.run(GenerateRequest(prompt="a cat", model="tiny-sd1-inpaint", output_dir=str(tmp_path), steps=2),
                     direct_context)
    with pytest.raises(BadInput, match="inpainting model"):
        resample.run(ResampleRequest(image=source, output_dir=str(tmp_path), row=0, col=0,
                                     settings=EditSettings(model="tiny-sd1-inpaint")), direct_context)


def _text_chunks(path) -> str:
    with Image.open(path) as image:
        return "\n".join(f"{key}={value}" for key, value in image.text.items())


def test_png_metadata_names_no_local_path_and_still_regenerates(tmp_path, direct_context, monkeypatch):
    """Shared PNGs must not give away the user's folders (issue 12.4): no output folder, source
    or mask path in any text chunk, yet regenerate and resample-regenerate still reproduce them."""
    from engine.api import EditSettings

    home = tmp_path / "home" / "alice-smith"
    monkeypatch.setenv("HOME", str(home))
    pictures = home / "Pictures"
    (pictures / "in").mkdir(parents=True)
    photo = pictures / "in" / "holiday.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(photo)
    mask = pictures / "in" / "mask.png"
    mask_pixels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask_pixels[8:24, 8:40] = 255
    Image.fromarray(mask_pixels).save(mask)
    out = str(pictures / "out")
    settings = EditSettings(model="tiny-sd1", prompt="a cat", steps=3)
    made = generate.run(GenerateRequest(prompt="a red circle", output_dir=out, model="tiny-sd1", steps=3,
                                        width=SIZE, height=SIZE, seed=4, init_image=str(photo)), direct_context)
    source = made.images[0].path
    resampled = resample.run(ResampleRequest(image=source, output_dir=out, row=1, col=2, seed=3, count=1),
                             direct_context).images[0].path
    inpainted = inpaint.run(InpaintRequest(image=str(photo), output_dir=str(pictures / "other"), mask=str(mask),
                                           settings=settings), direct_context).images[0].path
    compared = compare.run(CompareRequest(image=source, output_dir=out, row=0, col=1, seed=2), direct_context)
    for path in (source, resampled, inpainted, compared.resample_path, compared.inpaint_path):
        text = _text_chunks(path)
        assert str(home) not in text and "alice-smith" not in text and str(tmp_path) not in text, path
    report = open(compared.report).read()
    assert str(home) not in report and "alice-smith" not in report

    for path in (source, resampled):
        request = read_request(path)
        task = {"generate": generate, "resample": resample}[request.task]
        again = task.run(replace(request, output_dir=str(tmp_path / "again")), direct_context).images[0].path
        assert np.array_equal(pixels(again), pixels(path))
    assert read_request(inpainted).mask == str(mask)  # recorded relative to the result's folder


def test_older_files_with_absolute_paths_still_read(tmp_path, direct_context, source):
    from engine.metadata import STUDIO_KEY

    with Image.open(source) as image:
        data = json.loads(image.text[STUDIO_KEY])
    data["request"]["output_dir"] = str(tmp_path / "gen")
    data["request"]["init_image"] = str(tmp_path / "photo.png")
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(STUDIO_KEY, json.dumps(data))
    old = tmp_path / "old.png"
    Image.open(source).save(old, pnginfo=info)
    request = read_request(old)
    assert request.output_dir == str(tmp_path / "gen") and request.init_image == str(tmp_path / "photo.png")


def test_resample_with_the_cells_own_seed_redraws_the_block_close_to_the_original(tmp_path, direct_context):
    """With the bundled (trained) model: re-rolling a cell to the seed it already had must give
    nearly the original block back. That holds only if the held region is noised to each step
    like the free one; a hold to the clean original puts the block among neighbours at the wrong
    noise level. Measured: mean change inside 0.016 with the hold as it is, 0.034 with a clean hold."""
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry

    model_cache = direct_context.model_cache = ModelCache(ModelRegistry(), device="cpu")
    changes = []
    for seed, prompt in enumerate(["a large red circle on the left on a black background",
                                   "a blue square at the top on a white background",
                                   "a yellow triangle in the center on a gray background"]):
        made = generate.run(GenerateRequest(prompt=prompt, output_dir=str(tmp_path), seed=seed),
                            direct_context).images[0].path
        prepared = edits.PreparedEdit(made, EditSettings(), model_cache, None, None, grid_required=True)
        for row, col in ((1, 1), (2, 2)):
            block = prepared.block(row, col)
            again = resample.resample_pixels(prepared, block, prepared.source.grid, float(block.pixel_width), 1.0,
                                             "full")
            mask = distance_to_box(*again.shape[:2], block.pixel_box) == 0
            changes.append(metrics.change_inside(prepared.source.pixels, again, mask))
    assert np.mean(changes) < 0.024


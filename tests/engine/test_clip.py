"""Clips through the job queue: each tiny family (AnimateDiff on SD 1.x, SVD, LTX-Video, Wan) is
listed as a clip model, runs with progress and a preview, reproduces bit for bit, and cancels at
the next step leaving nothing on disk; bad requests get one sentence."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.api import ClipRequest
from engine.clips.files import read_frames
from engine.errors import BadInput, ModelNotFound
from engine.events import Progress
from engine.jobs import JobQueue, JobStatus

# family -> (model id, extra request fields): SVD makes clips from an image only
FAMILY_RUNS = {
    "animatediff": ("tiny-animatediff", {"frames": 4}),
    "svd": ("tiny-svd", {"frames": 3, "init": True}),
    "ltx": ("tiny-ltx", {"frames": 9}),
    "wan": ("tiny-wan", {"frames": 5}),
}


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    path = tmp_path_factory.mktemp("still") / "still.png"
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[8:24, 4:20] = (220, 40, 30)
    pixels[:, 20:] = (20, 90, 200)
    Image.fromarray(pixels).save(path)
    return str(path)


def _request(family: str, out, still: str, **changes) -> ClipRequest:
    model, extra = FAMILY_RUNS[family]
    extra = dict(extra)
    init = extra.pop("init", False)
    fields = dict(prompt="a red cat", output_dir=str(out), model=model, steps=2, seed=7,
                  init_image=still if init else None, **extra)
    fields.update(changes)
    return ClipRequest(**fields)


def _run(queue: JobQueue, request: ClipRequest):
    events = []
    queue.subscribe(events.append)
    handle = queue.submit(request)
    assert handle.wait(120)
    return handle, [e for e in events if isinstance(e, Progress) and e.job_id == handle.id]


def test_video_models_are_listed_as_clip_models_with_their_family(video_cache):
    listed = {s.id: s.summary() for s in video_cache.registry.list()}
    for family, (model, _) in FAMILY_RUNS.items():
        assert listed[model]["family"] == family and listed[model]["kind"] == "clip"
    assert listed["tiny-animatediff"]["base"] == "tiny-sd1"
    assert listed["tiny-sd1"]["kind"] == "image"


@pytest.mark.parametrize("family", FAMILY_RUNS)
def test_family_runs_and_reproduces_bit_for_bit_through_the_queue(family, video_cache, still, tmp_path):
    with JobQueue(model_cache=video_cache) as queue:
        first, progress = _run(queue, _request(family, tmp_path / "a", still))
        second, _ = _run(queue, _request(family, tmp_path / "b", still))
    assert first.status == JobStatus.COMPLETED, first.error
    clip = first.result.clip
    assert clip.frames == FAMILY_RUNS[family][1]["frames"] and (clip.width, clip.height) == (32, 32)
    assert [p.step for p in progress] == [1, 2] and all(p.total == 2 for p in progress)
    preview = progress[-1].preview
    assert preview is not None and preview.ndim == 3 and preview.shape[2] == 3 and preview.dtype == np.uint8
    frames = read_frames(clip.master)
    assert frames.shape == (clip.frames, 32, 32, 3)
    assert np.array_equal(frames, read_frames(second.result.clip.master))
    assert len({frame.tobytes() for frame in frames}) > 1, "every frame alike: no clip was made"


@pytest.mark.parametrize("family", FAMILY_RUNS)
def test_cancel_through_the_queue_stops_early_and_writes_nothing(family, video_cache, still, tmp_path):
    """The queue's subscriber sees step 1 a moment after the worker made it, so the worker may be
    one step on by the time the cancel lands; it stops there, far short of the 8 steps."""
    out = tmp_path / "out"
    with JobQueue(model_cache=video_cache) as queue:
        def cancel_on_first_step(event):
            if isinstance(event, Progress) and event.step == 1:
                queue.cancel(event.job_id)

        queue.subscribe(cancel_on_first_step)
        handle, progress = _run(queue, _request(family, out, still, steps=8))
    assert handle.status == JobStatus.CANCELLED
    assert len(progress) < 8, "the pipeline ran on past the cancel"
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("family", FAMILY_RUNS)
def test_cancel_is_seen_at_the_very_next_step(family, video_cache, still, tmp_path, direct_context):
    from engine.errors import Cancelled
    from engine.tasks import run_task

    direct_context.model_cache = video_cache
    direct_context.cancel_after = 1
    with pytest.raises(Cancelled):
        run_task(_request(family, tmp_path / "out", still, steps=4), direct_context)
    assert [step for step, _, _ in direct_context.progress] == [1]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_different_seed_makes_a_different_clip(video_cache, still, tmp_path, direct_context):
    from engine.tasks import run_task

    direct_context.model_cache = video_cache
    one = run_task(_request("ltx", tmp_path, still, seed=1), direct_context)
    two = run_task(_request("ltx", tmp_path, still, seed=2), direct_context)
    assert not np.array_equal(read_frames(one.clip.master), read_frames(two.clip.master))


def test_image_to_clip_starts_from_the_image(video_cache, still, tmp_path, direct_context):
    """Wan's image to clip denoises the repeated image from `strength`: a low strength stays near it."""
    from engine.tasks import run_task

    direct_context.model_cache = video_cache
    near = run_task(_request("wan", tmp_path, still, init_image=still, strength=0.5, steps=4), direct_context)
    text = run_task(_request("wan", tmp_path, still, steps=4), direct_context)
    target = np.asarray(Image.open(still), np.float32)
    distance = lambda clip: np.abs(read_frames(clip.master).astype(np.float32) - target).mean()
    assert distance(near.clip) < distance(text.clip)


def test_the_tiny_ip_adapter_loads_offline_and_steers_animatediff(video_kit, video_cache):
    """An identity reference through IP-Adapter: loaded with local files only, a red and a blue
    reference image make different clips from one seed; unloading drops its image encoder."""
    import torch

    from engine.models import loader

    registry = video_cache.registry
    pipe = loader.load_clip_pipeline(registry.resolve("tiny-animatediff"), "cpu", torch.float32,
                                     registry.resolve("tiny-sd1"))  # its own copy: the adapter changes the UNet
    pipe.load_ip_adapter(str(video_kit / "ip-adapter"), subfolder="", weight_name="ip-adapter.safetensors",
                         local_files_only=True)
    clips = [pipe(prompt="a cat", num_frames=4, height=32, width=32, num_inference_steps=2, output_type="np",
                  generator=torch.Generator().manual_seed(0), ip_adapter_image=Image.new("RGB", (32, 32), colour)
                  ).frames[0] for colour in ((250, 0, 0), (0, 0, 250))]
    assert np.abs(clips[0] - clips[1]).mean() > 1e-3
    pipe.unload_ip_adapter()
    assert pipe.image_encoder is None


# --- bad input: one sentence each ------------------------------------------------------------


def _refusal(request, video_cache, direct_context) -> str:
    from engine.tasks import run_task

    direct_context.model_cache = video_cache
    with pytest.raises((BadInput, ModelNotFound)) as caught:
        run_task(request, direct_context)
    message = str(caught.value)
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence
    return message


@pytest.mark.parametrize("family, frames, allowed", [("ltx", 10, "use 9 or 17"), ("wan", 8, "use 5 or 9"),
                                                      ("animatediff", 40, "at most 32 frames")])
def test_frame_counts_a_family_refuses(family, frames, allowed, video_cache, still, tmp_path, direct_context):
    message = _refusal(_request(family, tmp_path, still, frames=frames), video_cache, direct_context)
    assert allowed in message and str(frames) in message


def test_an_image_model_is_not_a_clip_model(video_cache, still, tmp_path, direct_context):
    message = _refusal(_request("ltx", tmp_path, still, model="tiny-sd1"), video_cache, direct_context)
    assert "image model" in message and "--motion-adapter" in message


def test_a_motion_adapter_without_a_base(video_cache, still, tmp_path, direct_context):
    from engine.testing import write_tiny_motion_adapter

    adapter = write_tiny_motion_adapter(tmp_path / "adapter", base=None, model_id="lonely-adapter")
    message = _refusal(_request("animatediff", tmp_path, still, model=str(adapter)), video_cache, direct_context)
    assert "needs an SD 1.x model" in message and "--motion-adapter" in message
    # given its base on the command line's way, the same adapter runs
    ok = ClipRequest(prompt="a cat", output_dir=str(tmp_path / "ok"), model="tiny-sd1", motion_adapter=str(adapter),
                     frames=2, steps=1)
    from engine.tasks import run_task

    assert run_task(ok, direct_context).clip.frames == 2


def test_svd_needs_an_image(video_cache, still, tmp_path, direct_context):
    message = _refusal(_request("svd", tmp_path, still, init_image=None), video_cache, direct_context)
    assert "--image" in message


def test_no_model_and_no_bundled_motion_model_says_how_to_get_one(video_cache, still, tmp_path, direct_context):
    message = _refusal(_request("ltx", tmp_path, still, model=None), video_cache, direct_context)
    assert "toy-scenes-motion" in message and "--model" in message and "huggingface-cli download" in message


def test_a_size_the_model_cannot_make(video_cache, still, tmp_path, direct_context):
    message = _refusal(_request("wan", tmp_path, still, width=36), video_cache, direct_context)
    assert "multiples of 16" in message


def test_animatediff_decoded_in_chunks_equals_diffusers_own_decode(video_cache):
    """Decoding straight to uint8 is diffusers' decode and postprocessing to the pixel (at its own
    chunk of 16 frames); smaller chunks change the VAE's batch size, hence float rounding, by at
    most one level (a clip always decodes with the same chunk, so it still reproduces exactly)."""
    import torch

    from engine.clips import families

    registry = video_cache.registry
    pipe = video_cache.clip_pipeline(registry.resolve("tiny-animatediff"), registry.resolve("tiny-sd1"))
    kwargs = dict(prompt="a cat", num_frames=7, height=32, width=32, num_inference_steps=1)
    latents = pipe(**kwargs, output_type="latent", generator=torch.Generator().manual_seed(0)).frames
    theirs = pipe(**kwargs, output_type="np", generator=torch.Generator().manual_seed(0)).frames[0]
    theirs = families.to_uint8(theirs)
    assert np.array_equal(families.decode_in_chunks(pipe, latents, 16), theirs)
    assert np.abs(families.decode_in_chunks(pipe, latents, 3).astype(int) - theirs).max() <= 1

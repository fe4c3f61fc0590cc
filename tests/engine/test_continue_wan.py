"""`continue` on the tiny Wan VACE: the previous clip's tail is VACE's kept frames (masked black,
the rest white), so the tail and nothing before it decides the new clip; identity references are
VACE's reference images; frame counts follow Wan's 4k+1 rule with a sentence; a plain Wan clip
is refused with what to use instead. Also: the kit's VACE model makes plain clips and image clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import ClipRequest, ContinueRequest
from engine.clips.files import read_clip_request, read_frames, write_clip
from engine.errors import BadInput

VACE = "tiny-wan-vace"


def _clip(context, out, seed, model=VACE, **fields):
    from engine.tasks import run_task

    fields = {"frames": 9, "steps": 2, **fields}
    return run_task(ClipRequest(prompt="a red cat", output_dir=str(out), model=model, seed=seed, **fields), context).clip


def _continue(context, clip, out, **fields):
    from engine.tasks import run_task

    fields = {"prompt": "a red cat walking", "seed": 5, "frames": 8, "steps": 2, "correction": False, **fields}
    return run_task(ContinueRequest(clip=str(clip), output_dir=str(out), **fields), context).clip


def _gap(a, b) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def _square(path: Path, colour) -> str:
    pixels = np.full((32, 32, 3), 128, np.uint8)
    pixels[8:24, 8:24] = colour
    Image.fromarray(pixels).save(path)
    return str(path)


@pytest.fixture
def context(video_cache, make_direct_context):
    return make_direct_context(video_cache)


@pytest.fixture(scope="module")
def two_clips(video_cache, tmp_path_factory, make_direct_context):
    out = tmp_path_factory.mktemp("wan-sources")
    context = make_direct_context(video_cache)
    return _clip(context, out, seed=1), _clip(context, out, seed=2)


def test_the_tail_and_nothing_before_it_decides_the_continuation(two_clips, context, tmp_path):
    """a's first 4 frames with b's last 5 (the overlap) continue exactly as b does, and not as a does."""
    a, b = two_clips
    frames_a, frames_b = read_frames(a.master), read_frames(b.master)
    assert frames_a.shape == (9, 32, 32, 3) and _gap(frames_a[-5:], frames_b[-5:]) > 1.0
    spliced = write_clip(np.concatenate([frames_a[:4], frames_b[4:]]), None, read_clip_request(a.sidecar),
                         tmp_path / "spliced", "spliced", {"family": "wan"})
    made = {name: read_frames(_continue(context, clip.sidecar, tmp_path / name).master)
            for name, clip in (("a", a), ("b", b), ("spliced", spliced))}
    print("first new frame, a vs b:", _gap(made["a"][0], made["b"][0]), "all:", _gap(made["a"], made["b"]))
    assert made["a"].shape == (8, 32, 32, 3)
    assert np.array_equal(made["spliced"], made["b"])
    assert _gap(made["a"][0], made["b"][0]) > 0.05 and _gap(made["a"], made["b"]) > 0.3


def test_the_sidecar_records_the_continuation(two_clips, context, tmp_path):
    a, _ = two_clips
    result = json.loads(Path(_continue(context, a.sidecar, tmp_path / "next").sidecar).read_text())["result"]
    assert result["family"] == "wan" and result["model"] == VACE
    continues = result["continues"]
    assert {k: continues[k] for k in ("clip", "from_frame", "overlap", "tail_latents", "correction")} == {
        "clip": Path(a.sidecar).name, "from_frame": 8, "overlap": 5, "tail_latents": False, "correction": False}
    assert continues["request"]["frames"] == 8 and continues["request"]["clip"].endswith(Path(a.sidecar).name)


def test_from_frame_takes_the_tail_there(two_clips, context, tmp_path):
    """From frame 4 is the clip cut after frame 4: the same new frames bit for bit, unlike from its end."""
    a, _ = two_clips
    frames = read_frames(a.master)
    cut = write_clip(frames[:5], None, read_clip_request(a.sidecar), tmp_path / "cut", "cut", {"family": "wan"})
    from_four = read_frames(_continue(context, a.sidecar, tmp_path / "four", from_frame=4).master)
    assert np.array_equal(from_four, read_frames(_continue(context, cut.sidecar, tmp_path / "cut-next").master))
    assert _gap(from_four, read_frames(_continue(context, a.sidecar, tmp_path / "end").master)) > 0.3


def test_references_are_vace_reference_images(two_clips, context, tmp_path):
    """Without correction the reference reaches the pipeline only as VACE's reference image: with
    one the clip differs, and a red one differs from a blue one. With correction the clip takes
    the red one's colours."""
    a, _ = two_clips
    red, blue = _square(tmp_path / "red.png", (220, 30, 30)), _square(tmp_path / "blue.png", (30, 40, 220))
    plain = _continue(context, a.sidecar, tmp_path / "plain")
    made = {name: _continue(context, a.sidecar, tmp_path / name, identity_references=(ref,))
            for name, ref in (("red", red), ("blue", blue))}
    frames = {name: read_frames(clip.master) for name, clip in made.items()}
    print("reference gaps", _gap(frames["red"], read_frames(plain.master)), _gap(frames["red"], frames["blue"]))
    assert _gap(frames["red"], read_frames(plain.master)) > 0.3 and _gap(frames["red"], frames["blue"]) > 0.1
    corrected = read_frames(_continue(context, a.sidecar, tmp_path / "kept", identity_references=(red,),
                                      correction=True).master)
    target = np.asarray(Image.open(red)).reshape(-1, 3).mean(axis=0)
    assert np.abs(corrected.reshape(-1, 3).mean(axis=0) - target).max() < 1.5


def test_bad_frame_counts_get_one_sentence(two_clips, context, tmp_path):
    a, _ = two_clips
    cases = [
        (dict(frames=6), r"Wan VACE continues with a multiple of 4 new frames \(4, 8, 12, ...\), not 6\."),
        (dict(frames=2), r"multiple of 4 new frames \(4, 8, 12, ...\), not 2\."),
        (dict(overlap=3), r"4k\+1 frames of the clip \(1, 5, 9, ...\) that it has; an overlap of 3 of its 9 is not"),
        (dict(overlap=13), r"an overlap of 13 of its 9 is not possible"),
        (dict(from_frame=3, overlap=5), r"an overlap of 5 of its 4 is not possible"),
    ]
    for fields, words in cases:
        with pytest.raises(BadInput, match=words):
            _continue(context, a.sidecar, tmp_path / "never", **fields)
    with pytest.raises(BadInput, match=r"makes 4k\+1 frames \(5, 9, 13 ...\); 6 is not one of them, use 5 or 9\."):
        _clip(context, tmp_path / "never", seed=1, frames=6)
    assert not (tmp_path / "never").exists()


def test_a_plain_wan_clip_is_refused_with_what_continues_one(context, tmp_path):
    plain = _clip(context, tmp_path, seed=1, model="tiny-wan", frames=5, steps=1)
    with pytest.raises(BadInput, match=r"made with a plain Wan model, which cannot start from given frames; "
                                       r"continue Wan clips made with a Wan VACE model \(make the first shot with "
                                       r"--model Wan-AI/Wan2.1-VACE-1.3B-diffusers"):
        _continue(context, plain.sidecar, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_the_vace_model_is_recognised_and_makes_image_clips(video_cache, context, tmp_path):
    """The kit's VACE folder is a Wan model loaded as WanVACEPipeline (as a cached Wan2.1-VACE repo
    would be, from its model_index.json); an image clip keeps the image as its first frame's
    condition, so two images give two clips, and it runs every step whatever the strength."""
    from engine.models import loader

    spec = video_cache.registry.resolve(VACE)
    assert spec.family == "wan" and loader.is_wan_vace(spec)
    assert not loader.is_wan_vace(video_cache.registry.resolve("tiny-wan"))
    assert type(video_cache.clip_pipeline(spec)).__name__ == "WanVACEPipeline"
    stills = [_square(tmp_path / f"{n}.png", c) for n, c in (("red", (220, 30, 30)), ("blue", (30, 40, 220)))]
    made = [read_frames(_clip(context, tmp_path / f"img-{i}", seed=1, init_image=s, steps=4).master)
            for i, s in enumerate(stills)]
    print("image clips", _gap(made[0], made[1]))
    assert made[0].shape == (9, 32, 32, 3) and _gap(made[0], made[1]) > 0.1
    assert [p[:2] for p in context.progress[-4:]] == [(1, 4), (2, 4), (3, 4), (4, 4)]  # every step, at any strength


def test_vace_keeps_the_given_frames_and_generates_the_rest():
    """VACE's inputs for a 5-frame tail of a 13-frame clip: the tail, then mid-grey frames; the mask
    black (keep) on the tail, white (generate) after it; the references as its reference images."""
    from engine.clips.families import Run, vace_inputs

    tail = [Image.new("RGB", (32, 32), (10 * i, 0, 0)) for i in range(5)]
    reference = Image.new("RGB", (32, 32), (0, 0, 200))
    inputs = vace_inputs(Run(prompt="", negative_prompt="", frames=13, fps=8, width=32, height=32, steps=1,
                             guidance=1.0, seed=0, condition_video=tail, reference_images=[reference]))
    video, mask = [np.asarray(f) for f in inputs["video"]], [np.asarray(m) for m in inputs["mask"]]
    assert len(video) == len(mask) == 13
    assert all(np.array_equal(v, np.asarray(t)) for v, t in zip(video, tail))
    assert all((v == 128).all() for v in video[5:])
    assert [int(m.max()) for m in mask] == [0] * 5 + [255] * 8 and [int(m.min()) for m in mask] == [0] * 5 + [255] * 8
    assert inputs["reference_images"] == [reference]
    assert set(vace_inputs(Run(prompt="", negative_prompt="", frames=9, fps=8, width=32, height=32, steps=1,
                               guidance=1.0, seed=0))) == set()  # a plain text clip: VACE's defaults


def test_the_latents_are_the_clips_own_without_vaces_reference_frame(video_cache):
    """VACE denoises a reference as one more latent frame before the clip's; the latents a clip
    keeps (and continues from) are the clip's own: 9 frames are 3 latent frames with or without one."""
    from dataclasses import replace

    from engine.clips import families
    from engine.models import loader

    view = loader.derive_clip_pipeline(video_cache.clip_pipeline(video_cache.registry.resolve(VACE)), "wan", "txt2clip")
    run = families.Run(prompt="a red cat", negative_prompt="", frames=9, fps=8, width=32, height=32, steps=1,
                       guidance=1.0, seed=0)
    shapes = [tuple(families.make(view, families.FAMILIES["wan"], r, lambda *_: {})[1].shape)
              for r in (run, replace(run, reference_images=[Image.new("RGB", (32, 32), (200, 0, 0))]))]
    assert shapes == [(1, 16, 3, 4, 4)] * 2

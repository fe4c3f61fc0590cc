"""`continue` on the tiny AnimateDiff: the next clip starts from the previous clip's stored tail
latents (change them and it follows), `from_frame` continues from that frame, identity references
change the result (and the identity measure sees it); bad input gets one sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import ClipRequest, ContinueRequest
from engine.clips import drift
from engine.clips.files import read_frames
from engine.errors import BadInput


def _clip(context, out, seed, prompt="a red cat", frames=4):
    from engine.tasks import run_task

    return run_task(ClipRequest(prompt=prompt, output_dir=str(out), model="tiny-animatediff", frames=frames, steps=3,
                                seed=seed), context).clip


def _continue(context, clip=None, out=None, **fields):
    from engine.tasks import run_task

    fields = {"prompt": "a red cat walking", "seed": 5, "correction": False, "clip": clip, **fields}
    return run_task(ContinueRequest(output_dir=str(out), **fields), context).clip


@pytest.fixture(scope="module")
def two_clips(video_cache, tmp_path_factory, make_direct_context):
    out = tmp_path_factory.mktemp("sources")
    context = make_direct_context(video_cache)
    return _clip(context, out, seed=1), _clip(context, out, seed=2, prompt="a blue dog")


@pytest.fixture
def context(video_cache, make_direct_context):
    return make_direct_context(video_cache)


def _gap(a, b) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_the_next_clip_starts_from_the_stored_tail_and_follows_a_changed_one(two_clips, context, tmp_path):
    a, b = two_clips
    ends = [read_frames(c.master)[-1] for c in (a, b)]
    first = read_frames(_continue(context, a.sidecar, tmp_path / "a").master)
    assert first.shape == (4, 32, 32, 3)
    # the stored tail latents decide it: give a copy of a b's latents (its master untouched) and it follows b
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (a.path, a.master, a.sidecar):
        shutil.copyfile(name, copy / Path(name).name)
    shutil.copyfile(b.latents, copy / Path(a.latents).name)
    swapped = read_frames(_continue(context, str(copy / Path(a.sidecar).name), tmp_path / "swapped").master)
    # it starts where the tail ends (held: 0.43 of 255 here; unheld, the tail only in the first noise: 23.6)
    assert _gap(first[0], ends[0]) < 2.0 and _gap(first[0], ends[1]) > 10.0
    assert _gap(swapped[0], ends[1]) < 2.0 and _gap(swapped[0], ends[0]) > 10.0


def test_from_frame_continues_from_that_frame(two_clips, context, tmp_path):
    """From frame 1 of a 4-frame clip is continuing the clip cut after frame 1 (written as a clip
    of its own, so it has no stored latents either): the same frames bit for bit, unlike from its end."""
    from engine.clips.files import read_clip_request, write_clip

    a, _ = two_clips
    frames = read_frames(a.master)
    cut = write_clip(frames[:2], None, read_clip_request(a.sidecar), tmp_path / "cut", "cut", {"family": "animatediff"})
    from_one = read_frames(_continue(context, a.path, tmp_path / "one", from_frame=1).master)
    from_cut = read_frames(_continue(context, cut.sidecar, tmp_path / "cut-next").master)
    from_end = read_frames(_continue(context, a.path, tmp_path / "end").master)
    print("from-frame gaps", _gap(from_one[0], frames[1]), _gap(from_one[0], frames[3]), _gap(from_one, from_end))
    assert np.array_equal(from_one, from_cut)
    assert _gap(from_one, from_end) > 1.0


def _square(path: Path, colour) -> str:
    """A toy-scene-like reference: a coloured square on grey."""
    pixels = np.full((32, 32, 3), 128, np.uint8)
    pixels[8:24, 8:24] = colour
    Image.fromarray(pixels).save(path)
    return str(path)


def test_references_change_the_clip_and_the_identity_measure_sees_it(two_clips, context, kit, tmp_path):
    from engine.scoring import ClipScorer

    a, _ = two_clips
    red, blue = _square(tmp_path / "red.png", (220, 30, 30)), _square(tmp_path / "blue.png", (30, 40, 220))
    made = {name: read_frames(_continue(context, a.sidecar, tmp_path / name, identity_references=(ref,),
                                        correction=True).master) for name, ref in (("red", red), ("blue", blue))}
    assert _gap(made["red"], made["blue"]) > 10
    scorer = ClipScorer.load(kit / "clip")
    refs = {name: [np.asarray(Image.open(path))] for name, path in (("red", red), ("blue", blue))}
    seen = {(clip, ref): drift.identity(made[clip], refs[ref], scorer) for clip in made for ref in refs}
    print("identity", seen)
    for clip, other in (("red", "blue"), ("blue", "red")):
        assert seen[clip, clip]["colour"] > seen[clip, other]["colour"]
        assert seen[clip, clip]["clip"] > seen[clip, other]["clip"]


def test_bad_input_gets_one_sentence(two_clips, context, tmp_path):
    a, _ = two_clips
    lone = tmp_path / "lone.mp4"
    shutil.copyfile(a.path, lone)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    cases = [
        (dict(clip=str(lone)), "has no lone.clip.json beside it"),
        (dict(clip=a.sidecar, identity_references=(str(notes),)), "Identity reference notes.png"),
        (dict(clip=a.sidecar, from_frame=4), "has frames 0 to 3; frame 4 is not one of them"),
        (dict(clip=a.sidecar, overlap=0), "An overlap of 0 holds no frame"),
        (dict(clip=a.sidecar, overlap=5), "an overlap of 5 needs that many"),
    ]
    for fields, words in cases:
        with pytest.raises(BadInput, match=words):
            _continue(context, out=tmp_path / "never", **fields)
    assert not (tmp_path / "never").exists()


def test_an_ip_adapter_steers_the_clip_toward_its_reference_and_leaves_the_cached_pipeline_alone(
        two_clips, context, video_kit, tmp_path):
    a, _ = two_clips
    red, blue = _square(tmp_path / "red.png", (220, 30, 30)), _square(tmp_path / "blue.png", (30, 40, 220))
    plain = read_frames(_continue(context, a.sidecar, tmp_path / "plain").master)
    steered = {name: read_frames(_continue(context, a.sidecar, tmp_path / name, identity_references=(ref,),
                                           ip_adapter=str(video_kit / "ip-adapter")).master)
               for name, ref in (("red", red), ("blue", blue))}
    assert _gap(steered["red"], steered["blue"]) > 0.5  # no correction here: the adapter alone makes them differ
    assert np.array_equal(read_frames(_continue(context, a.sidecar, tmp_path / "again").master), plain)
    with pytest.raises(BadInput, match="not an IP-Adapter folder"):
        _continue(context, a.sidecar, tmp_path / "never", identity_references=(red,), ip_adapter=str(tmp_path))


@pytest.mark.parametrize("family, model, frames, new", [("ltx", "tiny-ltx", 9, 8), ("svd", "tiny-svd", 3, 3)])
def test_ltx_and_svd_continue_from_the_tail_they_are_given(family, model, frames, new, context, tmp_path):
    """LTX conditions natively on the tail's 9 frames (LTXVideoCondition), SVD on its last frame:
    two different tails, one seed, two different continuations of the asked length."""
    from engine.tasks import run_task

    still = _square(tmp_path / "still.png", (200, 60, 40))
    sources = [run_task(ClipRequest(prompt="a red cat", output_dir=str(tmp_path / "src"), model=model, frames=frames,
                                    steps=2, seed=seed, init_image=still if family == "svd" else None), context).clip
               for seed in (1, 2)]
    made = [read_frames(_continue(context, s.sidecar, tmp_path / f"next-{i}", frames=new, steps=2).master)
            for i, s in enumerate(sources)]
    assert made[0].shape[0] == new and _gap(made[0], made[1]) > 0.5


def test_a_first_clip_with_a_reference_takes_its_colours(context, tmp_path):
    """A chain's first shot is a plain clip; its references correct it as they correct a continue."""
    red = _square(tmp_path / "red.png", (220, 30, 30))
    plain = read_frames(_clip(context, tmp_path / "plain", seed=1).master)
    from engine.tasks import run_task

    kept = read_frames(run_task(ClipRequest(prompt="a red cat", output_dir=str(tmp_path / "kept"), model="tiny-animatediff",
                                            frames=4, steps=3, seed=1, identity_references=(red,)), context).clip.master)
    target = np.asarray(Image.open(red)).reshape(-1, 3).mean(axis=0)
    assert np.abs(kept.reshape(-1, 3).mean(axis=0) - target).max() < 1.5
    assert np.abs(plain.reshape(-1, 3).mean(axis=0) - target).max() > 5

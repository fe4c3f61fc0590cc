"""Drift along a chain of tiny-kit clips: the measures (engine.clips.drift) and the correction.

The forced colour shift is a decoder that drifts a little more at every clip it decodes (see
`drifting_decoder`); the correction matches each continued clip to the one before it."""

from __future__ import annotations

import numpy as np
import pytest

from engine.clips import chain, drift


def _frames(colour, count=3, size=32):
    frames = np.full((count, size, size, 3), 128, np.uint8)
    for i in range(count):  # a square moving right 2 px a frame
        frames[i, 10:18, 4 + 2 * i:12 + 2 * i] = colour
    return frames


def test_cut_measures_see_a_jump_and_a_continuous_cut():
    before = _frames((200, 30, 30))
    after_continuous = _frames((200, 30, 30))[[-1, -1, -1]]
    moved = after_continuous.copy()
    moved[:, 10:18] = 128
    moved[:, 20:28, 20:28] = (200, 30, 30)
    same, jumped = drift.cut(before, after_continuous), drift.cut(before, moved)
    assert same["ssim"] == pytest.approx(1.0) and same["histogram"] == pytest.approx(1.0) and same["jump"] == 0.0
    assert before[-1].shape and drift.median_motion(before) == pytest.approx(2.0)
    assert jumped["jump"] > 5 * jumped["motion"] and jumped["ssim"] < 0.9


def test_drift_measures_colour_contrast_and_sharpness_against_hop_one():
    first = _frames((200, 30, 30))
    redder = np.clip(first.astype(int) + (30, 0, 0), 0, 255).astype(np.uint8)
    flat = (first // 2 + 64).astype(np.uint8)
    measured = drift.chain([first, redder, flat])
    assert measured["hops"][0]["drift"]["colour"] == 0.0
    assert measured["hops"][1]["drift"]["colour"] == pytest.approx(30.0, abs=0.5)
    assert measured["hops"][2]["drift"]["contrast"] == pytest.approx(0.5, abs=0.02)
    assert measured["hops"][2]["drift"]["sharpness"] < 0.6
    assert len(measured["cuts"]) == 2


@pytest.fixture
def drifting_decoder(video_cache):
    """The cached tiny AnimateDiff's VAE decoder made to drift: each clip it decodes comes out
    redder than the one before (+0.05 of its -1..1 range per clip). The tiny kit's random decoder
    normalises away any colour carried in the latents, so the drift chaining tools show hop by hop
    is forced here, where it shows in theirs: in what each hop decodes."""
    import torch

    registry = video_cache.registry
    pipe = video_cache.clip_pipeline(registry.resolve("tiny-animatediff"), registry.resolve("tiny-sd1"))
    decoded = []

    def redder(module, inputs, output):
        decoded.append(1)
        return output + torch.tensor([0.05 * len(decoded), 0.0, 0.0]).view(1, 3, 1, 1)

    handle = pipe.vae.decoder.register_forward_hook(redder)
    yield decoded
    handle.remove()


def test_the_correction_reduces_drift_on_a_chain_with_a_forced_colour_shift(video_cache, drifting_decoder, tmp_path,
                                                                          make_direct_context):
    from engine.tasks import run_task

    context = make_direct_context(video_cache)
    shots = [chain.Shot("a red cat")] + [chain.Shot("a red cat walking")] * 3
    drifts = {}
    for correction in (False, True):
        drifting_decoder.clear()
        settings = chain.Settings(model="tiny-animatediff", frames=3, steps=2, correction=correction)
        report = chain.run_chain(shots, settings, chain.with_seeds(4, 3), tmp_path / str(correction),
                                 lambda request: run_task(request, context))
        assert len(drifting_decoder) == 4  # one decode a clip: the shift grew at every hop
        drifts[correction] = [hop["drift"]["colour"] for hop in report["hops"]]
    print("colour drift per hop", drifts)
    assert drifts[False][-1] > 10 * drifts[True][-1]
    assert drifts[False][1] < drifts[False][2] < drifts[False][3]  # uncorrected, it builds up hop by hop

"""What the timeline dock draws, measured by the engine: a clip's sound envelope, and the measures at a cut."""

import numpy as np
import pytest

from engine.clips.drift import cut_between
from engine.errors import BadInput
from engine.timeline.audio import merge_peaks, peaks
from engine.timeline.media import probe
from engine.timeline.testing import write_silence_then_tone


@pytest.fixture(scope="module")
def half_silent(tmp_path_factory):
    # 5 s each: ffmpeg's output comes in several blocks, so each must land where it belongs in time
    path = write_silence_then_tone(tmp_path_factory.mktemp("sound") / "half.wav", 5.0, 5.0, amplitude=0.8)
    return probe(path, "half")


def test_peaks_are_flat_over_silence_and_tall_over_the_tone(half_silent):
    envelope = peaks(half_silent, 0.0, 10.0, 20)
    assert envelope.shape == (20, 2)
    spans = envelope[:, 1] - envelope[:, 0]
    assert spans[:10].max() < 0.02  # the silent half (resampling rings a little at the onset)
    assert spans[10:].min() > 0.9  # the tone: 0.8 mono is 0.57 in each of the two channels it is read as
    assert (envelope[10:, 0] < -0.45).all() and (envelope[10:, 1] > 0.45).all()


def test_peaks_of_a_range_past_the_end_are_silence(half_silent):
    envelope = peaks(half_silent, 9.5, 10.5, 10)
    spans = envelope[:, 1] - envelope[:, 0]
    assert spans[:5].min() > 0.9 and spans[5:].max() == 0.0


def test_peaks_of_a_missing_file_say_so(half_silent, tmp_path):
    from dataclasses import replace

    with pytest.raises(BadInput, match="unavailable"):
        peaks(replace(half_silent, path=str(tmp_path / "gone.wav")), 0.0, 1.0, 4)


def test_merge_peaks_keeps_the_extremes_and_stretches():
    envelope = np.array([[-0.1, 0.1], [-0.5, 0.2], [0.0, 0.0], [-0.2, 0.9]], np.float32)
    assert merge_peaks(envelope, 2).ravel().tolist() == pytest.approx([-0.5, 0.2, -0.2, 0.9])
    assert merge_peaks(envelope, 8)[:, 1].tolist() == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.0, 0.0, 0.9, 0.9])
    assert merge_peaks(envelope[:0], 3).shape == (3, 2)


def _square(x: int, colour=(250, 40, 40)) -> np.ndarray:
    frame = np.full((48, 64, 3), 20, np.uint8)
    frame[16:32, x:x + 16] = colour
    return frame


def test_cut_between_the_same_frame_is_continuous():
    measured = cut_between(_square(10), _square(10))
    assert measured["ssim"] == pytest.approx(1.0) and measured["histogram"] == pytest.approx(1.0)
    assert measured["jump"] == pytest.approx(0.0)
    assert measured["identity"] is None and measured["references"] == 0


def test_cut_between_unrelated_frames_jumps_and_identity_follows_the_references():
    moved = cut_between(_square(4), _square(40))
    assert moved["ssim"] < 0.8 and moved["jump"] == pytest.approx(36.0)
    red = _square(40)
    blue = np.full((8, 8, 3), (40, 40, 250), np.uint8)  # a reference of another look altogether
    last = _square(4, (40, 40, 250))  # the clip before the cut looks nothing like the references
    like = cut_between(last, red, references=[red])
    unlike = cut_between(last, red, references=[blue, blue])
    assert like["identity"] == pytest.approx(1.0) and like["references"] == 1
    assert unlike["identity"] < 0.9 and unlike["references"] == 2

"""Reading media and rendering frames: frame-accurate seeks, rate and size conforming,
track compositing, transitions and the audio mix, on real files written by ffmpeg."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from engine.errors import BadInput
from engine.timeline.audio import mix_to_file
from engine.timeline.commands import AddMedia, AddTrack, AddTransition, Append, Batch, Insert
from engine.timeline.media import VideoFrames, probe
from engine.timeline.model import Clip, Rate, new_timeline
from engine.timeline.render import FrameRenderer, render_frame
from engine.timeline.testing import frame_number, write_numbered_video, write_still, write_tone


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {
        "mp4": write_numbered_video(root / "n.mp4", 40, tone_hz=440),
        "webm": write_numbered_video(root / "n.webm", 40),
        "mov": write_numbered_video(root / "n.mov", 40),
        "ntsc": write_numbered_video(root / "ntsc.mp4", 40, fps="30000/1001", tone_hz=220),
        "red": write_still(root / "red.png", (255, 0, 0)),
        "blue": write_still(root / "blue.webp", (0, 0, 255), 32, 32),
        "green": write_still(root / "green.jpg", (0, 255, 0)),
        **{kind: write_tone(root / f"tone.{kind}", 1.5) for kind in ("wav", "mp3", "flac", "ogg")},
    }


def timeline_with(files, rate=Rate(8), *names):
    refs = [probe(files[name], name) for name in names]
    return Batch(tuple(AddMedia(ref) for ref in refs)).apply(new_timeline(rate, 64, 48))


@pytest.mark.parametrize("container", ["mp4", "webm", "mov", "ntsc"])
def test_video_frames_are_exact_in_any_order(files, container):
    ref = probe(files[container], "v")
    rate = Rate(30000, 1001) if container == "ntsc" else Rate(8)
    assert (ref.kind, ref.frames, ref.rate, ref.width, ref.height) == ("video", 40, rate, 64, 48)
    order = [0, 1, 2, 30, 5, 6, 39, 39, 12, 3] + random.Random(container).sample(range(40), 15)
    reader = VideoFrames(ref)
    assert [frame_number(reader.frame(i)) for i in order] == order
    reader.close()


@pytest.mark.parametrize("kind", ["wav", "mp3", "flac", "ogg"])
def test_audio_files_probe_with_their_length(files, kind):
    ref = probe(files[kind], "t")
    assert ref.kind == "audio" and ref.sample_rate == 44100
    assert abs(ref.seconds - 1.5) < 0.06  # mp3/ogg pad a few ms


def test_stills_and_unreadable_files(files, tmp_path):
    assert probe(files["blue"], "b").kind == "image" and probe(files["green"], "g").width == 64
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    with pytest.raises(BadInput, match="junk.mp4 is not a video, audio or image file"):
        probe(tmp_path / "junk.mp4", "j")


def test_frames_follow_clips_and_rates(files):
    t = timeline_with(files, Rate(8), "mp4")
    t = Append(0, Clip("mp4", 5, 10)).apply(t)
    with FrameRenderer(t) as renderer:
        assert [frame_number(renderer.render_frame(n)) for n in range(10)] == list(range(5, 15))
        assert renderer.render_frame(10).max() == 0  # past the end: black
    fast = Append(0, Clip("mp4", 0, 24)).apply(timeline_with(files, Rate(24), "mp4"))
    with FrameRenderer(fast) as renderer:  # 8 fps media on a 24 fps timeline: each frame shows 3 times
        assert [frame_number(renderer.render_frame(n)) for n in range(24)] == [n // 3 for n in range(24)]
    ntsc = Append(0, Clip("mp4", 0, 20)).apply(timeline_with(files, Rate(24000, 1001), "mp4"))
    with FrameRenderer(ntsc) as renderer:
        expected = [n * 1001 * 8 // 24000 for n in range(20)]
        assert [frame_number(renderer.render_frame(n)) for n in range(20)] == expected


def test_upper_track_covers_lower_and_bars_are_see_through(files):
    t = timeline_with(files, Rate(8), "red", "blue")
    t = Append(0, Clip("red", 0, 6)).apply(t)
    t = AddTrack("video").apply(t)
    t = Insert(2, 2, Clip("blue", 0, 2)).apply(t)  # V2 (after A1): a gap, then blue
    frame = render_frame(t, 3)
    assert tuple(frame[24, 32]) == (0, 0, 255)  # the square blue still, pillarboxed, covers red
    assert tuple(frame[24, 2]) == (255, 0, 0)  # ... but its bars show the track below
    assert tuple(render_frame(t, 1)[24, 32]) == (255, 0, 0)  # a gap above shows what is below
    alone = Append(0, Clip("blue", 0, 2)).apply(timeline_with(files, Rate(8), "blue"))
    bars = render_frame(alone, 0)
    assert bars[:, :8].max() == 0 and tuple(bars[24, 32]) == (0, 0, 255)
    wide = render_frame(dataclasses.replace(alone, width=64, height=64), 0, 64, 64)
    assert tuple(wide[32, 32]) == (0, 0, 255)
    small = render_frame(t, 3, 32, 24)  # another export size
    assert small.shape == (24, 32, 3) and tuple(small[12, 16]) == (0, 0, 255)


def test_crossfade_middle_frame_is_the_blend_of_its_sides(files):
    t = timeline_with(files, Rate(8), "mp4", "green")
    t = Append(0, Clip("mp4", 0, 12)).apply(t)
    t = Append(0, Clip("green", 0, 12)).apply(t)
    crossed = AddTransition(0, 0, "crossfade", 5).apply(t)  # frames 10..14, middle 12
    with FrameRenderer(crossed) as renderer:
        middle = renderer.render_frame(12).astype(float)
    outgoing = render_frame(Append(0, Clip("mp4", 12, 1)).apply(timeline_with(files, Rate(8), "mp4")), 0)
    incoming = render_frame(Append(0, Clip("green", 0, 1)).apply(timeline_with(files, Rate(8), "green")), 0)
    assert np.abs(middle - (outgoing.astype(float) + incoming) / 2).max() <= 1.0
    with FrameRenderer(crossed) as renderer, FrameRenderer(t) as plain:  # the ramp: 1/6 ... 5/6 of the green
        for k, n in enumerate(range(10, 15)):
            side = render_frame(Append(0, Clip("mp4", n, 1)).apply(timeline_with(files, Rate(8), "mp4")), 0)
            share = (k + 1) / 6
            expected = (1 - share) * side.astype(float) + share * incoming.astype(float)
            assert np.abs(renderer.render_frame(n).astype(float) - expected).max() <= 1.0, n
        assert np.array_equal(renderer.render_frame(9), plain.render_frame(9))
        assert np.array_equal(renderer.render_frame(15), plain.render_frame(15))


def test_fades_go_through_black(files):
    t = Append(0, Clip("red", 0, 8)).apply(timeline_with(files, Rate(8), "red"))
    t = AddTransition(0, 1, "fade_to_black", 3).apply(AddTransition(0, 0, "fade_from_black", 3).apply(t))
    reds = [int(render_frame(t, n)[0, 0, 0]) for n in range(8)]
    assert reds == [64, 128, 191, 255, 255, 191, 128, 64]


def test_missing_media_is_named(files, tmp_path):
    t = Append(0, Clip("mp4", 0, 4)).apply(timeline_with(files, Rate(8), "mp4"))
    gone = dataclasses.replace(t, media=(dataclasses.replace(t.media[0], path=str(tmp_path / "gone.mp4")),))
    with pytest.raises(BadInput, match="media mp4 is unavailable"):
        render_frame(gone, 0)


def test_audio_mix_has_length_gain_and_fades(files, tmp_path):
    t = timeline_with(files, Rate(8), "wav", "mp4")
    t = Append(1, Clip("wav", 0, 8, gain=0.5)).apply(t)  # one second of the 1.5 s tone, at half gain
    t = Insert(1, 8, Clip("mp4", 0, 8)).apply(t)  # the sound of a video file on an audio track
    t = AddTransition(1, 0, "fade_from_black", 4).apply(t)
    samples = mix_to_file(t, tmp_path / "mix.f32")
    mix = np.fromfile(tmp_path / "mix.f32", np.float32).reshape(-1, 2)
    assert samples == len(mix) == 2 * 48000
    steady = mix[36000:48000, 0]
    # ffmpeg's sine is 1/8 of full scale, and mono spreads to stereo at -3 dB
    assert abs(np.sqrt(np.mean(steady ** 2)) - 0.5 * 0.125 / np.sqrt(2) * np.sqrt(0.5)) < 0.002
    assert np.abs(mix[:2400, 0]).max() < 0.2 * np.abs(steady).max()  # fading in
    assert np.sqrt(np.mean(mix[60000:90000, 0] ** 2)) > 0.05  # the video's own tone


def test_video_clips_play_their_own_sound(files, tmp_path):
    t = timeline_with(files, Rate(8), "mp4", "webm")
    t = Append(0, Clip("mp4", 0, 8)).apply(t)  # has a tone
    t = Append(0, Clip("webm", 0, 8)).apply(t)  # has none
    mix_to_file(t, tmp_path / "mix.f32")
    mix = np.fromfile(tmp_path / "mix.f32", np.float32).reshape(-1, 2)
    assert np.sqrt(np.mean(mix[6000:42000] ** 2)) > 0.05 and np.abs(mix[54000:]).max() == 0
    muted = Append(0, Clip("mp4", 0, 8, gain=0.0)).apply(timeline_with(files, Rate(8), "mp4"))
    mix_to_file(muted, tmp_path / "muted.f32")
    assert np.abs(np.fromfile(tmp_path / "muted.f32", np.float32)).max() == 0

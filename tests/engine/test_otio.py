"""OpenTimelineIO interchange: lossless round trip of what we model; honest import of what we don't."""

from __future__ import annotations

import dataclasses
import json

import opentimelineio as otio
import pytest

from engine.errors import BadInput
from engine.timeline.commands import AddMarker, AddTrack, AddTransition, Append, Insert
from engine.timeline.model import Clip, Marker, MediaRef, Rate, Timeline, Transition, new_timeline
from engine.timeline.otio import read_otio_text, write_otio_text

REQUEST = {"task": "generate", "prompt": "a red circle", "seed": 7, "grid_seeds": {"rows": 2, "cols": 2,
           "seeds": [1, 2, 3, 4]}, "identity": ["refs/face.png"]}


def rich_timeline(tmp_path, rate: Rate) -> Timeline:
    media = (
        MediaRef("a", str(tmp_path / "media" / "a.mp4"), "video", frames=3000, rate=Rate(30000, 1001),
                 width=64, height=48, sample_rate=48000, has_audio=True),
        MediaRef("s", str(tmp_path / "media" / "still one.png"), "image", width=20, height=10),
        MediaRef("m", "/elsewhere/music.flac", "audio", frames=48000 * 60, rate=Rate(48000), sample_rate=48000,
                 has_audio=True),
        MediaRef("unused", str(tmp_path / "media" / "u.webm"), "video", frames=10, rate=Rate(8), width=8, height=8),
    )
    t = dataclasses.replace(new_timeline(rate, 64, 48, name="cut 1"), media=media)
    t = Append(0, Clip("a", 12, 40, name="opening", request=json.dumps(REQUEST))).apply(t)
    t = Append(0, Clip("s", 0, 24)).apply(t)
    t = Insert(0, 90, Clip("a", 100, 30)).apply(t)  # leaves a gap
    t = AddTransition(0, 0, "crossfade", 9).apply(t)
    t = AddTransition(0, 4, "fade_to_black", 6).apply(t)
    t = AddTransition(0, 0, "fade_from_black", 5).apply(t)
    t = AddTrack("video").apply(t)
    t = Append(2, Clip("s", 0, 10)).apply(t)
    t = Append(1, Clip("m", 48, 200, gain=0.5)).apply(t)
    t = AddTransition(1, 0, "fade_to_black", 24).apply(t)
    t = AddMarker(Marker(30, "beat", "GREEN")).apply(t)
    return AddMarker(Marker(60, "chorus", "BLUE", duration=12)).apply(t)


@pytest.mark.parametrize("rate", [Rate(24000, 1001), Rate(24), Rate(25), Rate(30), Rate(60), Rate(8)])
def test_round_trip_is_lossless(tmp_path, rate):
    timeline = rich_timeline(tmp_path, rate)
    text = write_otio_text(timeline, relative_to=tmp_path)
    back = read_otio_text(text, base=tmp_path)
    assert back.unrepresented == ()
    assert back.timeline == timeline
    assert set(back.missing_media) == {"a", "s", "m", "unused"}  # none of these files exist here


def test_written_file_is_plain_otio_others_can_read(tmp_path):
    timeline = rich_timeline(tmp_path, Rate(24000, 1001))
    source = otio.adapters.read_from_string(write_otio_text(timeline, relative_to=tmp_path), "otio_json")
    video = source.tracks[0]
    assert video.kind == otio.schema.TrackKind.Video and source.tracks[1].kind == otio.schema.TrackKind.Audio
    clip = video[1]
    assert clip.source_range == otio.opentime.TimeRange(otio.opentime.RationalTime(12, 24000 / 1001),
                                                        otio.opentime.RationalTime(40, 24000 / 1001))
    assert clip.media_reference.target_url == "media/a.mp4"  # relative inside the project
    assert video[3].media_reference.target_url == "media/still%20one.png"
    assert source.tracks[1][0].media_reference.target_url == "file:///elsewhere/music.flac"
    assert isinstance(video[2], otio.schema.Transition) and video[2].in_offset.value == 4
    assert dict(clip.metadata["latent_studio"]["request"])["prompt"] == "a red circle"
    assert [m.name for m in source.tracks.markers] == ["beat", "chorus"]
    assert source.duration().value == timeline.duration


def foreign_timeline(tmp_path):
    """A timeline as another program writes it, with things we don't model."""
    rate = 25
    rt = otio.opentime.RationalTime
    tr = otio.opentime.TimeRange
    (tmp_path / "shot.mov").write_bytes(b"")  # present, but probing is not asked for here
    timeline = otio.schema.Timeline(name="from elsewhere")
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    first = otio.schema.Clip(name="shot", media_reference=otio.schema.ExternalReference(
        target_url="shot.mov", available_range=tr(rt(86400, rate), rt(250, rate))),
        source_range=tr(rt(86410, rate), rt(50, rate)))
    first.effects.append(otio.schema.Effect(name="grade", effect_name="ColorCorrect"))
    first.markers.append(otio.schema.Marker(name="note", marked_range=tr(rt(86420, rate), rt(0, rate))))
    track.append(first)
    track.append(otio.schema.Transition(transition_type="Custom_Wipe", in_offset=rt(3, rate), out_offset=rt(3, rate)))
    warped = otio.schema.Clip(name="slow", media_reference=otio.schema.ExternalReference(target_url="shot.mov"),
                              source_range=tr(rt(86400, rate), rt(25, rate)))
    warped.effects.append(otio.schema.LinearTimeWarp(name="half", time_scalar=0.5))
    track.append(warped)
    nested = otio.schema.Stack(name="compound")
    inner = otio.schema.Track()
    inner.append(otio.schema.Gap(source_range=tr(rt(0, rate), rt(40, rate))))
    nested.append(inner)
    track.append(nested)
    track.append(otio.schema.Clip(name="gen", media_reference=otio.schema.GeneratorReference(
        generator_kind="SMPTEBars"), source_range=tr(rt(0, rate), rt(10, rate))))
    track.append(otio.schema.Clip(name="web", media_reference=otio.schema.ExternalReference(
        target_url="https://example.com/a.mp4"), source_range=tr(rt(0, rate), rt(5, rate))))
    timeline.tracks.append(track)
    return timeline


def test_import_reports_what_it_cannot_represent(tmp_path):
    text = otio.adapters.write_to_string(foreign_timeline(tmp_path), "otio_json")
    result = read_otio_text(text, base=tmp_path)
    notes = "\n".join(result.unrepresented)
    assert "effect ColorCorrect 'grade' is not applied" in notes
    assert "time warp LinearTimeWarp 'half' is not applied" in notes
    assert "Custom_Wipe transition became a crossfade" in notes
    assert "nested Stack of 1 children cannot be represented and became a gap of 40 frames" in notes
    assert "GeneratorReference media cannot be played and became a gap" in notes
    assert "https://example.com/a.mp4, which is not a local file" in notes
    assert "markers were moved to the timeline" in notes
    timeline = result.timeline
    assert timeline.rate == Rate(25)
    items = timeline.tracks[0].items
    assert isinstance(items[0], Clip) and items[0].source_in == 10 and items[0].duration == 50
    assert items[1] == Transition("crossfade", 3, 3)
    assert [type(i).__name__ for i in items] == ["Clip", "Transition", "Clip", "Gap"]
    assert items[3].duration == 40 + 10 + 5  # the nested stack, the generator and the web clip, merged later
    assert timeline.duration == 50 + 25 + 55  # every frame of the original keeps its place
    assert timeline.markers == (Marker(10, "note", "RED"),)
    assert len(result.timeline.media) == 1  # both clips of shot.mov share one media entry


def test_bad_json_and_other_objects_are_refused(tmp_path):
    with pytest.raises(BadInput, match="not valid OpenTimelineIO JSON"):
        read_otio_text("{not json", base=tmp_path)
    clip_only = otio.adapters.write_to_string(otio.schema.Clip(name="c"), "otio_json")
    with pytest.raises(BadInput, match="holds an OTIO Clip, not a timeline"):
        read_otio_text(clip_only, base=tmp_path)

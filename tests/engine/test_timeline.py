"""Timeline model and edit commands: each edit's law on the frames it shows, undo and redo.

`frame_map` lists, per timeline frame of a track, which media frame shows there; each edit's
property is stated on it (insert pushes the rest later by the clip's length, split changes
nothing one can see, ...), so the tests check what an editor user sees, not the item lists.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from engine.timeline.commands import (
    AddMarker, AddTransition, Append, Insert, Lift, Move, Overwrite, RippleDelete, Slip, Split, Trim,
)
from engine.timeline.history import History
from engine.timeline.model import (
    Clip, EditRefused, Gap, Marker, MediaRef, Rate, Timeline, Transition, find_problems, new_timeline,
    timeline_from_json, timeline_to_json,
)

MEDIA = (
    MediaRef("a", "/m/a.mp4", "video", frames=120, rate=Rate(24), width=64, height=48),
    MediaRef("b", "/m/b.mp4", "video", frames=40, rate=Rate(12), width=64, height=48),  # 80 frames at 24
    MediaRef("s", "/m/s.png", "image", width=32, height=32),
)


def base(rate=Rate(24)) -> Timeline:
    return dataclasses.replace(new_timeline(rate, 64, 48), media=MEDIA)


def frame_map(timeline: Timeline, track: int = 0) -> list:
    """(media, source frame) showing at each frame of the track, None in gaps."""
    shown = []
    for item in timeline.tracks[track].items:
        if isinstance(item, Clip):
            shown += [(item.media, item.source_in + k) for k in range(item.duration)]
        elif isinstance(item, Gap):
            shown += [None] * item.duration
    return shown


def strip(shown: list) -> list:
    while shown and shown[-1] is None:
        shown = shown[:-1]
    return shown


def test_rates_are_exact_fractions():
    assert Rate.parse("23.976") == Rate(24000, 1001)
    assert Rate.parse("29.97") == Rate(30000, 1001)
    assert Rate.parse("24000/1001") == Rate(24000, 1001)
    assert Rate.parse(25) == Rate(25) and Rate.parse("8") == Rate(8)
    assert Rate(60, 2) == Rate(30)
    assert Rate(24000, 1001).frames_in(Rate(24000, 1001).seconds(1001)) == 1001
    with pytest.raises(EditRefused.__mro__[1]):  # BadInput
        Rate.parse("fast")


def test_media_length_converts_to_project_frames():
    assert MEDIA[1].length_at(Rate(24)) == 80
    assert MEDIA[0].length_at(Rate(8)) == 40
    assert MEDIA[2].length_at(Rate(24)) is None


def test_append_insert_overwrite_and_their_frames():
    t = Append(0, Clip("a", 10, 20)).apply(base())
    t = Append(0, Clip("b", 0, 10)).apply(t)
    assert t.duration == 30
    before = frame_map(t)
    inserted = Insert(0, 5, Clip("s", 0, 4)).apply(t)
    assert frame_map(inserted) == before[:5] + [("s", k) for k in range(4)] + before[5:]
    over = Overwrite(0, 18, Clip("s", 0, 4)).apply(t)
    assert frame_map(over) == before[:18] + [("s", k) for k in range(4)] + before[22:]
    past_end = Insert(0, 40, Clip("s", 0, 2)).apply(t)
    assert frame_map(past_end) == before + [None] * 10 + [("s", 0), ("s", 1)]


def test_split_ripple_delete_lift_and_move():
    t = Append(0, Clip("a", 0, 30)).apply(base())
    split = Split(0, 12).apply(t)
    assert frame_map(split) == frame_map(t) and len(split.tracks[0].items) == 2
    with pytest.raises(EditRefused, match="already has a cut"):
        Split(0, 12).apply(split)
    gone = RippleDelete(0, 0).apply(split)
    assert frame_map(gone) == frame_map(t)[12:]
    lifted = Lift(0, 0).apply(split)
    assert frame_map(lifted) == [None] * 12 + frame_map(t)[12:]
    moved = Move(0, 1, 40).apply(split)
    assert frame_map(moved) == frame_map(t)[:12] + [None] * 28 + frame_map(t)[12:]


def test_trim_ripple_and_not():
    t = Append(0, Clip("a", 10, 20)).apply(base())
    t = Append(0, Clip("b", 5, 10)).apply(t)
    rippled = Trim(0, 0, "out", -5, ripple=True).apply(t)
    assert rippled.duration == 25 and frame_map(rippled)[15:] == frame_map(t)[20:]
    kept = Trim(0, 0, "out", -5).apply(t)
    assert kept.duration == 30 and frame_map(kept)[15:20] == [None] * 5 and frame_map(kept)[20:] == frame_map(t)[20:]
    head = Trim(0, 1, "in", 3).apply(t)
    assert frame_map(head)[20:23] == [None] * 3 and frame_map(head)[23:] == frame_map(t)[23:]
    with pytest.raises(EditRefused, match="run into the clip"):
        Trim(0, 0, "out", 2).apply(t)
    spaced = Insert(0, 20, Gap(5)).apply(t)
    grown = Trim(0, 0, "out", 3).apply(spaced)
    assert frame_map(grown) == frame_map(t)[:20] + [("a", 30 + k) for k in range(3)] + [None] * 2 + frame_map(t)[20:]
    with pytest.raises(EditRefused, match="1 frames into its neighbour"):
        Trim(0, 0, "out", 6).apply(spaced)
    with pytest.raises(EditRefused, match="before the start"):
        Trim(0, 0, "in", -11, ripple=True).apply(t)  # source frame -1 does not exist
    with pytest.raises(EditRefused, match="past the end"):
        Trim(0, 1, "out", 66, ripple=True).apply(t)  # b has 80 frames at 24 fps


def test_slip_moves_source_only():
    t = Append(0, Clip("a", 10, 20)).apply(base())
    slipped = Slip(0, 0, 7).apply(t)
    assert frame_map(slipped) == [("a", 17 + k) for k in range(20)]
    with pytest.raises(EditRefused, match="past the end"):
        Slip(0, 0, 91).apply(t)
    still = Append(0, Clip("s", 0, 5)).apply(base())
    with pytest.raises(EditRefused, match="nothing to slip"):
        Slip(0, 0, 1).apply(still)


def test_transitions_need_handles_and_neighbours():
    t = Append(0, Clip("a", 10, 20)).apply(base())
    t = Append(0, Clip("b", 4, 20)).apply(t)
    crossed = AddTransition(0, 0, "crossfade", 8).apply(t)
    assert crossed.tracks[0].items[1] == Transition("crossfade", 4, 4)
    assert crossed.duration == t.duration  # a transition takes no time
    with pytest.raises(EditRefused, match="more frames of b before its in point"):
        AddTransition(0, 0, "crossfade", 10).apply(t)
    tight = Append(0, Clip("b", 70, 10)).apply(Append(0, Clip("a", 0, 10)).apply(base()))
    with pytest.raises(EditRefused, match="more frames of a after its out point") as refused:
        AddTransition(0, 0, "crossfade", 6).apply(Slip(0, 0, 108).apply(tight))
    assert "make the crossfade shorter" in str(refused.value)
    faded = AddTransition(0, 2, "fade_to_black", 5).apply(AddTransition(0, 0, "fade_from_black", 5).apply(t))
    assert [type(i).__name__ for i in faded.tracks[0].items] == ["Transition", "Clip", "Clip", "Transition"]
    with pytest.raises(EditRefused, match="inside a crossfade"):
        Split(0, 18).apply(crossed)
    with pytest.raises(EditRefused, match="transition on its out edge"):
        Trim(0, 0, "out", -2).apply(crossed)
    assert Lift(0, 1).apply(crossed) == t  # deleting the transition gives back the plain cut


def test_toy_and_ntsc_rates_convert_media_by_time():
    t = Append(0, Clip("a", 0, 40)).apply(base(Rate(8)))  # a: 120 frames at 24 = 40 frames at 8
    with pytest.raises(EditRefused, match="past the end"):
        Trim(0, 0, "out", 1, ripple=True).apply(t)
    ntsc = Append(0, Clip("a", 0, 119)).apply(base(Rate(24000, 1001)))
    assert ntsc.duration == 119


def test_history_undo_redo_and_json():
    history = History(base())
    history.apply(Append(0, Clip("a", 0, 10)))
    history.apply(AddMarker(Marker(3, "beat")))
    after = history.timeline
    history.undo()
    history.undo()
    assert history.timeline == base()
    with pytest.raises(Exception, match="nothing to undo"):
        history.undo()
    history.redo()
    restored = History.from_json(history.timeline, history.to_json())
    restored.redo()
    assert restored.timeline == after
    assert restored.labels() == (["append", "add marker"], [])
    assert History.from_json(base(), restored.to_json()).can_undo is False  # someone else's history
    assert timeline_from_json(timeline_to_json(after)) == after


# --- properties ---------------------------------------------------------------------------------

clips = st.builds(
    lambda media, start, length: Clip(media, start, length),
    st.sampled_from(["a", "b", "s"]), st.integers(0, 60), st.integers(1, 30),
)
frames = st.integers(0, 120)
transitions = st.builds(AddTransition, st.just(0), st.integers(0, 4),
                        st.sampled_from(["crossfade", "fade_to_black", "fade_from_black"]), st.integers(1, 6))
commands = st.one_of(
    transitions, transitions,  # twice: the edits most often refused, so they need more tries
    st.builds(Append, st.just(0), clips),
    st.builds(Insert, st.just(0), frames, clips),
    st.builds(Overwrite, st.just(0), frames, clips),
    st.builds(Split, st.just(0), frames),
    st.builds(RippleDelete, st.just(0), st.integers(0, 4)),
    st.builds(Lift, st.just(0), st.integers(0, 4)),
    st.builds(Move, st.just(0), st.integers(0, 4), frames),
    st.builds(Trim, st.just(0), st.integers(0, 4), st.sampled_from(["in", "out"]), st.integers(-10, 10),
              st.booleans()),
    st.builds(Slip, st.just(0), st.integers(0, 4), st.integers(-10, 10)),
    st.builds(AddTransition, st.just(0), st.integers(0, 4),
              st.sampled_from(["crossfade", "fade_to_black", "fade_from_black"]), st.integers(1, 6)),
)


def expected_frames(command, before: Timeline, after: Timeline):
    """What `command` must do to the frames of track 0 (None: no simple law, e.g. a transition)."""
    old = frame_map(before)
    item = getattr(command, "item", None)
    if isinstance(command, (Insert, Append)):
        at = len(old) if isinstance(command, Append) else command.frame
        padded = old + [None] * max(0, at - len(old))
        return padded[:at] + frame_map_of(item) + padded[at:]
    if isinstance(command, Overwrite):
        padded = old + [None] * max(0, command.frame - len(old))
        return padded[: command.frame] + frame_map_of(item) + padded[command.frame + item.duration:]
    if isinstance(command, (Split, AddTransition)):
        return old
    if isinstance(command, (RippleDelete, Lift)):
        target = before.tracks[0].items[command.index]
        if isinstance(target, Transition):
            return old
        start = before.tracks[0].starts()[command.index]
        filler = [] if isinstance(command, RippleDelete) else [None] * target.duration
        return old[:start] + filler + old[start + target.duration:]
    if isinstance(command, Slip):
        start = before.tracks[0].starts()[command.index]
        clip = before.tracks[0].items[command.index]
        return old[:start] + [(clip.media, f + command.delta) for _m, f in old[start:start + clip.duration]] + \
            old[start + clip.duration:]
    if isinstance(command, Move):
        clip = before.tracks[0].items[command.index]
        start = before.tracks[0].starts()[command.index]
        lifted = old[:start] + [None] * clip.duration + old[start + clip.duration:]
        lifted += [None] * max(0, command.to_frame - len(lifted))
        return lifted[: command.to_frame] + frame_map_of(clip) + lifted[command.to_frame + clip.duration:]
    if isinstance(command, Trim) and not command.ripple:
        start = before.tracks[0].starts()[command.index]
        end = start + before.tracks[0].items[command.index].duration
        changed = range(min(start, start + command.delta), max(start, start + command.delta)) \
            if command.edge == "in" else range(min(end, end + command.delta), max(end, end + command.delta))
        new = frame_map(after)
        assert all(new[f] == old[f] for f in range(max(len(old), len(new)))
                   if f not in changed and f < len(old) and f < len(new)), "a plain trim moved other frames"
        return None
    return None


def frame_map_of(clip: Clip) -> list:
    return [(clip.media, clip.source_in + k) for k in range(clip.duration)]


@settings(max_examples=200, deadline=None)
@given(st.lists(commands, min_size=1, max_size=12))
def test_edits_keep_invariants_and_undo_exactly(command_list):
    start = base()
    for clip in (Clip("a", 20, 30), Clip("s", 0, 10), Clip("b", 10, 30)):  # clips with handles to borrow
        start = Append(0, clip).apply(start)
    history = History(start)
    states = [start]
    for command in command_list:
        before = history.timeline
        try:
            after = history.apply(command)
        except EditRefused:
            assert history.timeline is before  # a refused edit changes nothing
            continue
        assert find_problems(after) == []  # includes: transitions within their neighbours' media
        track = after.tracks[0]
        starts = track.starts()
        assert all(b - a == item.duration for a, b, item in zip(starts, starts[1:], track.items))  # no overlaps
        assert track.duration == sum(i.duration for i in track.items if not isinstance(i, Transition))
        kinds = [type(i).__name__ for i in track.items]
        assert "GapGap" not in "".join(kinds) and kinds[-1:] != ["Gap"]  # one gap between clips, none trailing
        expected = expected_frames(command, before, after)
        if expected is not None:
            assert frame_map(after) == strip(expected)
        states.append(after)
    for state in reversed(states[:-1]):
        history.undo()
        assert history.timeline == state
    for state in states[1:]:
        history.redo()
        assert history.timeline == state

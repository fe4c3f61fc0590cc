"""Edit commands: each is a frozen description of one edit, `apply(timeline) -> timeline`.

A command either returns a new, checked timeline or raises EditRefused with a sentence and
changes nothing. Items are addressed by track label (V1, A1, ...) and index in the track's
items, as `timeline show` lists them. Undo lives in engine.timeline.history.

Cutting a track at a frame is the one primitive most edits share (`_cut`): insert and
overwrite cut at their frame, split is nothing but a cut.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from engine.timeline.model import (
    TRACK_KINDS, TRANSITION_KINDS, Clip, EditRefused, Gap, Item, Marker, MediaRef, Timeline, Track, Transition,
    find_problems, normalise,
)


def _cut(items: tuple[Item, ...], frame: int, label: str) -> tuple[list[Item], list[Item]]:
    """The items before and after `frame`; an item across it is split in two, a track that
    ends earlier is padded with a gap. A transition across the frame refuses the cut."""
    if frame < 0:
        raise EditRefused(f"frame {frame} is before the start of the timeline")
    before: list[Item] = []
    after: list[Item] = []
    start = 0
    for item in items:
        if isinstance(item, Transition):
            if start - item.in_offset < frame < start + item.out_offset or (
                    frame == start and item.kind == "crossfade"):
                raise EditRefused(f"frame {frame} on {label} is inside a {item.kind.replace('_', ' ')}; "
                                  "cut outside it or remove the transition first")
            goes_before = start < frame or (start == frame and item.kind == "fade_to_black")
            (before if goes_before else after).append(item)
            continue
        end = start + item.duration
        if end <= frame:
            before.append(item)
        elif start >= frame:
            after.append(item)
        else:
            head, tail = frame - start, end - frame
            if isinstance(item, Clip):
                before.append(dataclasses.replace(item, duration=head))
                after.append(dataclasses.replace(item, source_in=item.source_in + head, duration=tail))
            else:
                before.append(Gap(head))
                after.append(Gap(tail))
        start = end
    if frame > start:
        before.append(Gap(frame - start))
    return before, after


def _with_items(timeline: Timeline, track: int, items) -> Timeline:
    tracks = list(timeline.tracks)
    tracks[track] = dataclasses.replace(tracks[track], items=normalise(list(items)))
    return dataclasses.replace(timeline, tracks=tuple(tracks))


def _item(timeline: Timeline, track: int, index: int) -> Item:
    items = timeline.tracks[track].items
    if not 0 <= index < len(items):
        raise EditRefused(f"{timeline.track_label(track)} has no item {index}; it has {len(items)} items (from 0)")
    return items[index]


def _clip(timeline: Timeline, track: int, index: int) -> Clip:
    item = _item(timeline, track, index)
    if not isinstance(item, Clip):
        raise EditRefused(f"{timeline.track_label(track)} item {index} is a {type(item).__name__.lower()}, not a clip")
    return item


def _without_transitions_around(items: list[Item], index: int) -> tuple[list[Item], int]:
    """Drop the transitions touching items[index]; returns the list and the item's new index."""
    if index + 1 < len(items) and isinstance(items[index + 1], Transition):
        del items[index + 1]
    if index > 0 and isinstance(items[index - 1], Transition):
        del items[index - 1]
        index -= 1
    return items, index


class Command:
    """Base of the edit commands: `label` names the edit in an undo menu."""

    label: ClassVar[str] = "edit"

    def apply(self, timeline: Timeline) -> Timeline:
        for name in ("track", "to_track"):
            index = getattr(self, name, None)
            if index is not None and not 0 <= index < len(timeline.tracks):
                raise EditRefused(f"there is no track {index}; the timeline has {len(timeline.tracks)} tracks")
        result = self._edit(timeline)
        problems = find_problems(result)
        if problems:
            # only what this edit breaks: a timeline opened with a problem stays editable elsewhere
            known = set(find_problems(timeline))
            fresh = [problem for problem in problems if problem not in known]
            if fresh:
                raise EditRefused(fresh[0])
        return result

    def describe(self) -> str:
        return self.label

    def _edit(self, timeline: Timeline) -> Timeline:
        raise NotImplementedError


@dataclass(frozen=True)
class AddTrack(Command):
    label: ClassVar[str] = "add track"
    kind: str

    def _edit(self, timeline: Timeline) -> Timeline:
        if self.kind not in TRACK_KINDS:
            raise EditRefused(f"a track is video or audio, not {self.kind!r}")
        return dataclasses.replace(timeline, tracks=timeline.tracks + (Track(self.kind),))


@dataclass(frozen=True)
class AddMedia(Command):
    label: ClassVar[str] = "add media"
    ref: MediaRef

    def _edit(self, timeline: Timeline) -> Timeline:
        if self.ref.id in timeline.media_by_id():
            raise EditRefused(f"media {self.ref.id!r} is already in the media table")
        return dataclasses.replace(timeline, media=timeline.media + (self.ref,))


@dataclass(frozen=True)
class Insert(Command):
    """Put `item` at `frame`, pushing everything after it later (ripple)."""

    label: ClassVar[str] = "insert"
    track: int
    frame: int
    item: Clip | Gap

    def _edit(self, timeline: Timeline) -> Timeline:
        _check_new_item(self.item)
        before, after = _cut(timeline.tracks[self.track].items, self.frame, timeline.track_label(self.track))
        return _with_items(timeline, self.track, before + [self.item] + after)


@dataclass(frozen=True)
class Append(Command):
    label: ClassVar[str] = "append"
    track: int
    item: Clip | Gap

    def _edit(self, timeline: Timeline) -> Timeline:
        return Insert(self.track, timeline.tracks[self.track].duration, self.item)._edit(timeline)


@dataclass(frozen=True)
class Overwrite(Command):
    """Put `item` at `frame`, replacing whatever was under it; nothing else moves."""

    label: ClassVar[str] = "overwrite"
    track: int
    frame: int
    item: Clip | Gap

    def _edit(self, timeline: Timeline) -> Timeline:
        _check_new_item(self.item)
        label = timeline.track_label(self.track)
        before, rest = _cut(timeline.tracks[self.track].items, self.frame, label)
        _, after = _cut(tuple(rest), self.item.duration, label)
        return _with_items(timeline, self.track, before + [self.item] + after)


@dataclass(frozen=True)
class Lift(Command):
    """Remove an item and leave a gap (transitions touching it go with it)."""

    label: ClassVar[str] = "delete"
    track: int
    index: int

    def _edit(self, timeline: Timeline) -> Timeline:
        return self._remove(timeline, leave_gap=True)

    def _remove(self, timeline: Timeline, leave_gap: bool) -> Timeline:
        item = _item(timeline, self.track, self.index)
        items = list(timeline.tracks[self.track].items)
        if isinstance(item, Transition):
            del items[self.index]
            return _with_items(timeline, self.track, items)
        items, index = _without_transitions_around(items, self.index)
        items[index: index + 1] = [Gap(item.duration)] if leave_gap else []
        return _with_items(timeline, self.track, items)


@dataclass(frozen=True)
class RippleDelete(Lift):
    """Remove an item and close the hole: everything after it moves earlier."""

    label: ClassVar[str] = "ripple delete"

    def _edit(self, timeline: Timeline) -> Timeline:
        return self._remove(timeline, leave_gap=False)


@dataclass(frozen=True)
class Move(Command):
    """Lift a clip and overwrite it at `to_frame` on `to_track` (the same track by default)."""

    label: ClassVar[str] = "move"
    track: int
    index: int
    to_frame: int
    to_track: int | None = None

    def _edit(self, timeline: Timeline) -> Timeline:
        clip = _clip(timeline, self.track, self.index)
        to_track = self.track if self.to_track is None else self.to_track
        if timeline.tracks[to_track].kind != timeline.tracks[self.track].kind:
            raise EditRefused(f"a clip moves between tracks of one kind; {timeline.track_label(to_track)} is "
                              f"{timeline.tracks[to_track].kind}")
        lifted = Lift(self.track, self.index)._edit(timeline)
        return Overwrite(to_track, self.to_frame, clip)._edit(lifted)


@dataclass(frozen=True)
class Split(Command):
    label: ClassVar[str] = "split"
    track: int
    frame: int

    def _edit(self, timeline: Timeline) -> Timeline:
        track = timeline.tracks[self.track]
        label = timeline.track_label(self.track)
        if not 0 < self.frame < track.duration:
            raise EditRefused(f"frame {self.frame} is not inside {label} (0 to {track.duration}); nothing to split")
        if self.frame in track.starts():
            raise EditRefused(f"{label} already has a cut at frame {self.frame}")
        before, after = _cut(track.items, self.frame, label)
        return _with_items(timeline, self.track, before + after)


@dataclass(frozen=True)
class Trim(Command):
    """Move an item's in or out edge by `delta` frames (positive: later).

    Ripple: the items after it move with the edge. Not ripple: nothing else moves; the gap
    beside the edge grows or shrinks (a neighbouring clip is never overwritten).
    """

    label: ClassVar[str] = "trim"
    track: int
    index: int
    edge: str  # "in" or "out"
    delta: int
    ripple: bool = False

    def _edit(self, timeline: Timeline) -> Timeline:
        if self.edge not in ("in", "out"):
            raise EditRefused(f"a trim moves the 'in' or the 'out' edge, not {self.edge!r}")
        item = _item(timeline, self.track, self.index)
        if isinstance(item, Transition):
            raise EditRefused("a transition has no edges to trim; delete it and add a new one")
        items = list(timeline.tracks[self.track].items)
        label = f"{timeline.track_label(self.track)} item {self.index}"
        change = self.delta if self.edge == "out" else -self.delta
        if item.duration + change < 1:
            raise EditRefused(f"trimming {label} by {self.delta} frames would leave nothing of it; delete it instead")
        if isinstance(item, Clip) and self.edge == "in":
            items[self.index] = dataclasses.replace(item, source_in=item.source_in + self.delta,
                                                    duration=item.duration - self.delta)
        else:
            items[self.index] = dataclasses.replace(item, duration=item.duration + change)
        if not self.ripple and self.delta:
            self._keep_others_in_place(items, label)
        return _with_items(timeline, self.track, items)

    def _keep_others_in_place(self, items: list[Item], label: str) -> None:
        side = self.index + 1 if self.edge == "out" else self.index - 1
        neighbour = items[side] if 0 <= side < len(items) else None
        # the gap beside the edge absorbs the change: it shrinks when the item grows into it
        absorb = -self.delta if self.edge == "out" else self.delta
        if neighbour is None and self.edge == "out":
            return  # the last item: its end is the track's end
        if neighbour is None and absorb < 0:
            raise EditRefused(f"{label} starts at frame 0; it cannot start earlier")
        if isinstance(neighbour, Transition):
            raise EditRefused(f"{label} has a transition on its {self.edge} edge; delete it to trim this edge, "
                              "or trim with ripple")
        if isinstance(neighbour, Gap):
            if neighbour.duration + absorb < 0:
                raise EditRefused(f"{label} would run {-(neighbour.duration + absorb)} frames into its neighbour; "
                                  "trim less, or trim with ripple")
            items[side] = Gap(neighbour.duration + absorb)
            return
        if absorb < 0:
            raise EditRefused(f"{label} would run into the clip beside it; trim with ripple or make room first")
        items.insert(side if self.edge == "out" else self.index, Gap(absorb))


@dataclass(frozen=True)
class Slip(Command):
    """Show other frames of the media in the same place: source in/out move by `delta`."""

    label: ClassVar[str] = "slip"
    track: int
    index: int
    delta: int

    def _edit(self, timeline: Timeline) -> Timeline:
        clip = _clip(timeline, self.track, self.index)
        ref = timeline.media_by_id().get(clip.media)
        if ref is not None and ref.kind == "image":
            raise EditRefused("a still shows one picture throughout; there is nothing to slip")
        items = list(timeline.tracks[self.track].items)
        items[self.index] = dataclasses.replace(clip, source_in=clip.source_in + self.delta)
        return _with_items(timeline, self.track, items)


@dataclass(frozen=True)
class AddTransition(Command):
    """A crossfade across the cut after item `index` (centred on it), or a fade of clip `index`."""

    label: ClassVar[str] = "add transition"
    track: int
    index: int
    kind: str
    frames: int

    def _edit(self, timeline: Timeline) -> Timeline:
        if self.kind not in TRANSITION_KINDS:
            raise EditRefused(f"a transition is one of {', '.join(TRANSITION_KINDS)}, not {self.kind!r}")
        if self.frames < 1:
            raise EditRefused(f"a transition lasts at least 1 frame, got {self.frames}")
        _clip(timeline, self.track, self.index)
        items = list(timeline.tracks[self.track].items)
        if self.kind == "crossfade":
            head = self.frames // 2
            items.insert(self.index + 1, Transition("crossfade", head, self.frames - head))
        elif self.kind == "fade_to_black":
            items.insert(self.index + 1, Transition("fade_to_black", self.frames, 0))
        else:
            items.insert(self.index, Transition("fade_from_black", 0, self.frames))
        return _with_items(timeline, self.track, items)


@dataclass(frozen=True)
class AddMarker(Command):
    label: ClassVar[str] = "add marker"
    marker: Marker

    def _edit(self, timeline: Timeline) -> Timeline:
        markers = sorted(timeline.markers + (self.marker,), key=lambda m: (m.frame, m.name))
        return dataclasses.replace(timeline, markers=tuple(markers))


@dataclass(frozen=True)
class Batch(Command):
    """Several commands as one undo step (e.g. add the media, then append its clip)."""

    commands: tuple[Command, ...]
    name: str = "edit"

    def describe(self) -> str:
        return self.name

    def apply(self, timeline: Timeline) -> Timeline:
        for command in self.commands:
            timeline = command.apply(timeline)
        return timeline

    def _edit(self, timeline: Timeline) -> Timeline:
        for command in self.commands:
            timeline = command._edit(timeline)
        return timeline


def _check_new_item(item) -> None:
    if not isinstance(item, (Clip, Gap)):
        raise EditRefused(f"only clips and gaps can be placed on a track, not a {type(item).__name__}")
    if item.duration < 1:
        raise EditRefused(f"a clip lasts at least 1 frame, got {item.duration}")

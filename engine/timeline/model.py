"""The timeline as plain immutable data, in integer frames at the project rate.

A timeline is tracks of items laid end to end (as in OpenTimelineIO): clips, gaps and
transitions. A transition takes no time on its track; it sits between two items and overlaps
`in_offset` frames before the cut and `out_offset` frames after it, so a crossfade uses media
beyond the outgoing clip's out point and before the incoming clip's in point (the handles).
Video tracks later in `tracks` cover earlier ones where they have a clip; gaps are see-through.

Clip source frames count in project frames: source frame k of a clip is media time
k / rate seconds, and the renderer picks the media frame nearest to it. So media of any rate
plays at its own speed on a timeline of any rate, and nothing is re-encoded on import.

Everything is frozen, so an edit builds a new timeline that shares the unchanged tracks with
the old one, and undo is putting the old value back (engine.timeline.history).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

from engine.errors import BadInput

TRACK_KINDS = ("video", "audio")
MEDIA_KINDS = ("video", "image", "audio")
TRANSITION_KINDS = ("crossfade", "fade_to_black", "fade_from_black")

# 23.976 and friends are written as decimals by people and as floats by OTIO; these are what they mean.
_NTSC_RATES = {23.976: (24000, 1001), 29.97: (30000, 1001), 47.952: (48000, 1001), 59.94: (60000, 1001),
               119.88: (120000, 1001)}


class EditRefused(BadInput):
    """An edit would break the timeline (overlap, missing handles, ...); nothing was changed."""


@dataclass(frozen=True, order=True)
class Rate:
    """Frames per second as an exact fraction (24000/1001 for 23.976)."""

    num: int
    den: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.num, int) and isinstance(self.den, int)) or self.num <= 0 or self.den <= 0:
            raise BadInput(f"a frame rate must be a positive fraction of whole numbers, got {self.num}/{self.den}")
        divisor = math.gcd(self.num, self.den)
        object.__setattr__(self, "num", self.num // divisor)
        object.__setattr__(self, "den", self.den // divisor)

    @classmethod
    def parse(cls, value: Union[str, float, int, "Rate"]) -> "Rate":
        """'24', '23.976', '24000/1001', 25.0 -> a Rate (NTSC decimals mean their /1001 fraction)."""
        if isinstance(value, Rate):
            return value
        text = str(value).strip()
        try:
            if "/" in text:
                num, den = text.split("/")
                return cls(int(num), int(den))
            number = float(text)
        except ValueError:
            raise BadInput(f"frame rate must look like 24, 23.976 or 24000/1001, got {value!r}") from None
        return cls.from_float(number)

    @classmethod
    def from_float(cls, number: float) -> "Rate":
        if not math.isfinite(number) or number <= 0:
            raise BadInput(f"a frame rate must be a positive number, got {number!r}")
        for decimal, (num, den) in _NTSC_RATES.items():
            if abs(number - decimal) < 0.006:
                return cls(num, den)
        fraction = Fraction(number).limit_denominator(1001)
        return cls(fraction.numerator, fraction.denominator)

    @property
    def fps(self) -> float:
        return self.num / self.den

    def seconds(self, frames: int) -> float:
        return frames * self.den / self.num

    def frames_in(self, seconds: float) -> int:
        """Whole frames that fit in `seconds` (a hair of float error does not lose a frame)."""
        return int(math.floor(seconds * self.num / self.den + 1e-6))

    def __str__(self) -> str:
        return str(self.num) if self.den == 1 else f"{self.num}/{self.den}"


@dataclass(frozen=True)
class MediaRef:
    """A media file the timeline uses, as probed when it was added.

    `frames` counts the media's own frames at its own `rate` (None for a still image, which
    lasts as long as a clip wants). `path` is absolute while the timeline is in memory; the
    project stores it relative to its folder unless the user linked an outside file.
    """

    id: str
    path: str
    kind: str
    frames: int | None = None
    rate: Rate | None = None
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    has_audio: bool = False

    @property
    def seconds(self) -> float | None:
        if self.frames is None or self.rate is None:
            return None
        return self.rate.seconds(self.frames)

    def length_at(self, rate: Rate) -> int | None:
        """How many project frames of this media exist (None: unlimited, a still)."""
        seconds = self.seconds
        return None if seconds is None else rate.frames_in(seconds)


@dataclass(frozen=True)
class Clip:
    """`duration` frames of `media` starting at source frame `source_in` (project frames).

    `request` is the generating request of a generated clip as canonical JSON text (kept as
    text so the clip stays hashable); `gain` is a linear factor for its audio.
    """

    media: str
    source_in: int
    duration: int
    name: str = ""
    gain: float = 1.0
    request: str | None = None

    def __post_init__(self) -> None:
        if self.request is not None:
            object.__setattr__(self, "request", canonical_request(self.request))

    @property
    def source_out(self) -> int:
        return self.source_in + self.duration


@dataclass(frozen=True)
class Gap:
    duration: int


@dataclass(frozen=True)
class Transition:
    """Blends across the cut between its neighbours (fades: between a clip and black/silence)."""

    kind: str
    in_offset: int
    out_offset: int

    duration = 0  # takes no time on the track

    @property
    def length(self) -> int:
        return self.in_offset + self.out_offset


Item = Union[Clip, Gap, Transition]


@dataclass(frozen=True)
class Track:
    kind: str
    items: tuple[Item, ...] = ()
    name: str = ""

    @property
    def duration(self) -> int:
        return sum(item.duration for item in self.items)

    def starts(self) -> list[int]:
        """The start frame of every item (a transition's is its cut)."""
        starts, frame = [], 0
        for item in self.items:
            starts.append(frame)
            frame += item.duration
        return starts


@dataclass(frozen=True)
class Marker:
    frame: int
    name: str = ""
    color: str = "RED"
    duration: int = 0


@dataclass(frozen=True)
class Timeline:
    rate: Rate
    width: int
    height: int
    tracks: tuple[Track, ...] = ()
    markers: tuple[Marker, ...] = ()
    media: tuple[MediaRef, ...] = ()
    name: str = ""
    sample_rate: int = 48000

    @property
    def duration(self) -> int:
        return max((track.duration for track in self.tracks), default=0)

    def media_by_id(self) -> dict[str, MediaRef]:
        return {ref.id: ref for ref in self.media}

    def track_label(self, index: int) -> str:
        """V1, V2, ... A1, ... as editors name them (numbered within their kind, from 1)."""
        kind = self.tracks[index].kind
        number = sum(1 for track in self.tracks[: index + 1] if track.kind == kind)
        return f"{'V' if kind == 'video' else 'A'}{number}"

    def track_index(self, label: str) -> int:
        """The index of track `label` (V1, A2, ... or a plain index)."""
        text = label.strip().upper()
        if text.isdigit():
            index = int(text)
            if index >= len(self.tracks):
                raise BadInput(f"there is no track {label}; the timeline has {len(self.tracks)} tracks")
            return index
        for index in range(len(self.tracks)):
            if self.track_label(index) == text:
                return index
        raise BadInput(f"there is no track {label!r}; tracks are {', '.join(self.labels()) or 'none yet'}")

    def labels(self) -> list[str]:
        return [self.track_label(index) for index in range(len(self.tracks))]


def normalise(items: list[Item], keep_trailing_gap: bool = False) -> tuple[Item, ...]:
    """Merge neighbouring gaps, drop empty gaps and (unless kept, as an import does to keep a
    foreign track's length) trailing gaps, which an edit leaves meaning nothing."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Gap):
            if item.duration <= 0:
                continue
            if out and isinstance(out[-1], Gap):
                out[-1] = Gap(out[-1].duration + item.duration)
                continue
        out.append(item)
    while out and isinstance(out[-1], Gap) and not keep_trailing_gap:
        out.pop()
    return tuple(out)


def new_timeline(rate: Rate, width: int, height: int, name: str = "") -> Timeline:
    """An empty timeline with one video track and one audio track, as editors start."""
    return Timeline(rate=rate, width=width, height=height, tracks=(Track("video"), Track("audio")), name=name)


def unique_media_id(stem: str, taken) -> str:
    """`stem`, or stem-2, stem-3, ... whichever is not in `taken` (ids name media in the table)."""
    stem = stem or "media"
    candidate, counter = stem, 1
    while candidate in taken:
        counter += 1
        candidate = f"{stem}-{counter}"
    return candidate


def canonical_request(request: Any) -> str | None:
    """A generating request (dict or JSON text) as the canonical text a Clip keeps."""
    if request is None:
        return None
    data = json.loads(request) if isinstance(request, str) else request
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# --- checking -------------------------------------------------------------------------------


def check(timeline: Timeline) -> None:
    """Raise EditRefused with the first thing wrong with `timeline`; quiet when it is sound."""
    problems = find_problems(timeline)
    if problems:
        raise EditRefused(problems[0])


def find_problems(timeline: Timeline) -> list[str]:
    media = timeline.media_by_id()
    problems: list[str] = []
    for track_index, track in enumerate(timeline.tracks):
        label = timeline.track_label(track_index) if track.kind in TRACK_KINDS else f"track {track_index}"
        if track.kind not in TRACK_KINDS:
            problems.append(f"track {track_index} has kind {track.kind!r}; it must be video or audio")
            continue
        items = track.items
        for index, item in enumerate(items):
            where = f"{label} item {index}"
            if isinstance(item, Transition):
                problems += transition_problems(timeline, items, index, where, media)
            elif isinstance(item, Gap):
                if item.duration < 1:
                    problems.append(f"{where} is a gap of {item.duration} frames; gaps last at least 1 frame")
            elif isinstance(item, Clip):
                problems += _clip_problems(timeline, track, item, where, media)
            else:
                problems.append(f"{where} is a {type(item).__name__}, not a clip, gap or transition")
    for marker in timeline.markers:
        if marker.frame < 0 or marker.duration < 0:
            problems.append(f"marker {marker.name!r} at frame {marker.frame} is before the start")
    return problems


def _clip_problems(timeline: Timeline, track: Track, clip: Clip, where: str, media: dict) -> list[str]:
    ref = media.get(clip.media)
    if ref is None:
        return [f"{where} uses media {clip.media!r}, which is not in the media table"]
    problems = []
    if clip.duration < 1:
        problems.append(f"{where} lasts {clip.duration} frames; a clip lasts at least 1 frame")
    if not (isinstance(clip.gain, (int, float)) and math.isfinite(clip.gain) and 0 <= clip.gain <= 16):
        problems.append(f"{where} has gain {clip.gain!r}; a gain is from 0 (mute) to 16")
    if track.kind == "video" and ref.kind == "audio":
        problems.append(f"{where}: {ref.id} is audio only and cannot go on a video track")
    if track.kind == "audio" and not (ref.kind == "audio" or ref.has_audio):
        problems.append(f"{where}: {ref.id} has no sound and cannot go on an audio track")
    length = ref.length_at(timeline.rate)
    if clip.source_in < 0:
        problems.append(f"{where} starts {-clip.source_in} frames before the start of {ref.id}")
    elif length is not None and clip.source_out > length:
        problems.append(f"{where} ends at source frame {clip.source_out}, past the end of {ref.id} "
                        f"({length} frames at the project rate)")
    return problems


def transition_problems(timeline: Timeline, items: tuple, index: int, where: str, media: dict) -> list[str]:
    """What is wrong with the transition items[index] of a track (its neighbours, handles, lengths)."""
    item: Transition = items[index]
    before = items[index - 1] if index > 0 else None
    after = items[index + 1] if index + 1 < len(items) else None
    if item.kind not in TRANSITION_KINDS:
        return [f"{where} is a transition of kind {item.kind!r}; kinds are {', '.join(TRANSITION_KINDS)}"]
    if item.in_offset < 0 or item.out_offset < 0 or item.length < 1:
        return [f"{where}: a transition lasts at least 1 frame and its offsets are not negative"]
    if isinstance(before, Transition) or isinstance(after, Transition):
        return [f"{where} touches another transition; put a clip between them"]
    problems = []
    if item.kind == "crossfade":
        if not (isinstance(before, Clip) and isinstance(after, Clip)):
            return [f"{where}: a crossfade needs a clip on each side"]
        problems += _handle_problems(timeline, before, after, item, where, media)
    elif item.kind == "fade_to_black":
        if not isinstance(before, Clip) or item.out_offset:
            return [f"{where}: a fade to black follows a clip and ends at its out point"]
    elif not isinstance(after, Clip) or item.in_offset:
        return [f"{where}: a fade from black comes before a clip and starts at its in point"]
    if isinstance(before, Clip) and item.in_offset > before.duration:
        problems.append(f"{where} starts {item.in_offset} frames before the cut, longer than the clip before it")
    if isinstance(after, Clip) and item.out_offset > after.duration:
        problems.append(f"{where} ends {item.out_offset} frames after the cut, longer than the clip after it")
    # two transitions on one clip may not overlap inside it
    if isinstance(after, Clip) and index + 2 < len(items) and isinstance(items[index + 2], Transition):
        if item.out_offset + items[index + 2].in_offset > after.duration:
            problems.append(f"{where} overlaps the next transition inside the clip between them")
    return problems


def _handle_problems(timeline, before: Clip, after: Clip, item: Transition, where: str, media: dict) -> list[str]:
    problems = []
    ref = media.get(before.media)
    length = ref.length_at(timeline.rate) if ref else None
    if length is not None and before.source_out + item.out_offset > length:
        problems.append(f"{where} needs {before.source_out + item.out_offset - length} more frames of "
                        f"{before.media} after its out point; trim that clip shorter or make the crossfade shorter")
    after_ref = media.get(after.media)
    still = after_ref is not None and after_ref.kind == "image"  # a still has frames before any in point
    if not still and after.source_in - item.in_offset < 0:
        problems.append(f"{where} needs {item.in_offset - after.source_in} more frames of {after.media} "
                        f"before its in point; trim that clip's start later or make the crossfade shorter")
    return problems


# --- plain JSON (the undo history's format; timeline.otio is the interchange one) -------------

_ITEM_TYPES = {"clip": Clip, "gap": Gap, "transition": Transition}


def timeline_to_json(timeline: Timeline) -> dict[str, Any]:
    def item_json(item: Item) -> dict:
        name = {Clip: "clip", Gap: "gap", Transition: "transition"}[type(item)]
        return {"type": name, **dataclasses.asdict(item)}

    return {
        "rate": [timeline.rate.num, timeline.rate.den], "width": timeline.width, "height": timeline.height,
        "name": timeline.name, "sample_rate": timeline.sample_rate,
        "tracks": [{"kind": t.kind, "name": t.name, "items": [item_json(i) for i in t.items]} for t in timeline.tracks],
        "markers": [dataclasses.asdict(m) for m in timeline.markers],
        "media": [media_to_json(ref) for ref in timeline.media],
    }


def media_to_json(ref: MediaRef) -> dict[str, Any]:
    data = dataclasses.asdict(ref)
    data["rate"] = [ref.rate.num, ref.rate.den] if ref.rate else None
    return data


def media_from_json(data: dict[str, Any]) -> MediaRef:
    data = dict(data)
    data["rate"] = Rate(*data["rate"]) if data.get("rate") else None
    return MediaRef(**data)


def timeline_from_json(data: dict[str, Any]) -> Timeline:
    def item(entry: dict) -> Item:
        entry = dict(entry)
        return _ITEM_TYPES[entry.pop("type")](**entry)

    return Timeline(
        rate=Rate(*data["rate"]), width=data["width"], height=data["height"], name=data.get("name", ""),
        sample_rate=data.get("sample_rate", 48000),
        tracks=tuple(Track(t["kind"], tuple(item(i) for i in t["items"]), t.get("name", "")) for t in data["tracks"]),
        markers=tuple(Marker(**m) for m in data["markers"]),
        media=tuple(media_from_json(m) for m in data["media"]),
    )


"""OpenTimelineIO interchange: our timeline to and from `otio_json`.

Everything we model maps onto plain OTIO (tracks, clips with source ranges, gaps, dissolves,
markers, rates), so Kdenlive, Resolve and OTIO's own tools read our files. What OTIO cannot
say exactly is kept under metadata["latent_studio"]: the exact rate as a fraction, the output
size, the media table, each clip's gain and generating request, and which dissolves are fades.

Import is honest: a nested stack, an effect, a time warp, a generator or a transition we
can't model becomes the nearest thing we can (a gap of the same length, the clip without the
effect) and is listed in `ImportResult.unrepresented`, never dropped without a word.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, unquote, urlparse

from engine.errors import BadInput
from engine.timeline.model import (
    Clip, Gap, Marker, MediaRef, Rate, Timeline, Track, Transition, canonical_request, media_from_json,
    media_to_json, normalise, transition_problems, unique_media_id,
)

KEY = "latent_studio"  # our metadata namespace, as OTIO adapters namespace theirs
FADE_SCHEMA = "SMPTE_Dissolve"  # fades are dissolves to or from black in OTIO's vocabulary


@dataclass(frozen=True)
class ImportResult:
    timeline: Timeline
    unrepresented: tuple[str, ...] = ()
    missing_media: tuple[str, ...] = ()  # media ids whose file was not found


def _otio():
    import opentimelineio

    return opentimelineio


def _time(otio, frames: int, rate: Rate):
    return otio.opentime.RationalTime(frames, rate.fps)


def _range(otio, start: int, duration: int, rate: Rate):
    return otio.opentime.TimeRange(_time(otio, start, rate), _time(otio, duration, rate))


def media_url(path: str, relative_to: Path | None) -> str:
    """A relative URL for media inside `relative_to` (the project folder), a file:// URL otherwise."""
    target = Path(path)
    if relative_to is not None:
        try:
            return quote(target.resolve().relative_to(relative_to.resolve()).as_posix())
        except ValueError:
            pass
    return target.resolve().as_uri()


def path_from_url(url: str, base: Path | None) -> str | None:
    """A local path for an OTIO target_url (None for a web URL we won't fetch)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter is a Windows drive, not a scheme
        return None
    path = Path(unquote(url))
    return str(path if path.is_absolute() or base is None else base / path)


# --- export ---------------------------------------------------------------------------------------


def to_otio(timeline: Timeline, relative_to: Path | None = None):
    """An opentimelineio Timeline for `timeline`; media URLs relative to `relative_to` where inside."""
    otio = _otio()
    rate = timeline.rate
    media = timeline.media_by_id()
    table = [media_to_json(ref) | {"path": media_url(ref.path, relative_to)} for ref in timeline.media]
    result = otio.schema.Timeline(name=timeline.name, global_start_time=_time(otio, 0, rate))
    result.metadata[KEY] = {"rate": [rate.num, rate.den], "width": timeline.width, "height": timeline.height,
                            "sample_rate": timeline.sample_rate, "media": table}
    for index, track in enumerate(timeline.tracks):
        kind = otio.schema.TrackKind.Video if track.kind == "video" else otio.schema.TrackKind.Audio
        out = otio.schema.Track(name=track.name, kind=kind)
        for item in track.items:
            out.append(_item_to_otio(otio, item, rate, media, relative_to))
        result.tracks.append(out)
    for marker in timeline.markers:
        result.tracks.markers.append(otio.schema.Marker(
            name=marker.name, marked_range=_range(otio, marker.frame, marker.duration, rate), color=marker.color))
    return result


def _item_to_otio(otio, item, rate: Rate, media: dict[str, MediaRef], relative_to: Path | None):
    if isinstance(item, Gap):
        return otio.schema.Gap(source_range=_range(otio, 0, item.duration, rate))
    if isinstance(item, Transition):
        transition = otio.schema.Transition(
            name=item.kind, transition_type=FADE_SCHEMA, in_offset=_time(otio, item.in_offset, rate),
            out_offset=_time(otio, item.out_offset, rate))
        transition.metadata[KEY] = {"kind": item.kind}
        return transition
    ref = media.get(item.media)
    reference = otio.schema.ExternalReference(target_url=media_url(ref.path, relative_to) if ref else "")
    length = ref.length_at(rate) if ref else None
    if length is not None:
        reference.available_range = _range(otio, 0, length, rate)
    clip = otio.schema.Clip(name=item.name or item.media, media_reference=reference,
                            source_range=_range(otio, item.source_in, item.duration, rate))
    clip.metadata[KEY] = {"media": item.media, "gain": item.gain,
                          "request": json.loads(item.request) if item.request else None}
    return clip


def write_otio_text(timeline: Timeline, relative_to: Path | None = None) -> str:
    return _otio().adapters.write_to_string(to_otio(timeline, relative_to), "otio_json")


# --- import ---------------------------------------------------------------------------------------


def read_otio_text(text: str, base: Path | None, probe: Callable[[str, str], MediaRef] | None = None) -> ImportResult:
    """Parse otio_json text; `base` resolves relative media URLs, `probe(path, id)` describes
    media that the file itself does not (a timeline from another program)."""
    otio = _otio()
    try:
        source = otio.adapters.read_from_string(text, "otio_json")
    except Exception as exc:  # OTIO raises its own exception types for every kind of bad JSON
        raise BadInput(f"the timeline is not valid OpenTimelineIO JSON ({exc}).") from exc
    if not isinstance(source, otio.schema.Timeline):
        raise BadInput(f"the file holds an OTIO {type(source).__name__}, not a timeline.")
    return _Importer(otio, source, base, probe).run()


class _Importer:
    """One import: collects media and the report while it walks the OTIO tree."""

    def __init__(self, otio, source, base: Path | None, probe):
        self.otio = otio
        self.source = source
        self.base = base
        self.probe = probe
        self.notes: list[str] = []
        self.missing: list[str] = []
        ours = _plain(source.metadata.get(KEY, {}))
        self.ours = ours if isinstance(ours, dict) else {}
        self.rate = Rate(*self.ours["rate"]) if "rate" in self.ours else self._guess_rate()
        self.media: dict[str, MediaRef] = {}
        self.by_url: dict[str, str] = {}
        self._rounded = False
        for number, entry in enumerate(self.ours.get("media", [])):
            try:
                ref = media_from_json(entry)
            except (TypeError, ValueError, KeyError, BadInput):
                self.note(f"media entry {number} in the timeline's metadata is malformed and was ignored")
                continue
            path = path_from_url(ref.path, base)
            if path is None or not Path(path).exists():
                self.missing.append(ref.id)
            self.media[ref.id] = dataclasses.replace(ref, path=path or ref.path)

    def run(self) -> ImportResult:
        otio = self.otio
        tracks: list[Track] = []
        markers = [self._marker(m, 0, "the timeline") for m in self.source.tracks.markers]
        if self.source.tracks.effects:
            self.note(f"the timeline's effects ({self._names(self.source.tracks.effects)}) are not applied")
        for index, child in enumerate(self.source.tracks):
            where = f"track {index + 1} ({child.name or 'unnamed'})"
            if not isinstance(child, otio.schema.Track):
                self.note(f"{where} is a nested {type(child).__name__}, not a track, and was left out")
                continue
            if child.kind not in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio):
                self.note(f"{where} is a {child.kind} track, which has no place here, and was left out")
                continue
            if child.effects:
                self.note(f"{where}: its effects ({self._names(child.effects)}) are not applied")
            markers += [self._marker(m, 0, where) for m in child.markers]
            kind = "video" if child.kind == otio.schema.TrackKind.Video else "audio"
            items = normalise(list(self._items(child, where, markers)), keep_trailing_gap=True)
            tracks.append(Track(kind, items, name=child.name))
        timeline = Timeline(
            rate=self.rate, width=int(self.ours.get("width", 1920)), height=int(self.ours.get("height", 1080)),
            sample_rate=int(self.ours.get("sample_rate", 48000)), name=self.source.name or "",
            tracks=tuple(tracks), markers=tuple(sorted(markers, key=lambda m: (m.frame, m.name))),
            media=tuple(self.media.values()))
        timeline = self._drop_impossible_transitions(timeline)
        return ImportResult(timeline, tuple(self.notes), tuple(self.missing))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def _guess_rate(self) -> Rate:
        for item in self.source.find_children():
            if getattr(item, "source_range", None) is not None:
                return Rate.from_float(item.source_range.duration.rate)
        return Rate(24)

    def _frames(self, time) -> int:
        value = time.rescaled_to(self.rate.fps).value
        frames = round(value)
        if abs(value - frames) > 1e-3 and not self._rounded:
            self._rounded = True
            self.note(f"some times fall between frames at {self.rate} fps and were rounded to the nearest frame")
        return frames

    def _names(self, effects) -> str:
        return ", ".join(_effect_label(e) for e in effects)

    def _marker(self, marker, offset: int, where: str) -> Marker:
        return Marker(frame=offset + self._frames(marker.marked_range.start_time), name=marker.name,
                      color=str(marker.color), duration=self._frames(marker.marked_range.duration))

    def _items(self, track, where: str, markers: list[Marker]) -> tuple:
        otio = self.otio
        items: list = []
        frame = 0
        for index, child in enumerate(track):
            label = f"{where} item {index} ({child.name or type(child).__name__})"
            if isinstance(child, otio.schema.Transition):
                items.append(self._transition(child, label))
                continue
            duration = self._frames(child.duration())
            if isinstance(child, otio.schema.Gap):
                items.append(Gap(duration))
            elif isinstance(child, otio.schema.Clip):
                items.append(self._clip(child, label, duration))
                markers += [self._marker(m, frame - self._frames(child.trimmed_range().start_time), label)
                            for m in child.markers]
                if child.markers:
                    self.note(f"{label}: its markers were moved to the timeline")
            else:
                kind = type(child).__name__
                size = f" of {len(child)} children" if hasattr(child, "__len__") else ""
                self.note(f"{label}: a nested {kind}{size} cannot be represented and became a gap of {duration} frames")
                items.append(Gap(duration))
            frame += duration
        return tuple(items)

    def _transition(self, child, label: str):
        ours = _plain(child.metadata.get(KEY, {}))
        kind = ours.get("kind") if isinstance(ours, dict) else None
        if kind is None:
            if child.transition_type != FADE_SCHEMA:
                self.note(f"{label}: a {child.transition_type} transition became a crossfade")
            kind = "crossfade"
        return Transition(kind, self._frames(child.in_offset), self._frames(child.out_offset))

    def _clip(self, child, label: str, duration: int):
        otio = self.otio
        ours = _plain(child.metadata.get(KEY, {}))
        ours = ours if isinstance(ours, dict) else {}
        for effect in child.effects:
            kind = "time warp" if isinstance(effect, otio.schema.TimeEffect) else "effect"
            self.note(f"{label}: its {kind} {_effect_label(effect)} is not applied")
        reference = child.media_reference
        if not isinstance(reference, otio.schema.ExternalReference):
            self.note(f"{label}: its {type(reference).__name__} media cannot be played and became a gap")
            return Gap(duration)
        media_id = ours.get("media") if ours.get("media") in self.media else self._foreign_media(reference, label)
        if media_id is None:
            return Gap(duration)
        start = self._frames(child.trimmed_range().start_time)
        available = reference.available_range
        if available is not None and "media" not in ours:
            start -= self._frames(available.start_time)  # sources that start at a timecode
        return Clip(media_id, start, duration, name=child.name if child.name != media_id else "",
                    gain=float(ours.get("gain", 1.0)), request=canonical_request(ours.get("request")))

    def _foreign_media(self, reference, label: str) -> str | None:
        url = reference.target_url
        if url in self.by_url:
            return self.by_url[url]
        path = path_from_url(url, self.base)
        if path is None:
            self.note(f"{label}: its media is at {url}, which is not a local file, and became a gap")
            return None
        media_id = unique_media_id(Path(path).stem, self.media)
        if Path(path).exists() and self.probe is not None:
            ref = self.probe(path, media_id)
        else:
            self.missing.append(media_id)
            available = reference.available_range
            rate = Rate.from_float(available.duration.rate) if available else self.rate
            ref = MediaRef(media_id, path, "video", frames=round(available.duration.value) if available else None,
                           rate=rate)
        self.media[media_id] = ref
        self.by_url[url] = media_id
        return media_id

    def _drop_impossible_transitions(self, timeline: Timeline) -> Timeline:
        media = timeline.media_by_id()
        tracks = []
        for index, track in enumerate(timeline.tracks):
            items = list(track.items)
            position = 0
            while position < len(items):
                if isinstance(items[position], Transition):
                    where = f"{timeline.track_label(index)} item {position}"
                    problems = transition_problems(timeline, tuple(items), position, where, media)
                    if problems:
                        self.note(f"{problems[0]}; the transition was left out")
                        del items[position]
                        continue
                position += 1
            tracks.append(dataclasses.replace(track, items=tuple(items)))
        return dataclasses.replace(timeline, tracks=tuple(tracks))


def _effect_label(effect) -> str:
    kind = effect.effect_name or type(effect).__name__
    return f"{kind} {effect.name!r}" if effect.name else kind


def _plain(value: Any) -> Any:
    """OTIO's AnyDictionary / AnyVector as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [_plain(v) for v in value]
    return value

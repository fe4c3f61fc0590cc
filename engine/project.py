"""A project on disk: a folder with `project.json`, `media/`, `timeline.otio` and its undo history.

    project.json   schema version, settings (rate, size, sample rate) and the media table
    media/         copies of imported media (a linked outside file stays where it is)
    timeline.otio  the timeline, plain OpenTimelineIO that other editors open
    history.json   undo/redo steps, so undo works across runs of the command line
    autosave.json  unsaved work; present only between an autosave and the next save

Every file is written atomically (engine.atomic), project.json first, so a crash mid-save
leaves at worst media the timeline doesn't use yet. Opening reads a project written by anyone:
a field of the wrong type, a media path that escapes the folder or a missing media file is
reported (`Project.problems`, a sentence naming the field) and the rest opens; the bad
entry is kept as it was and written back on save, so nothing is lost. Only a project.json
that is not a JSON object at all refuses to open.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any, Callable

from engine.atomic import write_new, write_text_atomic
from engine.errors import BadInput
from engine.timeline.history import History
from engine.timeline.model import (
    MEDIA_KINDS, MediaRef, Rate, Timeline, find_problems, new_timeline, timeline_from_json, timeline_to_json,
    unique_media_id,
)
from engine.timeline.otio import read_otio_text, write_otio_text

SCHEMA = 2
PROJECT_FILE = "project.json"
TIMELINE_FILE = "timeline.otio"
HISTORY_FILE = "history.json"
AUTOSAVE_FILE = "autosave.json"
MEDIA_DIR = "media"
MIN_SIZE, MAX_SIZE = 16, 8192
MAX_FILE_BYTES = 256 * 2**20  # a project file this big is damaged or hostile, not a long edit
_MEDIA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ProjectError(BadInput):
    """A project that cannot be opened or saved as asked; the files on disk are left as they are."""


@dataclasses.dataclass(frozen=True)
class Settings:
    rate: Rate = Rate(24)
    width: int = 1280
    height: int = 720
    sample_rate: int = 48000


# --- migrations: schema n -> n + 1, applied in order on open (the file is rewritten only on save) -------


def _from_schema_1(data: dict, folder: Path) -> dict:
    """Schema 1 (the first projects) kept `fps` as a float, `size` as [w, h] and media as a list
    of {"id", "file"}; schema 2 has exact rates, settings in one place and probed media."""
    width, height = data.get("size", [1280, 720])
    media = {}
    for entry in data.get("media", []):
        path = entry.get("file", "")
        suffix = Path(path).suffix.lower()
        kind = "image" if suffix in (".png", ".jpg", ".jpeg", ".webp") else "audio" if suffix in (
            ".wav", ".mp3", ".flac", ".ogg") else "video"
        media[entry.get("id", Path(path).stem)] = {"path": path, "linked": Path(path).is_absolute(), "kind": kind}
    rate = Rate.from_float(float(data.get("fps", 24)))
    return {"schema": 2, "settings": {"rate": [rate.num, rate.den], "width": width, "height": height,
                                      "sample_rate": 48000}, "media": media}


MIGRATIONS: dict[int, Callable[[dict, Path], dict]] = {1: _from_schema_1}


# --- reading fields written by anyone ------------------------------------------------------------


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProjectError(f"{PROJECT_FILE}: {field} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _read_rate(value: Any, field: str) -> Rate:
    if not (isinstance(value, list) and len(value) == 2):
        raise ProjectError(f"{PROJECT_FILE}: {field} must be [numerator, denominator], got {value!r}")
    return Rate(_whole(value[0], f"{field}[0]", 1, 1_000_000), _whole(value[1], f"{field}[1]", 1, 1_000_000))


class Project:
    """An open project: its folder, settings, media table and the timeline with its history."""

    def __init__(self, folder: Path, settings: Settings, history: History, problems: list[str],
                 quarantined: dict[str, Any], recovered: bool = False):
        self.folder = folder
        self.settings = settings
        self.history = history
        self.problems = problems
        self.recovered = recovered  # opened from the autosave: the last session did not save
        self._quarantined = quarantined  # media entries that failed checks, kept as written

    @property
    def timeline(self) -> Timeline:
        return self.history.timeline

    # -- creating and opening

    @classmethod
    def create(cls, folder: str | Path, rate: Rate = Rate(24), width: int = 1280, height: int = 720) -> "Project":
        folder = Path(folder).resolve()
        if (folder / PROJECT_FILE).exists():
            raise ProjectError(f"{folder} already holds a project; open it, or choose another folder.")
        if folder.exists() and not folder.is_dir():
            raise ProjectError(f"{folder} is a file; a project needs a folder.")
        for field, value in (("width", width), ("height", height)):
            _whole(value, f"settings.{field}", MIN_SIZE, MAX_SIZE)
        settings = Settings(rate, width, height)
        (folder / MEDIA_DIR).mkdir(parents=True, exist_ok=True)
        project = cls(folder, settings, History(new_timeline(rate, width, height, name=folder.name)), [], {})
        project.save()
        return project

    @classmethod
    def open(cls, folder: str | Path) -> "Project":
        folder = Path(folder).resolve()
        path = folder / PROJECT_FILE
        if not path.is_file():
            raise ProjectError(f"{folder} is not a project folder (it has no {PROJECT_FILE}).")
        data = _read_json(path)
        problems: list[str] = []
        data = _migrate(data, folder)
        settings = _read_settings(data.get("settings"), problems)
        media, quarantined = _read_media_table(data.get("media", {}), folder, problems)
        timeline, history, recovered = _read_timeline(folder, settings, media, problems)
        return cls(folder, settings, history or History(timeline), problems, quarantined, recovered)

    # -- media

    def add_media(self, source: str | Path, link: bool = False,
                  check: Callable[[MediaRef], None] | None = None) -> MediaRef:
        """Probe `source` and give it an id; copied into media/ unless `link` keeps it where it is
        (a generated clip's preview with its master, tail latents and sidecar: engine.clips.files.copy_clip).

        Returns the MediaRef; the caller adds it with the AddMedia command, so undo covers it.
        `check(ref)` runs before anything is copied (a dry run of the edit that will use it), so
        an edit that is refused leaves no orphan copy behind.
        """
        from engine.clips.files import copy_clip, is_clip_preview
        from engine.timeline.media import probe

        source = Path(source).resolve()
        media_id = unique_media_id(re.sub(r"[^A-Za-z0-9._-]", "_", source.stem)[:60].lstrip("._-"),
                                   self.timeline.media_by_id().keys() | self._quarantined.keys())
        ref = probe(source, media_id)  # refuse what can't be read before copying anything
        if check is not None:
            check(ref)
        if link or _inside(source, self.folder):
            return ref
        media = self.folder / MEDIA_DIR
        if is_clip_preview(source):  # a generated clip: its master, latents and sidecar go along, to continue it
            copied = copy_clip(source, media)
        else:
            copied = write_new(media / source.name, lambda tmp: shutil.copyfile(source, tmp))
        return dataclasses.replace(ref, path=str(copied))

    # -- saving

    def save(self) -> None:
        """Write project.json, timeline.otio and history.json (each atomically); drop the autosave."""
        timeline = self.timeline
        write_text_atomic(self.folder / PROJECT_FILE, json.dumps(self._project_json(), indent=2))
        write_text_atomic(self.folder / TIMELINE_FILE, write_otio_text(timeline, relative_to=self.folder))
        write_text_atomic(self.folder / HISTORY_FILE, json.dumps(self._history_json()))
        (self.folder / AUTOSAVE_FILE).unlink(missing_ok=True)
        self.recovered = False

    def autosave(self) -> None:
        """Keep unsaved work in autosave.json; the next open picks it up if no save came after."""
        timeline = timeline_to_json(self.timeline) | {"media": []}  # the media table goes as project.json has it
        data = {"schema": SCHEMA, "timeline": timeline, "media": self._media_json(),
                "history": self.history.to_json()}
        write_text_atomic(self.folder / AUTOSAVE_FILE, json.dumps(data))

    def _project_json(self) -> dict:
        s = self.settings
        return {"schema": SCHEMA, "settings": {"rate": [s.rate.num, s.rate.den], "width": s.width,
                                               "height": s.height, "sample_rate": s.sample_rate},
                "media": self._media_json()}

    def _media_json(self) -> dict:
        media = {ref.id: _media_entry(ref, self.folder) for ref in self.timeline.media
                 if ref.id not in self._quarantined and ref.path}
        media.update(self._quarantined)
        return media

    def _history_json(self) -> dict:
        return self.history.to_json()  # absolute paths inside: undo belongs to this machine, as in any editor


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _media_entry(ref: MediaRef, folder: Path) -> dict:
    data = {k: v for k, v in dataclasses.asdict(ref).items() if k not in ("id", "path")}
    data["rate"] = [ref.rate.num, ref.rate.den] if ref.rate else None
    if ref.path and _inside(Path(ref.path), folder):
        data.update(path=Path(ref.path).resolve().relative_to(folder.resolve()).as_posix(), linked=False)
    else:
        data.update(path=ref.path, linked=True)
    return data


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ProjectError(f"{path.name} is {path.stat().st_size // 2**20} MB, far more than a project needs; "
                           "it is damaged or not a project file.")
    return path.read_text(encoding="utf-8")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(_read_text(path))
    except RecursionError:
        raise ProjectError(f"{path.name} is nested too deeply to be a project file; it is damaged.") from None
    except UnicodeDecodeError:
        raise ProjectError(f"{path.name} is not text; it is damaged. The folder was left as it is.") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                           "the folder was left as it is.") from None
    except OSError as exc:
        raise ProjectError(f"could not read {path}: {exc.strerror or exc}.") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path.name} holds a JSON {type(data).__name__}, not an object; it is damaged.")
    return data


def _migrate(data: dict, folder: Path) -> dict:
    version = data.get("schema")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ProjectError(f"{PROJECT_FILE}: schema must be a whole number from 1, got {version!r}")
    if version > SCHEMA:
        raise ProjectError(f"{PROJECT_FILE} has schema {version}, from a newer Latent Studio; update to open it.")
    while version < SCHEMA:
        data = MIGRATIONS[version](data, folder)
        version = data["schema"]
    return data


def _read_settings(value: Any, problems: list[str]) -> Settings:
    """Settings with each bad field replaced by its default and reported."""
    if not isinstance(value, dict):
        problems.append(f"{PROJECT_FILE}: settings must be an object, got {value!r}; defaults were used")
        return Settings()
    defaults = Settings()
    fields = {}
    readers = {"rate": lambda v: _read_rate(v, "settings.rate"),
               "width": lambda v: _whole(v, "settings.width", MIN_SIZE, MAX_SIZE),
               "height": lambda v: _whole(v, "settings.height", MIN_SIZE, MAX_SIZE),
               "sample_rate": lambda v: _whole(v, "settings.sample_rate", 8000, 192000)}
    for name, reader in readers.items():
        try:
            fields[name] = reader(value.get(name, getattr(defaults, name)))
        except BadInput as exc:
            problems.append(f"{exc}; {getattr(defaults, name)} was used")
    return dataclasses.replace(defaults, **fields)


def _read_media_table(value: Any, folder: Path, problems: list[str]) -> tuple[dict[str, MediaRef], dict]:
    if not isinstance(value, dict):
        problems.append(f"{PROJECT_FILE}: media must be an object of id -> entry, got {type(value).__name__}; "
                        "no media was loaded")
        return {}, {}
    media, quarantined = {}, {}
    for media_id, entry in value.items():
        try:
            media[media_id] = _read_media_entry(media_id, entry, folder)
        except ProjectError as exc:
            problems.append(str(exc))
            quarantined[media_id] = entry
            continue
        if not Path(media[media_id].path).is_file():
            problems.append(f"{PROJECT_FILE}: media.{media_id}.path: {entry['path']} is missing; "
                            "put the file back or link it again")
    return media, quarantined


def _read_media_entry(media_id: str, entry: Any, folder: Path) -> MediaRef:
    where = f"{PROJECT_FILE}: media.{media_id}"
    if not _MEDIA_ID.match(str(media_id)):
        raise ProjectError(f"{where}: a media id is up to 64 letters, digits, '.', '_' or '-'")
    if not isinstance(entry, dict):
        raise ProjectError(f"{where} must be an object, got {type(entry).__name__}")
    path, linked, kind = entry.get("path"), entry.get("linked", False), entry.get("kind")
    if not isinstance(path, str) or not path:
        raise ProjectError(f"{where}.path must be a file path, got {path!r}")
    if not isinstance(linked, bool):
        raise ProjectError(f"{where}.linked must be true or false, got {linked!r}")
    if kind not in MEDIA_KINDS:
        raise ProjectError(f"{where}.kind must be one of {', '.join(MEDIA_KINDS)}, got {kind!r}")
    if linked:
        if not Path(path).is_absolute():
            raise ProjectError(f"{where}.path: a linked file is named by its absolute path, got {path!r}")
        resolved = Path(path)
    else:
        resolved = (folder / path).resolve()
        if Path(path).is_absolute() or not _inside(resolved, folder):
            raise ProjectError(f"{where}.path {path!r} points outside the project folder; only a file the user "
                               "linked may live outside it (set linked: true after checking it)")
    fields = {}
    for name, low, high in (("frames", 1, 10**9), ("width", 1, 65536), ("height", 1, 65536),
                            ("sample_rate", 1, 768000)):
        if entry.get(name) is not None:
            fields[name] = _whole(entry[name], f"media.{media_id}.{name}", low, high)
    if entry.get("rate") is not None:
        fields["rate"] = _read_rate(entry["rate"], f"media.{media_id}.rate")
    has_audio = entry.get("has_audio", kind == "audio")
    if not isinstance(has_audio, bool):
        raise ProjectError(f"{where}.has_audio must be true or false, got {has_audio!r}")
    if kind != "image" and ("frames" not in fields or "rate" not in fields):
        fields.update(_probe_fields(resolved, media_id))  # a migrated entry: ask the file itself
    return MediaRef(media_id, str(resolved), kind, has_audio=has_audio, **fields)


def _probe_fields(path: Path, media_id: str) -> dict:
    from engine.timeline.media import probe

    if not path.is_file():
        raise ProjectError(f"{PROJECT_FILE}: media.{media_id} has no length recorded and {path} is missing")
    ref = probe(path, media_id)
    return {"frames": ref.frames, "rate": ref.rate, "width": ref.width, "height": ref.height,
            "sample_rate": ref.sample_rate}


def _read_timeline(folder: Path, settings: Settings, media: dict[str, MediaRef],
                   problems: list[str]) -> tuple[Timeline, History | None, bool]:
    """The saved timeline, or the autosave when the last session ended without saving."""
    autosave = folder / AUTOSAVE_FILE
    if autosave.exists():
        try:
            data = _read_json(autosave)
            saved_media, _quarantined = _read_media_table(data["media"], folder, [])
            timeline = _conform(timeline_from_json(data["timeline"]), settings, media | saved_media)
            history = History.from_json(timeline, data.get("history", {}))
            return timeline, history, True
        except (BadInput, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{AUTOSAVE_FILE} is damaged ({exc}) and was not used; it is left in the folder")
    path = folder / TIMELINE_FILE
    if not path.exists():
        problems.append(f"{TIMELINE_FILE} is missing; the project opens with an empty timeline")
        return _conform(new_timeline(settings.rate, settings.width, settings.height), settings, media), None, False
    try:
        result = read_otio_text(_read_text(path), base=folder)
    except (BadInput, UnicodeDecodeError) as exc:
        raise ProjectError(f"{TIMELINE_FILE} is damaged: {exc} The folder was left as it is.") from None
    problems += [f"{TIMELINE_FILE}: {note}" for note in result.unrepresented]
    timeline = _conform(result.timeline, settings, media)
    problems += [f"{TIMELINE_FILE}: {problem}" for problem in find_problems(timeline)]
    history = None
    if (folder / HISTORY_FILE).exists():
        try:
            history = History.from_json(timeline, _read_json(folder / HISTORY_FILE))
        except (BadInput, KeyError, TypeError, ValueError):
            problems.append(f"{HISTORY_FILE} is damaged; undo starts afresh from the saved timeline")
    return timeline, history, False


def _conform(timeline: Timeline, settings: Settings, media: dict[str, MediaRef]) -> Timeline:
    """The project's settings and checked media table over whatever the timeline file said.

    A clip whose media entry was quarantined keeps its place with a placeholder entry (no
    path), so the timeline stays whole and the renderer says which media is unavailable.
    """
    table = dict(media)
    for track in timeline.tracks:
        for item in track.items:
            if hasattr(item, "media") and item.media not in table:
                table[item.media] = MediaRef(item.media, "", track.kind, has_audio=track.kind == "audio")
    return dataclasses.replace(timeline, rate=settings.rate, width=settings.width, height=settings.height,
                               sample_rate=settings.sample_rate, media=tuple(table.values()))

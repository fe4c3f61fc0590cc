"""The `latent-studio` subcommands for projects, the timeline, export and OTIO interchange.

    project new DIR [--fps F] [--size WxH]
    timeline add|insert PROJECT MEDIA [--duration N] [--in F] [--out F] [--track T] [--at F] [--link]
    timeline move|trim|split|delete|slip|crossfade|marker|undo|redo|show PROJECT ...
    export PROJECT --format mp4|webm|gif|prores|png -o OUT [--size WxH] [--fps F]
    otio export PROJECT -o FILE.otio;  otio import FILE.otio DIR

Each edit opens the project, applies one command through its history (so `timeline undo`
works across runs), saves, and prints the timeline as `timeline show` does. engine.cli
registers these; errors take its way out (one line on stderr, {"error", "kind"} with --json).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from engine.errors import BadInput


def _parse_size(text: str) -> tuple[int, int]:
    from engine.cli import parse_pair

    return parse_pair(text, "size", "1280x720 (WIDTHxHEIGHT)", "pixels")


def add_parsers(sub) -> None:
    """Add the project, timeline, export and otio subcommands to engine.cli's subparsers."""
    from engine.cli import _add_json as add_json  # engine.cli is loaded: it is calling us
    project = sub.add_parser("project", help="create a project folder")
    project_sub = project.add_subparsers(dest="project_command", required=True)
    new = project_sub.add_parser("new", help="a new project folder with an empty timeline")
    new.add_argument("dir")
    new.add_argument("--fps", default="24", help="frame rate: 24, 25, 30, 60, 23.976 or 24000/1001 (default 24)")
    new.add_argument("--size", type=_parse_size, default=(1280, 720), metavar="WxH")
    add_json(new)

    timeline = sub.add_parser("timeline", help="edit a project's timeline (every edit can be undone)")
    edits = timeline.add_subparsers(dest="timeline_command", required=True)

    def edit(name: str, help_text: str, item: bool = True) -> argparse.ArgumentParser:
        parser = edits.add_parser(name, help=help_text)
        parser.add_argument("project")
        if item:
            parser.add_argument("--track", default="V1", help="V1, V2, ... A1, ... (default V1)")
            parser.add_argument("--item", type=int, required=True, help="item index on the track, as `show` lists")
        add_json(parser)
        return parser

    for name, help_text in (("add", "append media to a track"), ("insert", "insert media at a frame (ripple)")):
        parser = edits.add_parser(name, help=help_text)
        parser.add_argument("project")
        parser.add_argument("media", help="a video, audio or image file; copied into the project unless --link")
        parser.add_argument("--track", default=None, help="V1, A1, ... (default: the first of the media's kind; "
                            "the next number makes a new track)")
        parser.add_argument("--duration", type=int, default=None, help="frames (a still's length; default 5 s)")
        parser.add_argument("--in", dest="source_in", type=int, default=0, help="first source frame (default 0)")
        parser.add_argument("--out", dest="source_out", type=int, default=None, help="source frame to end before")
        parser.add_argument("--link", action="store_true", help="use the file where it is instead of copying it")
        parser.add_argument("--gain", type=float, default=1.0, help="linear gain of its sound (0 mutes; default 1)")
        if name == "insert":
            parser.add_argument("--at", type=int, required=True, help="timeline frame")
        add_json(parser)
    move = edit("move", "move a clip to another frame or track (overwrites what is there)")
    move.add_argument("--to", type=int, required=True, help="timeline frame")
    move.add_argument("--to-track", default=None)
    trim = edit("trim", "move a clip's in or out edge")
    trim.add_argument("--edge", choices=("in", "out"), required=True)
    trim.add_argument("--by", type=int, required=True, help="frames, positive = later")
    trim.add_argument("--ripple", action="store_true", help="move what follows with the edge")
    split = edit("split", "cut the item under a frame in two", item=False)
    split.add_argument("--track", default="V1")
    split.add_argument("--at", type=int, required=True)
    delete = edit("delete", "remove an item, leaving a gap (--ripple closes it)")
    delete.add_argument("--ripple", action="store_true")
    slip = edit("slip", "show other frames of a clip's media in the same place")
    slip.add_argument("--by", type=int, required=True)
    fade = edit("crossfade", "a crossfade after a clip, or a fade to/from black")
    fade.add_argument("--frames", type=int, required=True)
    fade.add_argument("--kind", choices=("crossfade", "fade_to_black", "fade_from_black"), default="crossfade")
    marker = edit("marker", "a named marker at a frame", item=False)
    marker.add_argument("--at", type=int, required=True)
    marker.add_argument("--name", default="")
    marker.add_argument("--color", default="RED")
    for name in ("undo", "redo", "show"):
        edit(name, {"undo": "undo the last edit", "redo": "redo the last undone edit",
                    "show": "print the timeline"}[name], item=False)

    export = sub.add_parser("export", help="render the timeline to a video file or PNG sequence")
    export.add_argument("project")
    export.add_argument("--format", choices=("mp4", "webm", "gif", "prores", "png"), default="mp4")
    export.add_argument("-o", "--output", required=True, help="file (or folder, for png) to write")
    export.add_argument("--size", type=_parse_size, default=None, metavar="WxH")
    export.add_argument("--fps", default=None)
    add_json(export)

    otio = sub.add_parser("otio", help="OpenTimelineIO interchange (Kdenlive, Resolve, OTIO tools)")
    otio_sub = otio.add_subparsers(dest="otio_command", required=True)
    out = otio_sub.add_parser("export", help="write the project's timeline as .otio")
    out.add_argument("project")
    out.add_argument("-o", "--output", required=True)
    add_json(out)
    into = otio_sub.add_parser("import", help="make a project from an .otio file")
    into.add_argument("file")
    into.add_argument("dir")
    add_json(into)


# --- output --------------------------------------------------------------------------------------


def timeline_json(project) -> dict:
    from engine.timeline.model import Clip, Transition

    timeline = project.timeline
    tracks = []
    for index, track in enumerate(timeline.tracks):
        items = []
        for number, (start, item) in enumerate(zip(track.starts(), track.items)):
            entry = {"index": number, "start": start}
            if isinstance(item, Clip):
                entry |= {"type": "clip", "media": item.media, "in": item.source_in, "out": item.source_out,
                          "duration": item.duration, "name": item.name, "gain": item.gain}
            elif isinstance(item, Transition):
                entry |= {"type": "transition", "kind": item.kind, "in_offset": item.in_offset,
                          "out_offset": item.out_offset, "duration": 0}
            else:
                entry |= {"type": "gap", "duration": item.duration}
            items.append(entry)
        tracks.append({"label": timeline.track_label(index), "kind": track.kind, "duration": track.duration,
                       "items": items})
    undo, redo = project.history.labels()
    return {"path": str(project.folder), "fps": timeline.rate.fps, "rate": str(timeline.rate),
            "width": timeline.width, "height": timeline.height, "duration": timeline.duration,
            "tracks": tracks, "markers": [{"frame": m.frame, "name": m.name, "color": m.color}
                                          for m in timeline.markers],
            "undo": undo[-1:], "redo": redo[:1], "problems": project.problems}


def _print_timeline(data: dict) -> None:
    print(f"{data['path']}: {data['width']}x{data['height']} at {data['rate']} fps, {data['duration']} frames")
    for track in data["tracks"]:
        print(f"  {track['label']} ({track['kind']}, {track['duration']} frames)")
        for item in track["items"]:
            detail = {"clip": lambda i: f"{i['media']} [{i['in']}, {i['out']})",
                      "gap": lambda i: "gap",
                      "transition": lambda i: f"{i['kind']} -{i['in_offset']}/+{i['out_offset']}"}[item["type"]](item)
            print(f"    {item['index']:3d}  @{item['start']:<6d} {item['duration']:6d}  {detail}")
    for problem in data["problems"]:
        print(f"  ! {problem}", file=sys.stderr)


# --- commands ------------------------------------------------------------------------------------


def cmd_project(args) -> dict:
    from engine.project import Project
    from engine.timeline.model import Rate

    width, height = args.size
    project = Project.create(args.dir, Rate.parse(args.fps), width, height)
    if not args.json:
        print(f"Created {project.folder} ({width}x{height} at {project.settings.rate} fps)")
    return timeline_json(project)


def cmd_timeline(args) -> dict:
    from engine.project import Project

    project = Project.open(args.project)
    action = args.timeline_command
    if action == "undo":
        project.history.undo()
    elif action == "redo":
        project.history.redo()
    elif action != "show":
        project.history.apply(_command(project, args))
    if action != "show":
        project.save()
    data = timeline_json(project)
    if not args.json:
        _print_timeline(data)
    return data


def _command(project, args):
    from engine.timeline import commands as c
    from engine.timeline.model import Marker

    timeline = project.timeline
    action = args.timeline_command
    if action in ("add", "insert"):
        return _media_command(project, args)
    if action == "marker":
        return c.AddMarker(Marker(args.at, args.name, args.color.upper()))
    track = timeline.track_index(args.track)
    if action == "split":
        return c.Split(track, args.at)
    if action == "move":
        to_track = timeline.track_index(args.to_track) if args.to_track else None
        return c.Move(track, args.item, args.to, to_track)
    if action == "trim":
        return c.Trim(track, args.item, args.edge, args.by, ripple=args.ripple)
    if action == "delete":
        return (c.RippleDelete if args.ripple else c.Lift)(track, args.item)
    if action == "slip":
        return c.Slip(track, args.item, args.by)
    if action == "crossfade":
        return c.AddTransition(track, args.item, args.kind, args.frames)
    raise AssertionError(f"unhandled timeline command {action}")


def _media_command(project, args):
    """Add the media to the table and place a clip of it, as one undo step. The edit is tried
    on the probed file before the file is copied in, so a refused edit copies nothing."""
    timeline = project.timeline
    label = args.track or None
    ref = project.add_media(args.media, link=args.link,
                            check=lambda probed: _place(timeline, probed, label, args).apply(timeline))
    return _place(timeline, ref, label, args)


def _place(timeline, ref, label: str | None, args):
    from engine.timeline import commands as c
    from engine.timeline.model import Clip

    kind = "audio" if ref.kind == "audio" else "video"
    steps: list = [c.AddMedia(ref)]
    label = label or ("A1" if kind == "audio" else "V1")
    labels = timeline.labels()
    if label.upper() in labels:
        track = timeline.track_index(label)
    else:
        wanted_kind = "audio" if label.upper().startswith("A") else "video"
        count = sum(1 for t in timeline.tracks if t.kind == wanted_kind)
        if label.upper() != f"{'A' if wanted_kind == 'audio' else 'V'}{count + 1}":
            raise BadInput(f"there is no track {label}; use one of {', '.join(labels)} or the next new one")
        steps.append(c.AddTrack(wanted_kind))
        track = len(timeline.tracks)
    if args.source_out is not None and args.duration is not None:
        raise BadInput("give --out or --duration, not both")
    if ref.kind == "image":
        duration = args.duration if args.duration is not None else round(5 * timeline.rate.fps)
    elif args.duration is not None:
        duration = args.duration
    else:
        end = ref.length_at(timeline.rate) if args.source_out is None else args.source_out
        duration = end - args.source_in
    clip = Clip(ref.id, 0 if ref.kind == "image" else args.source_in, duration, gain=args.gain)
    steps.append(c.Insert(track, args.at, clip) if args.timeline_command == "insert" else c.Append(track, clip))
    return c.Batch(tuple(steps), name=f"{args.timeline_command} {ref.id}")


def cmd_export(args) -> dict:
    from engine.api import ExportRequest
    from engine.cli import run_job

    width, height = args.size if args.size else (None, None)
    request = ExportRequest(project=str(Path(args.project).resolve()), output=str(Path(args.output).resolve()),
                            format=args.format, width=width, height=height, fps=args.fps)
    result = run_job(request, None, show_progress=not args.json)
    if not args.json:
        print(f"{result.path}: {result.frames} frames, {result.seconds:.2f} s, {result.width}x{result.height}"
              f"{' with sound' if result.audio else ''}")
    return {"path": result.path, "frames": result.frames, "seconds": result.seconds, "format": result.format,
            "width": result.width, "height": result.height, "audio": result.audio}


def cmd_otio(args) -> dict:
    if args.otio_command == "export":
        return _otio_export(args)
    return _otio_import(args)


def _otio_export(args) -> dict:
    from engine.atomic import write_text_new
    from engine.project import Project
    from engine.timeline.otio import write_otio_text

    project = Project.open(args.project)
    target = Path(args.output).resolve()
    path = write_text_new(target, write_otio_text(project.timeline, relative_to=target.parent))
    if not args.json:
        print(path)
    return {"path": str(path), "problems": project.problems}


def _otio_import(args) -> dict:
    from engine.project import Project
    from engine.timeline.history import History
    from engine.timeline.media import probe
    from engine.timeline.otio import read_otio_text

    source = Path(args.file).resolve()
    if not source.is_file():
        raise BadInput(f"{source} does not exist or is not a file.")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{source.name} is not text; an .otio file is JSON.") from None
    result = read_otio_text(text, base=source.parent, probe=lambda path, media_id: probe(path, media_id))
    timeline = result.timeline
    project = Project.create(args.dir, timeline.rate, timeline.width, timeline.height)
    project.history = History(timeline)
    project.save()
    notes = list(result.unrepresented) + [f"media {m} was not found" for m in result.missing_media]
    if not args.json:
        print(f"Created {project.folder} from {source.name}")
        for note in notes:
            print(f"  ! {note}", file=sys.stderr)
    return {"path": str(project.folder), "unrepresented": list(result.unrepresented),
            "missing_media": list(result.missing_media), "duration": timeline.duration}


COMMANDS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "project": cmd_project,
    "timeline": cmd_timeline,
    "export": cmd_export,
    "otio": cmd_otio,
}

"""Export task: render a project's timeline frame by frame and stream it to the encoder.

Runs on the queue's CPU worker (ExportRequest.resource is "cpu"), so an export never waits
behind a generation. Output goes to a hidden temporary file (or folder, for a PNG sequence)
beside the destination; only once ffmpeg has finished and decoding it back gives the
expected frame count does it take its name (engine.atomic.write_new: the wanted name or the
first free NAME-1.EXT). A cancel, a failure or a killed process leaves nothing at the
destination. Progress is frames written out of frames to write.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from engine.api import ExportRequest, ExportResult
from engine.atomic import TEMP_SUFFIX, candidate_names, sweep_stale_temps, write_new
from engine.errors import BadInput
from engine.timeline.audio import has_audio, mix_to_file
from engine.timeline.encode import (
    PNG_PATTERN, Encoder, EncodeFailed, check_format, decoded_frames, even_size, write_error,
)
from engine.timeline.model import Rate, Timeline
from engine.timeline.render import FrameRenderer


def run(request: ExportRequest, context) -> ExportResult:
    from engine.project import MAX_SIZE, Project

    started = time.perf_counter()
    fmt = check_format(request.format)
    timeline = Project.open(request.project).timeline
    width, height = even_size(fmt, request.width or timeline.width, request.height or timeline.height)
    if not (2 <= width <= MAX_SIZE and 2 <= height <= MAX_SIZE):
        raise BadInput(f"an export is 2 to {MAX_SIZE} pixels a side, got {width}x{height}")
    rate = Rate.parse(request.fps) if request.fps else timeline.rate
    frames = rate.frames_in(timeline.rate.seconds(timeline.duration))
    if frames < 1:
        raise BadInput("the timeline is empty; add a clip before exporting.")
    wanted = Path(request.output)
    if fmt.suffix and wanted.suffix.lower() != fmt.suffix:
        wanted = wanted.with_name(wanted.name + fmt.suffix)
    job = _Export(timeline, fmt, width, height, rate, frames, context)
    path = _write_folder(wanted, job.write) if not fmt.suffix else write_new(wanted, job.write)
    return ExportResult(path=str(path), frames=frames, seconds=rate.seconds(frames), format=fmt.name,
                        width=width, height=height, audio=job.with_audio,
                        wall_seconds=time.perf_counter() - started)


class _Export:
    """One export's rendering and encoding, written into whatever temporary path it is given."""

    def __init__(self, timeline: Timeline, fmt, width: int, height: int, rate: Rate, frames: int, context):
        self.timeline, self.fmt, self.width, self.height = timeline, fmt, width, height
        self.rate, self.frames, self.context = rate, frames, context
        self.with_audio = fmt.audio is not None and has_audio(timeline)

    def timeline_frame(self, index: int) -> int:
        """Output frame `index` shows the timeline frame on screen at its time (nearest-frame)."""
        own, out = self.timeline.rate, self.rate
        return (index * out.den * own.num) // (out.num * own.den)

    def write(self, target: Path) -> None:
        try:
            self._write(target)
        except OSError as exc:
            raise write_error(target, exc) from exc

    def _write(self, target: Path) -> None:
        with _sidecar(target, "audio") as audio, _sidecar(target, "palette.png") as palette:
            sound = None
            passes = 2 if self.fmt.name == "gif" else 1
            if self.with_audio:  # exactly as long as the video: frames / rate seconds of samples
                samples = self.frames * self.timeline.sample_rate * self.rate.den // self.rate.num
                mix_to_file(self.timeline, audio, samples, self.context.check_cancelled)
                sound = (audio, self.timeline.sample_rate)
            if passes == 2:  # one palette for the whole export, from a first pass over the frames
                self._encode(Encoder(palette, self.fmt, self.width, self.height, str(self.rate), make_palette=True),
                             done=0, total=2 * self.frames)
            output = target / PNG_PATTERN if not self.fmt.suffix else target
            self._encode(Encoder(output, self.fmt, self.width, self.height, str(self.rate), audio=sound,
                                 palette=palette if passes == 2 else None),
                         done=(passes - 1) * self.frames, total=passes * self.frames)
        found = decoded_frames(target, PNG_PATTERN) if not self.fmt.suffix else decoded_frames(target)
        if found != self.frames:
            raise EncodeFailed(f"the export decodes to {found} frames instead of {self.frames}; it was not kept.")

    def _encode(self, encoder: Encoder, done: int, total: int) -> None:
        with encoder, FrameRenderer(self.timeline, self.width, self.height) as renderer:
            for index in range(self.frames):
                self.context.check_cancelled()
                encoder.write(renderer.render_frame(self.timeline_frame(index)))
                self.context.report(done + index + 1, total)


class _sidecar:
    """A hidden temporary file beside the export (named so engine.atomic sweeps it if we die)."""

    def __init__(self, target: Path, role: str):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.{role}.", suffix=TEMP_SUFFIX, dir=target.parent)
        os.close(fd)
        self.path = Path(name)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _write_folder(wanted: Path, writer) -> Path:
    """`write_new` for a folder: fill a hidden temporary folder, then claim the name.

    The name is claimed by creating it empty (which fails if it exists), then our folder is
    renamed over that empty claim, so an existing folder is never replaced. A cancel or a
    failure removes the temporary folder at once; one a killed export left is swept later.
    """
    try:
        wanted.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(wanted.parent)
        temp = Path(tempfile.mkdtemp(prefix=f".{wanted.name}.", suffix=TEMP_SUFFIX, dir=wanted.parent))
    except OSError as exc:
        raise write_error(wanted, exc) from exc
    try:
        writer(temp)
        for target in candidate_names(wanted):
            try:
                target.mkdir()
            except FileExistsError:
                continue
            # mkdtemp makes it private; an export gets the mode the claimed folder got from a plain
            # mkdir (the user's umask), like any folder they make
            temp.chmod(stat.S_IMODE(target.stat().st_mode))
            os.replace(temp, target)
            return target
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # gone already when it took its name
    raise AssertionError("unreachable: candidate_names never ends")

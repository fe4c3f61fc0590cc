"""Encoding frames into files with ffmpeg: the export formats, which of them work here, the
streaming encoder, and counting frames by decoding.

Frames go to ffmpeg's stdin one at a time as raw RGB, so memory does not grow with length.
ffmpeg's error text is turned into one sentence for the cases a user can fix (a full disk,
a read-only folder, a file-size limit).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import WriteFailed
from engine.errors import BadInput, StudioError
from engine.timeline.media import ffmpeg_exe


class EncodeFailed(StudioError):
    kind = "encode_failed"


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str  # "" for a folder of images
    muxer: str
    video: tuple[str, ...]
    audio: tuple[str, ...] | None  # None: the format carries no sound
    even: bool  # chroma subsampling needs even width and height


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("mp4", ".mp4", "mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "18",
                                  "-movflags", "+faststart"), ("-c:a", "aac", "-b:a", "192k"), True),
    Format("webm", ".webm", "webm", ("-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-deadline", "realtime",
                                     "-cpu-used", "8", "-row-mt", "1", "-crf", "32", "-b:v", "0"),
           ("-c:a", "libopus", "-b:a", "128k", "-ar", "48000"), True),
    Format("prores", ".mov", "mov", ("-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"),
           ("-c:a", "pcm_s16le"), True),
    Format("gif", ".gif", "gif", (), None, False),  # palette filters are added per export (two passes)
    Format("png", "", "image2", ("-c:v", "png"), None, False),
)}
PNG_PATTERN = "frame_%06d.png"


@functools.cache
def available_formats(ffmpeg: str | None = None) -> tuple[str, ...]:
    """The formats whose encoders work with this ffmpeg: each encodes two tiny frames once.

    Cached per ffmpeg binary: which encoders a binary has does not change while we run.
    """
    ffmpeg = ffmpeg or ffmpeg_exe()
    working = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS.values():
            target = Path(folder) / (f"probe{fmt.suffix}" if fmt.suffix else PNG_PATTERN)
            try:
                with Encoder(target, fmt, 16, 16, "8", ffmpeg=ffmpeg) as encoder:
                    for _ in range(2):
                        encoder.write(np.zeros((16, 16, 3), np.uint8))
                working.append(fmt.name)
            except (StudioError, OSError):
                continue  # hidden: this ffmpeg can't make it
    return tuple(working)


def even_size(fmt: Format, width: int, height: int) -> tuple[int, int]:
    return (width - width % 2, height - height % 2) if fmt.even else (width, height)


class Encoder:
    """One ffmpeg process writing `target` from raw RGB frames (and an optional raw audio file)."""

    def __init__(self, target: Path, fmt: Format, width: int, height: int, fps: str,
                 audio: tuple[Path, int] | None = None, palette: Path | None = None, ffmpeg: str | None = None,
                 make_palette: bool = False):
        self.target = Path(target)
        self.frames = 0
        command = [ffmpeg or ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", fps, "-i", "-"]
        if palette is not None:
            command += ["-i", str(palette), "-lavfi", "paletteuse=dither=sierra2_4a"]
        if audio is not None:
            command += ["-f", "f32le", "-ar", str(audio[1]), "-ac", "2", "-i", str(audio[0]),
                        "-map", "0:v:0", "-map", "1:a:0", *fmt.audio]
        if make_palette:
            command += ["-vf", "palettegen=stats_mode=full", "-frames:v", "1", "-update", "1", "-f", "image2"]
        else:
            command += [*fmt.video, "-f", fmt.muxer]
        command.append(str(self.target))
        self._errors: deque[str] = deque(maxlen=40)
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_errors, daemon=True)
        self._reader.start()

    def _read_errors(self) -> None:
        for line in self._process.stderr:
            self._errors.append(line.decode("utf-8", "replace").strip())

    def write(self, frame: np.ndarray) -> None:
        try:
            self._process.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        except (BrokenPipeError, ValueError):
            self._fail()
        self.frames += 1

    def close(self) -> None:
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass
        if self._process.wait() != 0:
            self._fail()
        self._reader.join()

    def abort(self) -> None:
        self._process.kill()
        self._process.wait()
        self._reader.join()

    def _fail(self) -> None:
        self._process.kill()
        self._process.wait()
        self._reader.join()
        raise ffmpeg_error(self.target, "\n".join(self._errors))

    def __enter__(self) -> "Encoder":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


# what a user can do about the ways a write fails, by errno (ffmpeg says os.strerror of the same)
_WRITE_ERRORS = {
    errno.ENOSPC: "The disk holding {folder} is full; free some space and export again.",
    errno.EROFS: "{folder} is on a read-only disk; export to a folder you can write to.",
    errno.EACCES: "This account may not write in {folder}; export to a folder you can write to.",
    errno.EFBIG: "The export grew past the largest file {folder} can hold; export a shorter range or to another disk.",
}


def write_error(target: Path, exc: OSError) -> StudioError:
    """One sentence for an OSError met while writing `target` (the audio mix, a sidecar file)."""
    sentence = _WRITE_ERRORS.get(exc.errno)
    if sentence is None:
        return WriteFailed(f"Could not write {target}: {exc.strerror or exc}. Check free space and permissions.")
    return WriteFailed(sentence.format(folder=Path(target).parent))


def ffmpeg_error(target: Path, text: str) -> StudioError:
    """One sentence for what went wrong writing `target`, from ffmpeg's own words."""
    for code, sentence in _WRITE_ERRORS.items():
        if os.strerror(code) in text:
            return WriteFailed(sentence.format(folder=Path(target).parent))
    last = text.strip().splitlines()[-1] if text.strip() else "no message"
    return EncodeFailed(f"The encoder failed writing {target.name} ({last}).")


_FRAME_COUNT = re.compile(r"frame=\s*(\d+)")


def decoded_frames(path: Path, pattern: str | None = None) -> int:
    """How many video frames `path` decodes to (`pattern` for an image sequence folder)."""
    source = str(path / pattern) if pattern else str(path)
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-stats"]
    if pattern:
        command += ["-f", "image2"]
    result = subprocess.run(command + ["-i", source, "-map", "0:v:0", "-f", "null", "-"],
                            capture_output=True, text=True, errors="replace")
    counts = _FRAME_COUNT.findall(result.stderr)
    if result.returncode != 0 or not counts:
        raise EncodeFailed(f"{Path(path).name} does not decode ({result.stderr.strip()[-200:] or 'no message'}).")
    return int(counts[-1])


def check_format(name: str) -> Format:
    if name not in FORMATS:
        raise BadInput(f"export format must be one of {', '.join(FORMATS)}, got {name!r}")
    if name not in available_formats():
        raise BadInput(f"this ffmpeg cannot write {name}; choose one of {', '.join(available_formats())}")
    return FORMATS[name]

"""Media files on a timeline: probing what a file is, and reading its frames and samples.

Video and audio go through the ffmpeg that imageio-ffmpeg ships (it decodes MP4, WebM, MOV,
WAV, MP3, FLAC, OGG and encodes x264, VP9, ProRes, GIF, AAC and Opus), in a subprocess: a
damaged file can't take the app down, and decoding runs beside Python rather than under its
lock. Stills go through engine.images, the one image loader. Nothing is re-encoded on import.
"""

from __future__ import annotations

import os

import re
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.errors import BadInput
from engine.timeline.model import MediaRef, Rate

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
SEEK_AHEAD_FRAMES = 48  # reading on is cheaper than a new seek for up to about this many frames

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?, (\d{2,5})x(\d{2,5})[ ,].*?(\d+(?:\.\d+)?) (?:fps|tbr)")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: .*?, (\d+) Hz")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: str | Path, media_id: str) -> MediaRef:
    """What `path` is: a still, a video (size, rate, exact frame count, sound?) or audio."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path} does not exist or is not a file.")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from engine.images import load_rgb

        image = load_rgb(path)
        return MediaRef(media_id, str(path), "image", width=image.width, height=image.height)
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, text=True, errors="replace").stderr
    video, audio, duration = _VIDEO.search(info), _AUDIO.search(info), _DURATION.search(info)
    if video is None and audio is None:
        raise BadInput(f"{path.name} is not a video, audio or image file this program can read.")
    sample_rate = int(audio.group(1)) if audio else None
    if video is None:
        seconds = _seconds(duration)
        if seconds is None:
            raise BadInput(f"{path.name} does not say how long it is; convert it to WAV or FLAC first.")
        rate = Rate(sample_rate)
        return MediaRef(media_id, str(path), "audio", frames=rate.frames_in(seconds), rate=rate,
                        sample_rate=sample_rate, has_audio=True)
    frames = _count_frames(path)
    return MediaRef(media_id, str(path), "video", frames=frames, rate=Rate.from_float(float(video.group(3))),
                    width=int(video.group(1)), height=int(video.group(2)), sample_rate=sample_rate,
                    has_audio=audio is not None)


def _seconds(match) -> float | None:
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _count_frames(path: Path) -> int:
    """Frames in the first video stream, counted by decoding (container headers can lie)."""
    import imageio_ffmpeg

    try:
        frames, _seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    except RuntimeError as exc:
        raise BadInput(f"{path.name} could not be decoded ({exc}).") from exc
    if frames < 1:
        raise BadInput(f"{path.name} has no video frames.")
    return frames


def available_path(ref: MediaRef) -> str:
    """The file of `ref`, or BadInput saying it is gone (every reader of media asks this first)."""
    if not ref.path or not Path(ref.path).is_file():
        raise BadInput(f"media {ref.id} is unavailable ({ref.path or 'its project entry is damaged'}); "
                       "relink it or remove its clips.")
    return ref.path


class VideoFrames:
    """Frame-accurate reading of one video file's own frames, cheapest when read in order.

    Keeps one ffmpeg decoder open; a request just ahead reads on, anything else seeks anew
    (ffmpeg's input seek decodes from the key frame before and drops up to the wanted time).
    """

    def __init__(self, ref: MediaRef):
        if ref.kind != "video" or ref.rate is None or ref.frames is None:
            raise BadInput(f"{ref.id} is not a video")
        self.ref = ref
        self._frames: Iterator | None = None
        self._next = 0
        self._last: np.ndarray | None = None

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` (clamped to the file) as HxWx3 uint8."""
        index = max(0, min(index, self.ref.frames - 1))
        if self._last is not None and index == self._next - 1:
            return self._last
        if self._frames is None or not self._next <= index < self._next + SEEK_AHEAD_FRAMES:
            self._open(index)
        while self._next <= index:
            try:
                raw = next(self._frames)
            except StopIteration:
                if self._last is None:
                    raise BadInput(f"{Path(self.ref.path).name} stopped decoding at frame {index}.") from None
                self._next = index + 1  # a file shorter than probed repeats its last frame
                return self._last
            self._last = np.frombuffer(raw, np.uint8).reshape(self.ref.height, self.ref.width, 3)
            self._next += 1
        return self._last

    def _open(self, index: int) -> None:
        import imageio_ffmpeg

        # imageio-ffmpeg starts ffmpeg with preexec_fn=os.setpgrp unless this is set, and a fork
        # running Python in the child can hang for good when other threads spawn at the same time
        # (its issue #58); the studio decodes on several workers at once (player, thumbnails, export).
        os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")
        self.close()
        # half a frame early, so timestamp rounding can't make ffmpeg skip the frame we want
        start = max(0.0, (index - 0.5) * self.ref.rate.den / self.ref.rate.num)
        params = ["-ss", f"{start:.6f}"] if index > 0 else []
        self._frames = imageio_ffmpeg.read_frames(self.ref.path, input_params=params,
                                                  output_params=["-fps_mode", "passthrough",
                                                                 "-s", f"{self.ref.width}x{self.ref.height}"])
        next(self._frames)  # the first item is imageio-ffmpeg's metadata dict
        self._next = index
        self._last = None

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None


def read_audio(path: str, start_seconds: float, seconds: float, sample_rate: int, block: int = 1 << 15):
    """Yield float32 (n, 2) blocks of `path` from `start_seconds` for `seconds`, at `sample_rate`.

    Short by whatever the file lacks (the caller pads); one ffmpeg process per call.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{max(0.0, start_seconds):.6f}",
               "-i", path, "-t", f"{seconds:.6f}", "-vn", "-f", "f32le", "-ac", "2", "-ar", str(sample_rate), "-"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pending = b""
    try:
        while True:
            data = process.stdout.read(block * 8)
            if not data:
                break
            data = pending + data
            usable = len(data) - len(data) % 8  # a sample pair split across reads waits for its rest
            pending = data[usable:]
            if usable:
                yield np.frombuffer(data[:usable], np.float32).reshape(-1, 2)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()

"""Small real media files for tests and benchmarks (the timeline's counterpart of engine.testing).

A numbered video shows its frame number in two big flat halves (left: number // 16, right:
number % 16, in steps of 16 grey levels), so the number survives lossy codecs and any
scaling, and `frame_number` reads it back from a decoded frame.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from engine.timeline.media import ffmpeg_exe

VIDEO_CODECS = {  # container suffix -> ffmpeg encoder arguments
    ".mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-crf", "10"],
    ".webm": ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-deadline", "realtime", "-crf", "10", "-b:v", "0"],
    ".mov": ["-c:v", "prores_ks", "-profile:v", "2"],
}
AUDIO_CODECS = {".wav": ["-c:a", "pcm_s16le"], ".mp3": ["-c:a", "libmp3lame"], ".flac": ["-c:a", "flac"],
                ".ogg": ["-c:a", "libvorbis"]}


def numbered_frame(number: int, width: int, height: int) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:, : width // 2] = 8 + 16 * ((number // 16) % 16)
    frame[:, width // 2:] = 8 + 16 * (number % 16)
    return frame


def frame_number(frame: np.ndarray) -> int:
    """The number a numbered frame shows (read from the middle of each half)."""
    height, width = frame.shape[:2]
    left = frame[height // 4: 3 * height // 4, width // 8: 3 * width // 8].mean()
    right = frame[height // 4: 3 * height // 4, 5 * width // 8: 7 * width // 8].mean()
    return int(round((left - 8) / 16)) * 16 + int(round((right - 8) / 16))


def write_numbered_video(path: str | Path, frames: int, width: int = 64, height: int = 48, fps: str = "8",
                         tone_hz: float | None = None) -> Path:
    """A video of `frames` numbered frames at `fps` (MP4, WebM or MOV by suffix), with a sine tone
    as its sound when `tone_hz` is given."""
    path = Path(path)
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", fps, "-i", "-"]
    if tone_hz is not None:
        command += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000", "-shortest",
                    "-c:a", "libopus" if path.suffix == ".webm" else "aac"]
    command += VIDEO_CODECS[path.suffix.lower()] + [str(path)]
    data = b"".join(numbered_frame(k, width, height).tobytes() for k in range(frames))
    subprocess.run(command, input=data, check=True, capture_output=True)
    return path


def write_tone(path: str | Path, seconds: float, hz: float = 440.0, sample_rate: int = 44100) -> Path:
    """A mono sine tone of `seconds` (WAV, MP3, FLAC or OGG by suffix)."""
    return _write_sound(path, f"sine=frequency={hz}:sample_rate={sample_rate}:duration={seconds}")


def write_silence_then_tone(path: str | Path, silent_seconds: float, tone_seconds: float, hz: float = 440.0,
                            amplitude: float = 0.8, sample_rate: int = 44100) -> Path:
    """Mono: `silent_seconds` of digital silence, then a sine tone of `amplitude` for `tone_seconds`."""
    return _write_sound(path, f"aevalsrc='if(gte(t,{silent_seconds}),{amplitude}*sin(2*PI*{hz}*t),0)'"
                              f":s={sample_rate}:d={silent_seconds + tone_seconds}")


def _write_sound(path: str | Path, source: str) -> Path:
    """Write ffmpeg's lavfi `source` to `path` in the codec of its suffix."""
    path = Path(path)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
                    *AUDIO_CODECS[path.suffix.lower()], str(path)], check=True, capture_output=True)
    return path


def write_still(path: str | Path, colour: tuple[int, int, int], width: int = 64, height: int = 48) -> Path:
    from PIL import Image

    path = Path(path)
    Image.new("RGB", (width, height), colour).save(path)
    return path

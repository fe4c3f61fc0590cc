"""Mixing the sound of the timeline into one stereo stream, for export; and the envelope of a
clip's sound (`peaks`), which the timeline dock draws as its waveform.

What is heard: every clip on an audio track, and every clip on a video track whose media has
sound (a video file's own sound plays with its picture, as in Shotcut or Resolve), each at its
gain and under the same crossfade and fade ramps as its picture.

The mix goes to a raw float32 file, one clip at a time in blocks (read the block already
there, add this clip's samples times its gain and fade envelope, write it back), so memory
stays flat however long the timeline is. The encoder reads that file as its audio input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from engine.timeline.media import available_path, read_audio
from engine.timeline.model import MediaRef, Timeline
from engine.timeline.spans import TrackSpans

CHANNELS = 2
SAMPLE_BYTES = 4 * CHANNELS  # float32 stereo


def has_audio(timeline: Timeline) -> bool:
    media = timeline.media_by_id()
    return any(_heard(track, item, media) for track in timeline.tracks for item in track.items)


def _heard(track, item, media) -> bool:
    if not hasattr(item, "media"):
        return False
    ref = media.get(item.media)
    return track.kind == "audio" or (ref is not None and ref.has_audio)


def samples_for(timeline: Timeline, frames: int) -> int:
    rate = timeline.rate
    return frames * timeline.sample_rate * rate.den // rate.num


def mix_to_file(timeline: Timeline, path: str | Path, samples: int | None = None,
                check_cancelled: Callable[[], None] = lambda: None) -> int:
    """Mix the first `samples` samples (default: the whole timeline) into `path` as raw f32le
    stereo at the timeline's sample rate, silence-padded; returns the sample count."""
    sample_rate = timeline.sample_rate
    total = samples_for(timeline, timeline.duration) if samples is None else samples
    media = timeline.media_by_id()
    frames_per_sample = timeline.rate.num / (timeline.rate.den * sample_rate)
    with open(path, "w+b") as out:
        out.truncate(total * SAMPLE_BYTES)  # silence, and a sparse file until written
        for track in timeline.tracks:
            for span in TrackSpans(track).spans:
                if not _heard(track, span.clip, media):
                    continue
                ref = media[span.clip.media]
                available_path(ref)
                first = samples_for(timeline, span.begin)
                last = min(total, samples_for(timeline, span.end))
                if last <= first:
                    continue
                start_seconds = timeline.rate.seconds(span.source_frame(span.begin))
                position = first
                for block in read_audio(ref.path, start_seconds, (last - first) / sample_rate, sample_rate):
                    check_cancelled()
                    block = block[: last - position]
                    if not len(block):
                        break
                    times = (position + np.arange(len(block))) * frames_per_sample
                    gain = (span.envelope(times) * span.clip.gain)[:, None]
                    out.seek(position * SAMPLE_BYTES)
                    mixed = np.frombuffer(out.read(len(block) * SAMPLE_BYTES), np.float32).reshape(-1, 2) + gain * block
                    out.seek(position * SAMPLE_BYTES)
                    out.write(mixed.astype(np.float32).tobytes())
                    position += len(block)
    return total


# --- waveforms (the timeline dock draws them) ---------------------------------------------------

PEAK_SAMPLE_RATE = 8000  # plenty for an envelope on screen, a sixth of the samples a 48 kHz read decodes


def peaks(ref: MediaRef, start_s: float, end_s: float, buckets: int,
          sample_rate: int = PEAK_SAMPLE_RATE) -> np.ndarray:
    """The envelope of `ref`'s sound from `start_s` to `end_s`: `buckets` (min, max) pairs, in -1..1,
    over both channels, each of an equal share of the time; what the file lacks counts as silence."""
    path = available_path(ref)
    buckets = max(1, int(buckets))
    total = max(1, round((end_s - start_s) * sample_rate))
    low = np.full(buckets, np.inf, np.float32)
    high = np.full(buckets, -np.inf, np.float32)
    position = 0
    for block in read_audio(path, start_s, total / sample_rate, sample_rate):
        block = block[: total - position]
        if not len(block):
            break
        bucket = (position + np.arange(len(block))) * buckets // total  # which bucket each sample falls in
        np.minimum.at(low, bucket, block.min(axis=1))
        np.maximum.at(high, bucket, block.max(axis=1))
        position += len(block)
    silent = low > high  # no sample reached these buckets
    low[silent] = high[silent] = 0.0
    return np.stack([low, high], axis=1)


def merge_peaks(envelope: np.ndarray, buckets: int) -> np.ndarray:
    """An envelope of (min, max) pairs regrouped into `buckets` pairs (one per pixel column, say):
    each the extremes of the pairs it covers, or the pair it lies in when there are more buckets."""
    count = len(envelope)
    if count == 0 or buckets < 1:
        return np.zeros((max(0, buckets), 2), np.float32)
    starts = np.arange(buckets) * count // buckets
    if buckets >= count:
        return envelope[starts]
    return np.stack([np.minimum.reduceat(envelope[:, 0], starts), np.maximum.reduceat(envelope[:, 1], starts)], axis=1)

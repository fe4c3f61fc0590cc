"""Export: every format decodes back to the frames, size and length asked for, with sound where
the format has it; a cancel, a kill, a full or read-only disk leave nothing at the destination."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import imageio_ffmpeg
import numpy as np
import pytest

from engine.api import ExportRequest
from engine.atomic import STALE_SECONDS, TEMP_SUFFIX, WriteFailed
from engine.errors import BadInput, Cancelled
from engine.events import Progress
from engine.jobs import JobContext, JobQueue, JobStatus
from engine.project import Project
from engine.tasks import run_task
from engine.tasks.export import run
from engine.timeline.commands import AddMedia, AddTransition, Append, Batch
from engine.timeline.encode import available_formats, decoded_frames
from engine.timeline.media import read_audio
from engine.timeline.model import Clip, Rate
from engine.timeline.render import FrameRenderer
from engine.timeline.testing import write_numbered_video, write_still, write_tone

SECONDS = 3.0


def make_project(folder, sources, seconds_of_still: int = 12):
    project = Project.create(folder, Rate(8), 64, 48)
    video, still, tone = (project.add_media(sources[name]) for name in ("video", "still", "tone"))
    project.history.apply(Batch((AddMedia(video), AddMedia(still), AddMedia(tone), Append(0, Clip(video.id, 0, 12)),
                                 Append(0, Clip(still.id, 0, seconds_of_still)), Append(1, Clip(tone.id, 0, 24)))))
    project.history.apply(AddTransition(0, 0, "crossfade", 5))  # frames 10..14, its middle is frame 12
    project.save()
    return project


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return {"video": write_numbered_video(root / "shot.mp4", 24), "still": write_still(root / "green.png", (0, 255, 0)),
            "tone": write_tone(root / "tone.wav", 5.0)}


@pytest.fixture(scope="module")
def project(tmp_path_factory, sources):
    return make_project(tmp_path_factory.mktemp("project") / "p", sources)


def decode(path, pattern=None):
    source = str(path / pattern) if pattern else str(path)
    reader = imageio_ffmpeg.read_frames(source)
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for f in reader]
    return meta, frames


def audio_samples(path) -> int:
    return sum(len(block) for block in read_audio(str(path), 0.0, 60.0, 48000))


@pytest.mark.parametrize("fmt, suffix, has_sound", [
    ("mp4", ".mp4", True), ("webm", ".webm", True), ("prores", ".mov", True), ("gif", ".gif", False),
    ("png", "", False),
])
def test_each_format_decodes_back(project, tmp_path, fmt, suffix, has_sound):
    if fmt not in available_formats():
        pytest.skip(f"this ffmpeg has no {fmt} encoder")
    context = JobContext(1)
    result = run(ExportRequest(str(project.folder), str(tmp_path / "out"), format=fmt), context)
    path = tmp_path / f"out{suffix}"
    assert result.path == str(path) and (result.frames, result.seconds, result.format) == (24, SECONDS, fmt)
    meta, frames = decode(path, "frame_%06d.png" if fmt == "png" else None)
    assert len(frames) == 24 and frames[0].shape == (48, 64, 3)
    if fmt != "png":
        assert abs(meta["duration"] - SECONDS) < 0.15
    assert result.audio is has_sound
    if has_sound:  # the mix is as long as the video (codec padding aside)
        assert abs(audio_samples(path) - SECONDS * 48000) < 0.05 * 48000
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary files left


def test_crossfade_middle_frame_survives_export(project, tmp_path):
    run(ExportRequest(str(project.folder), str(tmp_path / "frames"), format="png"), JobContext(1))
    _meta, frames = decode(tmp_path / "frames", "frame_%06d.png")
    timeline = project.timeline
    with FrameRenderer(timeline) as renderer:
        outgoing = renderer._picture(0, renderer._tracks[0].spans[0], 12)[0].astype(float)
    incoming = np.array([0, 255, 0], float)
    assert np.abs(frames[12].astype(float) - (outgoing + incoming) / 2).max() <= 1.0
    assert not np.array_equal(frames[11], frames[12]) and not np.array_equal(frames[12], frames[13])


def test_mp4_details_other_size_and_rate(project, tmp_path):
    result = run(ExportRequest(str(project.folder), str(tmp_path / "small.mp4"), format="mp4", width=33, height=25,
                               fps="16"), JobContext(1))
    assert (result.width, result.height, result.frames) == (32, 24, 48)  # even for yuv420p; 3 s at 16 fps
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", result.path],
                          capture_output=True, text=True).stderr
    assert "h264" in info and "yuv420p" in info and "32x24" in info and "aac" in info
    head = open(result.path, "rb").read(1 << 16)
    assert 0 <= head.find(b"moov") < head.find(b"mdat")  # +faststart: the index comes before the media
    again = run(ExportRequest(str(project.folder), str(tmp_path / "small.mp4"), format="mp4"), JobContext(1))
    assert again.path == str(tmp_path / "small-1.mp4")  # an existing file is never replaced


def test_progress_counts_frames_and_runs_on_the_cpu_worker(project, tmp_path):
    threads = []

    def runner(request, context):
        threads.append(threading.current_thread().name)
        return run_task(request, context)

    progress = []
    with JobQueue(runner=runner) as queue:
        queue.subscribe(lambda e: progress.append((e.step, e.total)) if isinstance(e, Progress) else None)
        handle = queue.submit(ExportRequest(str(project.folder), str(tmp_path / "q.webm"), format="webm"))
        handle.wait(60)
    assert handle.status is JobStatus.COMPLETED, handle.error
    assert threads[0].startswith("latent-studio-cpu")
    assert progress == [(k, 24) for k in range(1, 25)]


class CancelAfter(JobContext):
    def __init__(self, frames):
        super().__init__(1)
        self.frames = frames

    def report(self, step, total, preview=None):
        if step >= self.frames:
            self.cancel()


@pytest.mark.parametrize("fmt", ["mp4", "png", "gif"])
def test_cancel_leaves_nothing(project, tmp_path, fmt):
    with pytest.raises(Cancelled):
        run(ExportRequest(str(project.folder), str(tmp_path / "gone"), format=fmt), CancelAfter(5))
    assert list(tmp_path.iterdir()) == []


def test_png_export_sweeps_the_folder_a_killed_png_export_left(project, tmp_path):
    left = tmp_path / f".frames.abcd1234{TEMP_SUFFIX}"  # what a kill mid-export leaves
    left.mkdir()
    (left / "frame_000001.png").write_bytes(b"half")
    old = time.time() - STALE_SECONDS - 60
    os.utime(left, (old, old))
    result = run(ExportRequest(str(project.folder), str(tmp_path / "frames"), format="png"), JobContext(1))
    assert [p.name for p in tmp_path.iterdir()] == ["frames"] and result.path == str(tmp_path / "frames")


def test_frame_count_check_decodes_the_file(project, tmp_path):
    result = run(ExportRequest(str(project.folder), str(tmp_path / "whole.webm"), format="webm"), JobContext(1))
    assert decoded_frames(result.path) == 24
    data = open(result.path, "rb").read()
    (tmp_path / "cut.webm").write_bytes(data[: len(data) // 2])
    assert decoded_frames(tmp_path / "cut.webm") < 24  # a short file is caught, not trusted by its header


def test_bad_requests_say_what_to_do(project, tmp_path):
    with pytest.raises(BadInput, match="export format must be one of mp4, webm, prores, gif, png"):
        run(ExportRequest(str(project.folder), str(tmp_path / "x"), format="avi"), JobContext(1))
    with pytest.raises(BadInput, match="an export is 2 to 8192 pixels a side, got 100000x48"):
        run(ExportRequest(str(project.folder), str(tmp_path / "x"), width=100000), JobContext(1))
    empty = Project.create(tmp_path / "empty", Rate(8), 64, 48)
    with pytest.raises(BadInput, match="the timeline is empty"):
        run(ExportRequest(str(empty.folder), str(tmp_path / "x"), format="mp4"), JobContext(1))


def test_killed_export_leaves_nothing_at_the_destination(tmp_path, sources):
    project = make_project(tmp_path / "long", sources, seconds_of_still=8 * 600)  # ten minutes
    out = tmp_path / "out"
    out.mkdir()
    script = textwrap.dedent(f"""
        import sys
        from engine.api import ExportRequest
        from engine.jobs import JobContext
        from engine.tasks.export import run
        class Tell(JobContext):
            def report(self, step, total, preview=None):
                if step == 20:
                    print("writing", flush=True)
        run(ExportRequest({str(project.folder)!r}, {str(out / "long.mp4")!r}), Tell(1))
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.kill()
    child.wait()
    assert not (out / "long.mp4").exists()
    assert all(p.name.startswith(".") and p.name.endswith(".latent-studio.tmp") for p in out.iterdir())


def _in_small_disk(tmp_path, project, options: str) -> dict:
    """Run an export into a tmpfs of 64 KiB (or read-only), in a private mount namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare to mount a private small disk")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = textwrap.dedent(f"""
        import json
        from engine.api import ExportRequest
        from engine.errors import StudioError
        from engine.jobs import JobContext
        from engine.tasks.export import run
        try:
            run(ExportRequest({str(project.folder)!r}, {str(disk / "full.mov")!r}, format="prores"), JobContext(1))
            print(json.dumps({{"error": None}}))
        except StudioError as exc:
            print(json.dumps({{"error": str(exc), "kind": exc.kind}}))
        import os
        print(json.dumps({{"left": os.listdir({str(disk)!r})}}))
    """)
    shell = f"mount -t tmpfs -o {options} tmpfs {disk} && exec {sys.executable} -c \"$0\""
    done = subprocess.run(["unshare", "-rm", "sh", "-c", shell, script], capture_output=True, text=True)
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount a private tmpfs here ({done.stderr.strip()})")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return lines[0] | lines[1]


def test_full_disk_gives_one_sentence_and_no_file(project, tmp_path):
    outcome = _in_small_disk(tmp_path, project, "size=64k")
    assert outcome["error"] == f"The disk holding {tmp_path / 'disk'} is full; free some space and export again."
    assert outcome["kind"] == "write_failed" and outcome["left"] == []


def test_read_only_disk_gives_one_sentence_and_no_file(project, tmp_path):
    outcome = _in_small_disk(tmp_path, project, "ro")
    assert "Read-only file system" in outcome["error"] and outcome["error"].count(". ") <= 1
    assert outcome["kind"] == "write_failed" and outcome["left"] == []
    assert WriteFailed.kind == "write_failed"


@pytest.mark.parametrize("umask", [0o002, 0o077])
def test_a_png_export_folder_gets_the_mode_a_plain_mkdir_gives(project, tmp_path, umask):
    """The user's umask, as any folder they make: not mkdtemp's private 0700, not a fixed 0755."""
    before = os.umask(umask)
    try:
        result = run(ExportRequest(str(project.folder), str(tmp_path / "frames"), format="png"), JobContext(1))
    finally:
        os.umask(before)
    assert os.stat(result.path).st_mode & 0o777 == 0o777 & ~umask

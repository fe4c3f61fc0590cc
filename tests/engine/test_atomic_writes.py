"""No result is ever overwritten or left half-written (issue 11): names are claimed atomically by
every writer, a kill at write time leaves no truncated file under a final name, and the temporary
files a killed writer leaves are swept later, never anyone else's files."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import GenerateRequest
from engine.atomic import STALE_SECONDS, TEMP_SUFFIX, is_our_temp, sweep_stale_temps, write_new, write_text_new
from engine.metadata import read_request, save_png

REPO = Path(__file__).resolve().parents[2]
WRITERS = 6
WRITES_EACH = 50


def _write_many(folder: str, writer: int, start, results) -> None:
    """One process: the same wanted name (same prompt and seed) WRITES_EACH times, as generate does."""
    request = GenerateRequest(prompt="a red circle", output_dir=".", seed=7)
    start.wait()
    for index in range(WRITES_EACH):
        pixels = np.full((16, 16, 3), (writer * WRITES_EACH + index) % 256, dtype=np.uint8)
        path = save_png(Image.fromarray(pixels), Path(folder) / "a-red-circle-7.png", request, f"writer {writer}")
        results.put((writer, index, str(path)))


def test_processes_writing_one_name_into_one_folder_keep_every_result(tmp_path):
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WRITERS)
    results = context.Queue()
    workers = [context.Process(target=_write_many, args=(str(tmp_path), w, start, results)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    written = [results.get(timeout=60) for _ in range(WRITERS * WRITES_EACH)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    paths = [path for _, _, path in written]
    assert len(set(paths)) == WRITERS * WRITES_EACH  # no two writes were given one name
    on_disk = sorted(tmp_path.glob("*.png"))
    assert len(on_disk) == WRITERS * WRITES_EACH  # and every one of them is still there
    for writer, index, path in written:
        with Image.open(path) as image:  # each file holds what its writer wrote, nobody else's
            assert image.getpixel((0, 0))[0] == (writer * WRITES_EACH + index) % 256
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_taken_name_gets_the_next_number_and_the_old_file_stays(tmp_path):
    first = write_text_new(tmp_path / "report.json", "first")
    second = write_text_new(tmp_path / "report.json", "second")
    assert (first.name, second.name) == ("report.json", "report-1.json")
    assert first.read_text() == "first" and second.read_text() == "second"


MODES_UNDER_UMASK = """
import json, os, sys
from pathlib import Path
import numpy as np
from safetensors.numpy import save_file
from engine.atomic import plain_file_mode, write_atomic, write_new, write_text_atomic, write_text_new

os.umask(int(sys.argv[2], 8))
folder = Path(sys.argv[1])
tensors = lambda tmp: save_file({"latents": np.zeros(4, np.float32)}, str(tmp))  # replaces tmp with its own 0600 file
paths = [write_new(folder / "new.bin", lambda tmp: tmp.write_bytes(b"x")), write_text_new(folder / "new.txt", "x"),
         write_atomic(folder / "saved.bin", lambda tmp: tmp.write_bytes(b"x")),
         write_text_atomic(folder / "saved.txt", "x"), write_text_atomic(folder / "saved.txt", "again"),
         write_new(folder / "latents.safetensors", tensors), write_atomic(folder / "adapter.safetensors", tensors)]
open(folder / "plain.txt", "w").close()  # what a plain open() gives, for comparison
print(json.dumps([os.stat(p).st_mode & 0o777 for p in paths + [folder / "plain.txt"]] + [plain_file_mode(folder)]))
"""


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_mode_a_plain_open_gives(tmp_path, umask):
    """0666 less the umask, as any tool saving a file: not mkstemp's private 0600, not a fixed 0644,
    also when the writer swaps in a file of its own (safetensors, as for clip latents and exported
    adapters). In a child process, since the umask is the whole process's."""
    done = subprocess.run([sys.executable, "-c", MODES_UNDER_UMASK, str(tmp_path), oct(umask)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [0o666 & ~umask] * 9


def test_stale_temp_files_of_ours_are_swept_and_nothing_else(tmp_path):
    old = time.time() - STALE_SECONDS - 60
    stale = tmp_path / f".cat-1.png.abcd1234{TEMP_SUFFIX}"
    fresh = tmp_path / f".cat-2.png.efgh5678{TEMP_SUFFIX}"  # a write in progress elsewhere
    foreign = tmp_path / ".cat-3.png.ijkl9012.tmp"  # another program's temporary file
    hidden = tmp_path / ".notes"
    for path in (stale, fresh, foreign, hidden):
        path.write_bytes(b"")
    for path in (stale, foreign, hidden):
        os.utime(path, (old, old))
    assert is_our_temp(stale.name) and not is_our_temp(foreign.name) and not is_our_temp("cat.png")

    write_new(tmp_path / "cat.png", lambda tmp: tmp.write_bytes(b"png"))  # a writer starting in the folder
    assert not stale.exists()
    assert fresh.exists() and foreign.exists() and hidden.exists()
    assert sweep_stale_temps(tmp_path) == []


def test_stale_temp_folders_of_ours_are_swept_and_nothing_else(tmp_path):
    """A PNG-sequence export fills a hidden folder; one a killed export left goes like a file."""
    old = time.time() - STALE_SECONDS - 60
    stale = tmp_path / f".frames.abcd1234{TEMP_SUFFIX}"
    fresh = tmp_path / f".frames.efgh5678{TEMP_SUFFIX}"  # an export in progress elsewhere
    foreign = tmp_path / ".frames.ijkl9012.tmp"  # another program's temporary folder
    outside = tmp_path / "keep"  # behind a link named like ours: links are never followed
    link = tmp_path / f".link.mnop3456{TEMP_SUFFIX}"
    for folder in (stale, fresh, foreign, outside):
        folder.mkdir()
        (folder / "frame_000001.png").write_bytes(b"png")
    link.symlink_to(outside, target_is_directory=True)
    for path in (stale, foreign, outside):
        os.utime(path, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)

    assert sweep_stale_temps(tmp_path) == [stale]
    assert not stale.exists()
    assert (fresh / "frame_000001.png").exists() and (foreign / "frame_000001.png").exists()
    assert link.is_symlink() and (outside / "frame_000001.png").exists()


KILLED_WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from PIL import Image
from engine.api import GenerateRequest
from engine.metadata import save_png

folder, ready = Path(sys.argv[1]), Path(sys.argv[2])
request = GenerateRequest(prompt="x", output_dir=".", seed=1)
image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8))
original_save = Image.Image.save

def slow_save(self, fp, *args, **kwargs):
    original_save(self, fp, *args, **kwargs)
    with open(fp, "r+b") as handle:  # a write caught half way: the file holds half of the PNG
        handle.truncate(Path(fp).stat().st_size // 2)
    ready.write_text(str(fp))
    time.sleep(60)

if sys.argv[3] == "stall":
    Image.Image.save = slow_save
for index in range(10_000):
    save_png(image, folder / "x-1.png", request, "x")
    ready.write_text(str(index))
"""


def _start_writer(folder: Path, ready: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(folder), str(ready), mode], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.01)


def _complete_pngs(folder: Path) -> int:
    finals = sorted(folder.glob("*.png"))
    for path in finals:
        with Image.open(path) as image:
            image.load()  # raises on a truncated file
        assert read_request(path).prompt == "x"
    return len(finals)


def test_a_kill_at_write_time_leaves_no_final_file_and_the_temp_is_swept_later(tmp_path):
    ready = tmp_path / "ready"
    folder = tmp_path / "out"
    proc = _start_writer(folder, ready, "stall")
    _wait_for(ready, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    temps = [p for p in folder.iterdir()]
    assert len(temps) == 1 and is_our_temp(temps[0].name)  # half a PNG, under a hidden temporary name only
    old = time.time() - STALE_SECONDS - 60
    os.utime(temps[0], (old, old))
    save_png(Image.new("RGB", (8, 8)), folder / "x-1.png", GenerateRequest(prompt="x", output_dir="."), "x")
    assert [p.name for p in folder.iterdir()] == ["x-1.png"]  # the next writer in the folder swept it


@pytest.mark.parametrize("trial", range(4))
def test_kill_9_at_any_moment_never_leaves_a_truncated_png(tmp_path, trial):
    ready = tmp_path / "ready"
    folder = tmp_path / "out"
    proc = _start_writer(folder, ready, "loop")
    _wait_for(ready, proc)
    time.sleep(0.05 + 0.07 * trial)  # somewhere in the middle of a later write
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _complete_pngs(folder) >= 1
    assert all(is_our_temp(p.name) for p in folder.iterdir() if p.name.startswith("."))

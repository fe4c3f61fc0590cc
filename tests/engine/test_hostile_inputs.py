"""A corpus of bad input for the command line: every case ends in one clear sentence.

Each case runs `latent-studio ... --json` in-process through `engine.cli.main` and asserts what a
user (or a script driving the CLI) relies on: exit 2 for the user's mistake, exactly one JSON error
object on stdout, no traceback or exception class name in what is printed, and nothing written (no
output folder, no partial or temporary file). The cases are the ones a hostile-input trial of the CLI
found (issues 10 and 11), over images, masks, arguments, models and recorded metadata. They fail
before any model runs, so the whole corpus takes seconds; signals need a real process and run last.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from engine.cli import main

# What a traceback or a leaked exception looks like in a message.
LEAK = re.compile(r"Traceback|\b[A-Z]\w*(Error|Exception|Warning)\b:?|File \"")

SIZE = 32  # the tiny kit's native size


# --- inputs ------------------------------------------------------------------------------------


def _png(path: Path, size=(SIZE, SIZE), studio: object = None, mode: str = "RGB", fill=90) -> Path:
    """A small PNG; `studio` (any JSON value, or raw text) becomes its latent-studio metadata chunk."""
    image = Image.new(mode, size, fill if mode != "RGB" else (fill, 120, 200))
    info = PngInfo()
    if studio is not None:
        info.add_text("latent-studio", studio if isinstance(studio, str) else json.dumps(studio))
    image.save(path, format="PNG", pnginfo=info)
    return path


def _bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A PNG header claiming width x height pixels (a decompression bomb as PIL sees one)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _request(model: str, **changes) -> dict:
    """A recorded generate request as this version writes it, with `changes` applied."""
    seeds = list(range(4))
    request = {"task": "generate", "prompt": "a red circle", "negative_prompt": "", "output_dir": "/nowhere",
               "model": model, "width": SIZE, "height": SIZE, "steps": 2, "guidance": 5.0, "scheduler": "ddim",
               "seed": 3, "count": 1, "grid_rows": 2, "grid_cols": 2,
               "grid_seeds": {"rows": 2, "cols": 2, "seeds": seeds}, "init_image": None, "strength": 0.6,
               "scorer": None, "rerank": False, "trust_pickle": False}
    request.update(changes)
    return {"request": request, "version": "0"}


def _model_folder(kit: Path, tmp: Path, name: str, change: Callable[[Path], None]) -> Path:
    """A copy of the tiny sd1 pipeline folder with `change` applied to it."""
    import shutil

    folder = tmp / name
    shutil.copytree(kit / "sd1", folder)
    change(folder)
    return folder


def _pickled_unet(folder: Path) -> None:
    """The UNet weights as a pickled .bin instead of .safetensors (what a trial folder had)."""
    import torch
    from safetensors.torch import load_file

    weights = next((folder / "unet").glob("*.safetensors"))
    torch.save(load_file(weights), folder / "unet" / "diffusion_pytorch_model.bin")
    weights.unlink()


@dataclass(frozen=True)
class World:
    kit: Path
    generated: Path  # a PNG with metadata recording a 2x2 grid and the tiny sd1 model
    imported: Path  # a PNG with no metadata
    tmp: Path  # per-case folder holding the inputs


@pytest.fixture
def world(kit, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    generated = _png(inputs / "generated.png", studio=_request(str(kit / "sd1")))
    return World(kit=kit, generated=generated, imported=_png(inputs / "imported.png"), tmp=inputs)


def _sd1(w: World) -> list[str]:
    return ["--model", str(w.kit / "sd1")]


def _gen(w: World, *extra: str) -> list[str]:
    return ["generate", *_sd1(w), "--prompt", "a red circle", "--steps", "2", *extra]


def _regen(w: World, recorded) -> list[str]:
    return ["regenerate", str(_png(w.tmp / "recorded.png", studio=recorded))]


# --- the corpus --------------------------------------------------------------------------------
# (id, argv builder, what the sentence must mention). --out and --json are added unless the argv
# already names --out. Every case is the user's mistake: exit 2.

CASES: list[tuple[str, Callable[[World], list[str]], str]] = [
    # arguments
    ("seed-beyond-64-bits", lambda w: _gen(w, "--seed", str(2**70)), r"[Ss]eed"),
    ("seed-negative", lambda w: _gen(w, "--seed", "-1"), r"[Ss]eed"),
    ("guidance-nan", lambda w: _gen(w, "--guidance", "nan"), r"[Gg]uidance"),
    ("guidance-inf", lambda w: _gen(w, "--guidance", "inf"), r"[Gg]uidance"),
    ("guidance-negative", lambda w: _gen(w, "--guidance", "-3"), r"[Gg]uidance"),
    ("guidance-huge", lambda w: _gen(w, "--guidance", "1e6"), r"[Gg]uidance"),
    ("steps-zero", lambda w: _gen(w, "--steps", "0"), r"[Ss]teps"),
    ("steps-huge", lambda w: _gen(w, "--steps", "100000"), r"[Ss]teps"),
    ("steps-not-a-number", lambda w: _gen(w, "--steps", "1e9"), r"steps"),
    ("count-zero", lambda w: _gen(w, "--count", "0"), r"[Cc]ount"),
    ("count-huge", lambda w: _gen(w, "--count", "10000"), r"[Cc]ount"),
    ("size-zero", lambda w: _gen(w, "--width", "0", "--height", "0"), r"[Ww]idth"),
    ("width-huge-height-omitted", lambda w: _gen(w, "--width", "100000"), r"100000x32 .*native"),
    ("width-huge-any-size", lambda w: _gen(w, "--width", "100000", "--any-size"), r"width must be from 1 to 16384"),
    ("size-far-beyond-native", lambda w: _gen(w, "--width", "4096", "--height", "4096"), r"native"),
    ("size-negative", lambda w: _gen(w, "--width", "-64", "--height", "64"), r"[Ww]idth"),
    ("size-not-a-multiple", lambda w: _gen(w, "--width", "34", "--height", "32"), r"multiple"),
    ("grid-huge", lambda w: _gen(w, "--grid", "100000x100000"), r"grid"),
    ("grid-finer-than-latent", lambda w: _gen(w, "--grid", "20x20"), r"finer"),
    ("grid-zero", lambda w: _gen(w, "--grid", "0x3"), r"grid"),
    ("strength-zero", lambda w: _gen(w, "--init-image", str(w.imported), "--strength", "0"), r"[Ss]trength"),
    ("strength-nan", lambda w: _gen(w, "--init-image", str(w.imported), "--strength", "nan"), r"[Ss]trength"),
    ("strength-above-one", lambda w: _gen(w, "--init-image", str(w.imported), "--strength", "1.5"), r"[Ss]trength"),
    ("scheduler-unknown", lambda w: _gen(w, "--scheduler", "warp-drive"), r"[Ss]cheduler"),
    ("out-empty", lambda w: _gen(w, "--out", ""), r"--out"),
    ("out-is-a-file", lambda w: _gen(w, "--out", str(_png(w.tmp / "taken.png"))), r"file"),
    ("out-under-proc", lambda w: _gen(w, "--out", "/proc/latent-studio-out"), r"/proc"),
    ("out-name-too-long", lambda w: _gen(w, "--out", str(w.tmp / ("x" * 300))), r"too long"),
    ("out-below-a-file", lambda w: _gen(w, "--out", str(_png(w.tmp / "file.png")) + "/sub"), r"file"),
    ("unknown-option", lambda w: _gen(w, "--colour", "red"), r"unrecognized"),
    # images
    ("init-image-missing", lambda w: _gen(w, "--init-image", str(w.tmp / "none.png")), r"does not exist"),
    ("init-image-bomb", lambda w: _gen(w, "--init-image", str(_bomb(w.tmp / "bomb.png"))), r"megapixels"),
    ("resample-image-missing", lambda w: ["resample", str(w.tmp / "none.png"), "--block", "0,0"], r"does not exist"),
    ("resample-image-is-a-folder", lambda w: ["resample", str(w.tmp), "--block", "0,0"], r"not a file"),
    ("resample-image-is-text", lambda w: ["resample", _text(w, "notes.png"), "--block", "0,0", "--grid", "2x2"],
     r"not a readable image"),
    ("resample-image-empty-file", lambda w: ["resample", _text(w, "empty.png", ""), "--block", "0,0",
                                             "--grid", "2x2"], r"not a readable image"),
    ("resample-image-truncated", lambda w: ["resample", _truncated(w), "--block", "0,0", "--grid", "2x2"],
     r"not a readable image"),
    ("resample-image-bomb", lambda w: ["resample", str(_bomb(w.tmp / "bomb.png")), "--block", "0,0",
                                       "--grid", "2x2"], r"megapixels"),
    ("resample-imported-without-grid", lambda w: ["resample", str(w.imported), "--block", "0,0"], r"--grid"),
    ("resample-block-outside-grid", lambda w: ["resample", str(w.generated), "--block", "5,0"], r"outside"),
    ("resample-block-negative", lambda w: ["resample", str(w.generated), "--block", "-1,0"], r"outside|[Bb]lock"),
    ("resample-grid-huge", lambda w: ["resample", str(w.imported), "--block", "0,0", "--grid", "5000x5000"],
     r"grid"),
    # arguments of the edits
    ("resample-strength-zero", lambda w: ["resample", str(w.generated), "--block", "0,0", "--strength", "0"],
     r"[Ss]trength"),
    ("resample-radius-nan", lambda w: ["resample", str(w.generated), "--block", "0,0", "--radius", "nan"],
     r"[Rr]adius"),
    ("resample-radius-inf", lambda w: ["resample", str(w.generated), "--block", "0,0", "--radius", "inf"],
     r"[Rr]adius"),
    ("resample-radius-negative", lambda w: ["resample", str(w.generated), "--block", "0,0", "--radius", "-2"],
     r"[Rr]adius"),
    ("resample-count-zero", lambda w: ["resample", str(w.generated), "--block", "0,0", "--count", "0"],
     r"[Cc]ount"),
    ("resample-count-huge", lambda w: ["resample", str(w.generated), "--block", "0,0", "--count", "10000"],
     r"[Cc]ount"),
    ("resample-seed-beyond-64-bits", lambda w: ["resample", str(w.generated), "--block", "0,0",
                                                "--seed", str(2**64)], r"[Ss]eed"),
    ("resample-out-is-a-file", lambda w: ["resample", str(w.generated), "--block", "0,0", "--out", str(w.generated)],
     r"file"),
    ("compare-radius-zero", lambda w: ["compare", str(w.generated), "--block", "0,0", "--radius", "0"],
     r"radius"),
    ("compare-radius-nan", lambda w: ["compare", str(w.generated), "--block", "0,0", "--radius", "nan"],
     r"[Rr]adius"),
    # masks
    ("mask-missing", lambda w: ["inpaint", str(w.generated), "--mask", str(w.tmp / "none.png")], r"does not exist"),
    ("mask-other-size", lambda w: ["inpaint", str(w.generated), "--mask", str(_png(w.tmp / "m.png", (8, 8), mode="L",
                                                                                     fill=255))], r"same size"),
    ("mask-empty", lambda w: ["inpaint", str(w.generated), "--mask", str(_png(w.tmp / "m.png", mode="L", fill=0))],
     r"empty"),
    ("mask-bomb", lambda w: ["inpaint", str(w.generated), "--mask", str(_bomb(w.tmp / "m.png"))], r"megapixels"),
    ("mask-is-text", lambda w: ["inpaint", str(w.generated), "--mask", _text(w, "m.png")], r"not a readable image"),
    ("inpaint-neither-block-nor-mask", lambda w: ["inpaint", str(w.generated)], r"either a block"),
    ("inpaint-block-and-mask", lambda w: ["inpaint", str(w.generated), "--block", "0,0", "--mask",
                                          str(_png(w.tmp / "m.png", mode="L", fill=255))], r"either a block"),
    # models
    ("model-unknown", lambda w: ["generate", "--model", "no-such-model", "--prompt", "x"], r"No model called"),
    ("model-loose-pickle", lambda w: ["generate", "--model", _text(w, "model.ckpt"), "--prompt", "x"],
     r"pickled checkpoint"),
    ("model-pickle-inside-folder", lambda w: ["generate", "--model", str(_model_folder(w.kit, w.tmp, "pickled",
                                                                                       _pickled_unet)),
                                              "--prompt", "x"], r"pickled checkpoint.*--trust-pickle"),
    ("model-index-is-a-list", lambda w: ["generate", "--model", str(_model_folder(
        w.kit, w.tmp, "listed", lambda f: (f / "model_index.json").write_text("[]"))), "--prompt", "x"],
     r"model_index.json"),
    ("model-index-malformed", lambda w: ["generate", "--model", str(_model_folder(
        w.kit, w.tmp, "broken", lambda f: (f / "model_index.json").write_text("{\"_class_name\": "))), "--prompt", "x"],
     r"model_index.json"),
    ("model-manifest-wrong-types", lambda w: ["generate", "--model", str(_model_folder(
        w.kit, w.tmp, "odd", lambda f: (f / "latent-studio.json").write_text(
            json.dumps({"family": "sd1", "native_size": "big", "default_steps": "many"})))), "--prompt", "x"],
     r"latent-studio.json"),
    ("model-empty-folder", lambda w: ["generate", "--model", _folder(w, "empty-model"), "--prompt", "x"],
     r"not a model folder"),
    ("model-fake-safetensors", lambda w: ["generate", "--model", _text(w, "model.safetensors"), "--prompt", "x"],
     r"safetensors"),
    ("model-is-a-scorer", lambda w: ["generate", "--model", str(w.kit / "clip"), "--prompt", "x"],
     r"cannot make images"),
    # recorded metadata (regenerate reads a PNG's request and must bound it like the command line)
    ("meta-count-10000", lambda w: _regen(w, _request(str(w.kit / "sd1"), count=10000, grid_seeds=None)),
     r"[Cc]ount"),
    ("meta-steps-1e9", lambda w: _regen(w, _request(str(w.kit / "sd1"), steps=1e9)), r"[Ss]teps"),
    ("meta-size-4096", lambda w: _regen(w, _request(str(w.kit / "sd1"), width=4096, height=4096)), r"native"),
    ("meta-prompt-a-number", lambda w: _regen(w, _request(str(w.kit / "sd1"), prompt=12345)), r"prompt"),
    ("meta-count-a-string", lambda w: _regen(w, _request(str(w.kit / "sd1"), count="3")), r"count"),
    ("meta-seed-a-string", lambda w: _regen(w, _request(str(w.kit / "sd1"), seed="abc")), r"seed"),
    ("meta-seed-beyond-64-bits", lambda w: _regen(w, _request(str(w.kit / "sd1"), seed=2**70)), r"seed"),
    ("meta-grid-seed-beyond-64-bits", lambda w: _regen(w, _request(str(w.kit / "sd1"), grid_seeds={
        "rows": 1, "cols": 1, "seeds": [2**70]}, grid_rows=1, grid_cols=1)), r"seed"),
    ("meta-guidance-nan", lambda w: _regen(w, json.dumps(_request(str(w.kit / "sd1"), guidance=float("nan")))),
     r"guidance"),
    ("meta-strength-a-list", lambda w: _regen(w, _request(str(w.kit / "sd1"), strength=[1])), r"strength"),
    ("meta-compare-task", lambda w: _regen(w, {"request": {"task": "compare", "image": str(w.generated),
                                                           "output_dir": "/nowhere", "row": 0, "col": 0}}),
     r"compar"),
    ("meta-grid-huge", lambda w: _regen(w, _request(str(w.kit / "sd1"), grid_rows=200, grid_cols=200, grid_seeds={
        "rows": 200, "cols": 200, "seeds": [0] * 40000})), r"grid"),
    ("meta-grid-seed-count-wrong", lambda w: _regen(w, _request(str(w.kit / "sd1"), grid_seeds={
        "rows": 2, "cols": 2, "seeds": [1]})), r"seeds"),
    ("meta-request-a-list", lambda w: _regen(w, {"request": []}), r"metadata"),
    ("meta-not-json", lambda w: _regen(w, "{this is not json"), r"metadata"),
    ("meta-unknown-task", lambda w: _regen(w, {"request": {"task": "explode"}}), r"explode"),
    ("meta-missing", lambda w: ["regenerate", str(w.imported)], r"no Latent Studio metadata"),
    ("meta-pickle-trusted-by-the-file", lambda w: _regen(w, _request(_text(w, "m.ckpt"), trust_pickle=True)),
     r"pickled checkpoint"),
    ("meta-width-negative", lambda w: _regen(w, _request(str(w.kit / "sd1"), width=-32)), r"[Ww]idth"),
    ("meta-scheduler-a-number", lambda w: _regen(w, _request(str(w.kit / "sd1"), scheduler=5)), r"scheduler"),
    ("meta-negative-prompt-a-list", lambda w: _regen(w, _request(str(w.kit / "sd1"), negative_prompt=["x"])),
     r"negative prompt"),
    ("meta-bomb-image", lambda w: ["regenerate", str(_bomb(w.tmp / "bomb.png"))], r"megapixels"),
    ("meta-edit-grid-huge", lambda w: ["resample", str(_png(w.tmp / "g.png", studio=_request(
        str(w.kit / "sd1"), grid_rows=200, grid_cols=200, grid_seeds={"rows": 200, "cols": 200,
                                                                       "seeds": [0] * 40000}))), "--block", "0,0"],
     r"grid"),
    ("meta-edit-steps-huge", lambda w: ["resample", str(_png(w.tmp / "s.png", studio=_request(
        str(w.kit / "sd1"), steps=10**9))), "--block", "0,0"], r"[Ss]teps"),
]


def _text(w: World, name: str, text: str = "this is not what its name says") -> str:
    path = w.tmp / name
    path.write_text(text)
    return str(path)


def _folder(w: World, name: str) -> str:
    path = w.tmp / name
    path.mkdir()
    return str(path)


def _truncated(w: World) -> str:
    full = _png(w.tmp / "full.png", size=(64, 64))
    data = full.read_bytes()
    path = w.tmp / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case_id, build, says", CASES, ids=[c[0] for c in CASES])
def test_bad_input_ends_in_one_sentence(world, tmp_path, capsys, monkeypatch, case_id, build, says):
    monkeypatch.chdir(tmp_path)  # an --out of '' must not write into the current folder either
    argv = build(world)
    out = tmp_path / "out"
    if "--out" not in argv and argv[0] != "models":
        argv += ["--out", str(out)]
    before = _files(tmp_path)
    started = time.perf_counter()
    code = main(argv + ["--json"])
    seconds = time.perf_counter() - started
    printed = capsys.readouterr()
    lines = [line for line in printed.out.splitlines() if line.strip()]
    assert len(lines) == 1, printed.out
    error = json.loads(lines[0])
    assert set(error) == {"error", "kind"}, error
    assert code == 2, (code, error)
    assert re.search(says, error["error"], re.IGNORECASE), error["error"]
    assert not LEAK.search(printed.out + printed.err), printed.out + printed.err
    assert error["error"].endswith((".", ")")) and "\n" not in error["error"], error["error"]
    assert _files(tmp_path) == before, _files(tmp_path) - before  # nothing written, not even a folder
    assert seconds < 20, f"{case_id} took {seconds:.1f} s: checks should come before any work"


# --- signals (a real process) --------------------------------------------------------------------


def test_sigterm_cancels_like_ctrl_c_and_keeps_only_whole_results(kit, tmp_path):
    """`kill PID` (SIGTERM, what process managers and job schedulers send) mid-generation: the job
    is cancelled, --json prints {"error": "cancelled"}, the exit code says so, no temp file is left,
    and every image already saved is whole."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "generate", "--model", str(kit / "sd1"), "--prompt", "a cat",
         "--steps", "200", "--count", "3", "--grid", "1x1", "--seed", "1", "--out", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*.png")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until the first candidate is saved: the job is mid-generation
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode not in (0, -signal.SIGTERM), (proc.returncode, stderr)
    assert [json.loads(line) for line in stdout.splitlines() if line.strip()] == [
        {"error": "cancelled", "kind": "cancelled"}]
    assert not LEAK.search(stderr), stderr
    names = sorted(p.name for p in out.iterdir())
    assert names and all(n.endswith(".png") and not n.startswith(".") for n in names), names
    assert len(names) < 3, names  # cancelled before the last candidate
    for path in out.iterdir():
        with Image.open(path) as image:
            image.verify()

"""Frozen request and result dataclasses.

One request holds everything that determines a result, so a request serialised to JSON
(inside a PNG, in a project file, over to another executor) regenerates the same output.
Only plain data lives here: paths as strings, numbers, tuples. No live objects.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class GridSeeds:
    """A latent grid: rows x cols cells, one noise seed per cell in row-major order."""

    rows: int
    cols: int
    seeds: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"a grid needs at least one row and one column, got {self.rows}x{self.cols}")
        if len(self.seeds) != self.rows * self.cols:
            raise ValueError(
                f"a {self.rows}x{self.cols} grid needs {self.rows * self.cols} seeds, got {len(self.seeds)}"
            )

    def seed_at(self, row: int, col: int) -> int:
        return self.seeds[row * self.cols + col]

    def with_seed(self, row: int, col: int, seed: int) -> "GridSeeds":
        seeds = list(self.seeds)
        seeds[row * self.cols + col] = int(seed)
        return GridSeeds(self.rows, self.cols, tuple(seeds))

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "cols": self.cols, "seeds": list(self.seeds)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "GridSeeds":
        return cls(int(data["rows"]), int(data["cols"]), tuple(int(s) for s in data["seeds"]))


@dataclass(frozen=True)
class GenerateRequest:
    """Text-to-image (or image-to-image when `init_image` is set) for `count` candidates.

    Candidate i uses seed `seed + i`; its grid seeds derive from that seed unless
    `grid_seeds` pins them (regenerate and resample do), in which case count must be 1.
    """

    task: ClassVar[str] = "generate"
    resource: ClassVar[str] = "gpu"

    prompt: str
    output_dir: str
    model: str = "toy-scenes"
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    seed: int = 0
    count: int = 1
    grid_rows: int = 4
    grid_cols: int = 4
    grid_seeds: GridSeeds | None = None
    init_image: str | None = None
    strength: float = 0.6
    scorer: str | None = None  # None: the default scorer (the bundled one)
    rerank: bool = False  # score the candidates against the prompt and return them best first
    trust_pickle: bool = False  # the user vouched for a pickled checkpoint named by `model`


@dataclass(frozen=True)
class ImageResult:
    """One image a task wrote: its file, the seed that made it (a resample's new cell seed), the
    latent grid it was made from (None where it has none, e.g. an inpainting of an imported
    image) and, when candidates were scored, its prompt score."""

    path: str
    seed: int
    grid: GridSeeds | None = None
    score: float | None = None


@dataclass(frozen=True)
class GenerateResult:
    task: ClassVar[str] = "generate"

    model: str
    images: tuple[ImageResult, ...]
    seconds: float


@dataclass(frozen=True)
class EditSettings:
    """Generation settings an edit reuses; None means "as recorded in the source image"."""

    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None


@dataclass(frozen=True)
class ResampleRequest:
    """Re-roll the noise of one latent-grid cell of `image` and denoise again, holding the rest.

    The change map is 1 in the block and falls off to 0 at `radius` pixels outside it; it is
    applied as a per-step threshold schedule. `context` "window" denoises only the block plus
    its fall-off margin (cost follows the edited area); "full" denoises the whole frame.
    Candidate k gets cell seed `cell_seeds[k]` when pinned, else one derived from `seed + k`.
    """

    task: ClassVar[str] = "resample"
    resource: ClassVar[str] = "gpu"

    image: str
    output_dir: str
    row: int
    col: int
    seed: int = 0
    count: int = 4
    radius: float | None = None  # pixels; None = one block width
    strength: float | None = None  # None: 1.0 for generated images, 0.75 for imported ones
    context: str = "window"
    grid_rows: int | None = None  # None: the grid recorded in the image
    grid_cols: int | None = None
    grid_seeds: GridSeeds | None = None  # the source's grid; None: recorded, or derived from `seed`
    cell_seeds: tuple[int, ...] | None = None
    settings: EditSettings = field(default_factory=EditSettings)


@dataclass(frozen=True)
class InpaintRequest:
    """Inpaint a block (row, col of a grid) or any mask image of `image`.

    Uses the model's inpainting UNet when it has one (9 input channels), else latent masking
    with the same model; only the masked region is pasted back, feathered inwards, so every
    pixel outside the mask stays bit-identical.
    """

    task: ClassVar[str] = "inpaint"
    resource: ClassVar[str] = "gpu"

    image: str
    output_dir: str
    row: int | None = None
    col: int | None = None
    mask: str | None = None
    seed: int = 0
    count: int = 1
    strength: float = 1.0
    feather: int = 4  # pixels, inside the mask
    grid_rows: int | None = None
    grid_cols: int | None = None
    settings: EditSettings = field(default_factory=EditSettings)


@dataclass(frozen=True)
class CompareRequest:
    """Resample and inpaint the same block with the same seed, and measure both."""

    task: ClassVar[str] = "compare"
    resource: ClassVar[str] = "gpu"

    image: str
    output_dir: str
    row: int
    col: int
    seed: int = 0
    radius: float | None = None
    context: str = "full"
    grid_rows: int | None = None
    grid_cols: int | None = None
    settings: EditSettings = field(default_factory=EditSettings)


@dataclass(frozen=True)
class EditResult:
    """Result of a resample or inpaint: the candidates and the denoise + decode time."""

    task: ClassVar[str] = "edit"

    images: tuple[ImageResult, ...]
    seconds: float


@dataclass(frozen=True)
class CompareResult:
    task: ClassVar[str] = "compare"

    resample_path: str
    inpaint_path: str
    resample_metrics: dict
    inpaint_metrics: dict
    side_by_side: str
    heatmaps: tuple[str, ...]
    report: str


@dataclass(frozen=True)
class ExportRequest:
    """Render the timeline of the project folder `project` into a video file (or a PNG folder).

    `format`: mp4 (H.264 + AAC), webm (VP9 + Opus), gif, prores (ProRes 422 in MOV) or png.
    Size and rate default to the project's; `fps` is a rate like "24" or "24000/1001".
    """

    task: ClassVar[str] = "export"
    resource: ClassVar[str] = "cpu"

    project: str
    output: str
    format: str = "mp4"
    width: int | None = None
    height: int | None = None
    fps: str | None = None

    @property
    def output_dir(self) -> str:
        """The folder the export goes into (what the CLI checks before any work, as for every task)."""
        import os.path

        return os.path.dirname(os.path.abspath(self.output))


@dataclass(frozen=True)
class ExportResult:
    """An export: where it went (the wanted name or NAME-1.EXT), frames written and verified by
    decoding, `seconds` of video, and the wall time it took."""

    task: ClassVar[str] = "export"

    path: str
    frames: int
    seconds: float
    format: str
    width: int
    height: int
    audio: bool
    wall_seconds: float


@dataclass(frozen=True)
class ClipRequest:
    """A clip from a prompt (text to clip), from `init_image` (image to clip, at `strength`; SVD
    takes the image as its condition), or, with `mask`, a cinemagraph: only the masked region of
    `init_image` moves, every pixel outside it equals the still in every frame.

    `model` None is the bundled motion model; an AnimateDiff `motion_adapter` runs on `model` as its
    base (or on the base its manifest names). Frames, fps, size, steps, guidance and scheduler
    default to the model's. `loop` makes the last frame lead back into the first. Same request,
    same device: the same frames, bit for bit.
    """

    task: ClassVar[str] = "clip"
    resource: ClassVar[str] = "gpu"

    prompt: str
    output_dir: str
    model: str | None = None
    motion_adapter: str | None = None
    negative_prompt: str = ""
    frames: int | None = None
    fps: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    seed: int = 0
    init_image: str | None = None
    strength: float = 0.6
    mask: str | None = None
    feather: int = 4  # pixels, inside the mask
    loop: bool = False
    identity_references: tuple[str, ...] = ()  # images of the shot's subject: the clip's colours are matched to them
    trust_pickle: bool = False


@dataclass(frozen=True)
class ClipFiles:
    """A clip on disk: the playable preview (MP4), the lossless master (FFV1 in Matroska, its
    frames the generated ones bit for bit), the JSON sidecar that regenerates it, and the final
    latents of its last frames."""

    path: str
    master: str
    sidecar: str
    latents: str
    frames: int
    fps: int
    width: int
    height: int
    seed: int


@dataclass(frozen=True)
class ClipResult:
    task: ClassVar[str] = "clip"

    model: str
    clip: ClipFiles
    seconds: float  # denoise + decode, loading and file writing excluded


@dataclass(frozen=True)
class ContinueRequest:
    """Clip k+1 of a film: continues the clip at `clip` (its sidecar, preview or master) from its
    last frame, or from frame `from_frame` (0-based), with `prompt`. The new clip starts from the
    previous clip's last `overlap` frames (its stored tail latents where they cover them, no VAE
    round trip) and keeps to `identity_references` (images of the shot's subject). `correction`
    matches the new clip's colour statistics to the references (else to the previous clip), which
    holds colour and contrast where naive chaining drifts hop by hop. The model, size and fps are
    always the previous clip's (its stored latents belong to that model); steps and guidance are
    too unless given; `frames` counts the new frames only.
    """

    task: ClassVar[str] = "continue"
    resource: ClassVar[str] = "gpu"

    clip: str
    prompt: str
    output_dir: str
    from_frame: int | None = None
    overlap: int | None = None  # None: the family's own (AnimateDiff: the stored tail's frames)
    negative_prompt: str = ""
    frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    identity_references: tuple[str, ...] = ()
    correction: bool = True
    tail_latents: bool = True  # False re-encodes the master's frames even where latents are stored (naive chaining)
    ip_adapter: str | None = None  # an IP-Adapter folder (AnimateDiff): the first reference steers the denoiser too
    trust_pickle: bool = False


# --- the task table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A task: its request class and the function that runs it, as "module:function".

    The function is named, not imported, so `import engine` stays free of torch; the job queue
    imports it when a job of this task starts.
    """

    request: type
    function: str


TASKS: dict[str, Task] = {
    "generate": Task(GenerateRequest, "engine.tasks.generate:run"),
    "resample": Task(ResampleRequest, "engine.tasks.resample:run"),
    "inpaint": Task(InpaintRequest, "engine.tasks.inpaint:run"),
    "compare": Task(CompareRequest, "engine.tasks.compare:run"),
    "export": Task(ExportRequest, "engine.tasks.export:run"),
    "clip": Task(ClipRequest, "engine.tasks.clip:run"),
    "continue": Task(ContinueRequest, "engine.tasks.continue_clip:run"),
}


# --- JSON round trip -------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, GridSeeds):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def to_json(obj: Any) -> dict[str, Any]:
    """A request or result as a JSON-ready dict, tagged with its task name (where it has one)."""
    data = _encode(obj)
    task = getattr(type(obj), "task", None)
    if task is not None:
        data["task"] = task
    return data


def request_from_json(data: dict[str, Any]) -> Any:
    """Rebuild a request from `to_json` output; unknown keys are ignored for forward compatibility."""
    data = dict(data)
    task = data.pop("task", "generate")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} in request")
    cls = TASKS[task].request
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if kwargs.get("grid_seeds") is not None:
        kwargs["grid_seeds"] = GridSeeds.from_json(kwargs["grid_seeds"])
    if kwargs.get("cell_seeds") is not None:
        kwargs["cell_seeds"] = tuple(int(s) for s in kwargs["cell_seeds"])
    if isinstance(kwargs.get("identity_references"), list):
        kwargs["identity_references"] = tuple(kwargs["identity_references"])
    if isinstance(kwargs.get("settings"), dict):
        known = {f.name for f in dataclasses.fields(EditSettings)}
        kwargs["settings"] = EditSettings(**{k: v for k, v in kwargs["settings"].items() if k in known})
    return cls(**kwargs)


def dumps(obj: Any) -> str:
    return json.dumps(to_json(obj), sort_keys=True)

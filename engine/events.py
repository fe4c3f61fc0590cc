"""Typed job events, keyed by job id.

The queue delivers them to subscribers, in one global order, from its own event thread (never
the submitting thread, never a worker), so a slow subscriber holds up neither;
`studio.bridge` re-emits them as Qt signals on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Queued:
    job_id: int
    request: Any


@dataclass(frozen=True)
class Started:
    job_id: int


@dataclass(frozen=True)
class Progress:
    job_id: int
    step: int
    total: int
    preview: Any = None  # a small HxWx3 uint8 numpy array, or None


@dataclass(frozen=True)
class Loading:
    """The job waits for a model to load from disk (seconds for a large one, before any step)."""

    job_id: int
    model: str  # the model's id


@dataclass(frozen=True)
class CandidateReady:
    """One image of a multi-candidate job is on disk, before the job ends, so it can be shown now.

    `index` is the order the task made it in, not its rank: the job's Finished result stays the
    whole answer, in its final order (best first when scored).
    """

    job_id: int
    index: int
    path: str
    seed: int


@dataclass(frozen=True)
class Finished:
    job_id: int
    result: Any


@dataclass(frozen=True)
class Failed:
    job_id: int
    message: str
    kind: str = "error"


@dataclass(frozen=True)
class Cancelled:
    job_id: int


@dataclass(frozen=True)
class QueueChanged:
    """The pending order or the paused flag changed (move, pause, resume, clear)."""

    order: tuple[int, ...]
    paused: bool


Event = Union[Queued, Started, Progress, Loading, CandidateReady, Finished, Failed, Cancelled, QueueChanged]

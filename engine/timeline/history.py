"""Undo and redo: every applied command keeps the timeline before and after it.

Timelines are immutable and share unchanged tracks, so a step costs little memory, and undo
restores exactly the value that was there (no inverse edit that could drift). The history
is saved with the project so `latent-studio timeline undo` works across runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import BadInput
from engine.timeline.commands import Command
from engine.timeline.model import Timeline, timeline_from_json, timeline_to_json

MAX_STEPS = 200  # steps kept; older ones fall off the bottom of the undo stack


@dataclass(frozen=True)
class Step:
    label: str
    before: Timeline
    after: Timeline


class History:
    """The current timeline with its undo and redo stacks (one per open project)."""

    def __init__(self, timeline: Timeline, done: list[Step] | None = None, undone: list[Step] | None = None):
        self.timeline = timeline
        self._done = list(done or [])
        self._undone = list(undone or [])

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def labels(self) -> tuple[list[str], list[str]]:
        """(undoable labels, newest last; redoable labels, next first)."""
        return [s.label for s in self._done], [s.label for s in reversed(self._undone)]

    def apply(self, command: Command) -> Timeline:
        after = command.apply(self.timeline)
        self._done.append(Step(command.describe(), self.timeline, after))
        del self._done[:-MAX_STEPS]
        self._undone.clear()
        self.timeline = after
        return after

    def undo(self) -> Step:
        if not self._done:
            raise BadInput("there is nothing to undo")
        step = self._done.pop()
        self._undone.append(step)
        self.timeline = step.before
        return step

    def redo(self) -> Step:
        if not self._undone:
            raise BadInput("there is nothing to redo")
        step = self._undone.pop()
        self._done.append(step)
        self.timeline = step.after
        return step

    def to_json(self) -> dict[str, Any]:
        def steps(items: list[Step]) -> list[dict]:
            return [{"label": s.label, "before": timeline_to_json(s.before), "after": timeline_to_json(s.after)}
                    for s in items]

        return {"done": steps(self._done), "undone": steps(self._undone)}

    @classmethod
    def from_json(cls, timeline: Timeline, data: dict[str, Any]) -> "History":
        """Rebuild a saved history. Its newest state must be `timeline` (the saved one), else the
        history belongs to another version of the project and is dropped rather than trusted."""
        def steps(items: list[dict]) -> list[Step]:
            return [Step(str(s["label"]), timeline_from_json(s["before"]), timeline_from_json(s["after"]))
                    for s in items]

        done, undone = steps(data.get("done", [])), steps(data.get("undone", []))
        current = done[-1].after if done else (undone[-1].before if undone else timeline)
        if current != timeline:
            return cls(timeline)
        return cls(timeline, done, undone)

"""Loaded pipelines, shared and evicted least-recently-used first under a memory limit.

One entry per (model, device, dtype) holds the text-to-image pipeline; image-to-image and
inpaint pipelines are derived from it with `from_pipe`, so they share its weights and cost
no extra memory. When loading a model would exceed `max_bytes`, the least recently used
entries are dropped first.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from engine import heap
from engine.devices import pick_device, pick_dtype
from engine.models import loader
from engine.models.registry import ModelRegistry
from engine.models.spec import ModelSpec


def default_memory_budget(device: str) -> int | None:
    """How much the loaded weights may take: 3/4 of GPU memory, or half of RAM on the CPU."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.get_device_properties(0).total_memory * 0.75)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.5)
    except (ValueError, OSError, AttributeError):
        return None


@dataclass
class _Entry:
    spec: ModelSpec
    pipelines: dict[str, Any] = field(default_factory=dict)
    nbytes: int = 0


class ModelCache:
    """The engine's model service: the registry to resolve names, and the loaded pipelines."""

    def __init__(self, registry: ModelRegistry | None = None, device: str | None = None,
                 max_bytes: int | None = None, settle_heap: bool = False):
        self.registry = registry or ModelRegistry()
        # the window's choice (engine.heap): loaded models leave the cycle collector's reach, so
        # a collection never holds the GIL long enough to stall its event loop
        self.settle_heap = settle_heap
        self.device = device or pick_device()
        self.max_bytes = default_memory_budget(self.device) if max_bytes is None else max_bytes
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self.loads = 0  # how many times a model was read from disk (tests and benchmarks read it)
        self._load_listeners: list[Callable[[ModelSpec], None]] = []

    def add_load_listener(self, listener: Callable[[ModelSpec], None]) -> Callable[[], None]:
        """Call `listener(spec)` on the loading thread before a model is read from disk (a load
        takes seconds, so a job queue can say what it is waiting for); returns the way to stop."""
        with self._lock:
            self._load_listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._load_listeners:
                    self._load_listeners.remove(listener)

        return remove

    def _announce(self, spec: ModelSpec) -> None:
        for listener in list(self._load_listeners):
            listener(spec)

    def _key(self, spec: ModelSpec) -> tuple:
        return (spec.family, spec.location, self.device, spec.dtype)

    def pipeline(self, spec: ModelSpec, kind: str = "txt2img"):
        """The pipeline of `kind` for `spec`, loading it (and evicting others) if needed."""
        with self._lock:
            key = self._key(spec)
            entry = self._entries.get(key)
            if entry is None:
                entry = self._load(spec)
                self._entries[key] = entry
            self._entries.move_to_end(key)
            if kind not in entry.pipelines:
                entry.pipelines[kind] = loader.derive_pipeline(entry.pipelines["txt2img"], spec.family, kind)
            return entry.pipelines[kind]

    def clip_pipeline(self, spec: ModelSpec, base: ModelSpec | None = None):
        """The loaded clip pipeline for `spec` (a motion adapter on `base`), loading it if needed.
        Tasks run a per-job view of it (loader.derive_clip_pipeline), never this one itself."""
        with self._lock:
            key = self._key(spec) + ((base.location,) if base is not None else ())
            entry = self._entries.get(key)
            if entry is None:
                dtype = pick_dtype(self.device, spec.dtype)
                self._announce(spec)
                incoming = loader.weights_on_disk(spec) + (loader.weights_on_disk(base) if base else 0)
                self._make_room(incoming)
                pipe = loader.load_clip_pipeline(spec, self.device, dtype, base)
                self.loads += 1
                self._settle()
                entry = _Entry(spec, {"clip": pipe}, loader.module_bytes(pipe))
                self._make_room(entry.nbytes)
                self._entries[key] = entry
            self._entries.move_to_end(key)
            return entry.pipelines["clip"]

    def scorer(self, spec: ModelSpec):
        with self._lock:
            key = self._key(spec)
            entry = self._entries.get(key)
            if entry is None:
                self._announce(spec)
                model = loader.load_scorer(spec, self.device)
                self.loads += 1
                self._settle()
                entry = _Entry(spec, {"scorer": model}, loader.module_bytes(model.model))
                self._make_room(entry.nbytes)
                self._entries[key] = entry
            self._entries.move_to_end(key)
            return entry.pipelines["scorer"]

    def _load(self, spec: ModelSpec) -> _Entry:
        dtype = pick_dtype(self.device, spec.dtype)
        self._announce(spec)
        # make room before loading (from the size on disk), so two large models never coexist
        self._make_room(loader.weights_on_disk(spec))
        pipe = loader.load_text_to_image(spec, self.device, dtype)
        self.loads += 1
        self._settle()
        nbytes = loader.module_bytes(pipe)
        self._make_room(nbytes)
        return _Entry(spec, {"txt2img": pipe}, nbytes)

    def _make_room(self, incoming: int) -> None:
        if self.max_bytes is None:
            return
        evicted = False
        while self._entries and self.used_bytes() + incoming > self.max_bytes:
            self._entries.popitem(last=False)
            evicted = True
        if not evicted:
            return  # a full collection holds the GIL for a few hundred ms (engine.heap): not for nothing
        self._collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def _settle(self) -> None:
        if self.settle_heap:
            heap.settle()  # the model just loaded is long-lived

    def _collect(self) -> None:
        """After models were dropped: a full collection (of the settled heap too, when settling)."""
        heap.collect() if self.settle_heap else gc.collect()

    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def loaded(self) -> list[str]:
        """Ids of loaded models, least recently used first."""
        with self._lock:
            return [e.spec.id for e in self._entries.values()]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        self._collect()

"""engine.heap: a settled heap is skipped by collections until collect(); the model cache settles on request."""

import gc
import weakref

from engine import heap
from engine.models.cache import ModelCache
from engine.models.registry import ModelRegistry


class _Node:
    pass


def _garbage_cycle() -> weakref.ref:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # only the cycle collector can free these
    return weakref.ref(a)


def test_a_settled_cycle_survives_collections_until_collect():
    try:
        gc.collect()
        alive = _garbage_cycle()
        heap.settle()
        gc.collect()
        assert alive() is not None  # frozen: full collections no longer walk it
        heap.collect()
        assert alive() is None  # collect() walks everything again, then settles what is left
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_model_cache_settles_after_a_load_only_when_asked(kit):
    for settle in (False, True):
        gc.unfreeze()
        try:
            cache = ModelCache(ModelRegistry(bundled_dir=kit), device="cpu", settle_heap=settle)
            cache.pipeline(cache.registry.resolve("tiny-sd1"))
            assert (gc.get_freeze_count() > 0) is settle
        finally:
            gc.unfreeze()

"""A job that waits for a model to load says so (a Loading event), instead of looking stuck at 'starting'."""

from __future__ import annotations

from engine import events
from engine.api import GenerateRequest
from engine.jobs import JobQueue
from engine.models.cache import ModelCache
from engine.models.registry import ModelRegistry


def _request(tmp_path, seed):
    return GenerateRequest(prompt="a red circle", output_dir=str(tmp_path), model="tiny-sd1", steps=1, seed=seed,
                           rerank=False)


def test_a_job_announces_the_model_it_loads_once_before_its_first_step(kit, tmp_path):
    cache = ModelCache(ModelRegistry(bundled_dir=kit), device="cpu")  # fresh: nothing loaded yet
    seen: list = []
    with JobQueue(model_cache=cache) as queue, JobQueue(model_cache=cache) as other:
        queue.subscribe(seen.append)
        other_seen: list = []
        other.subscribe(other_seen.append)
        first = queue.submit(_request(tmp_path, 1))
        first.wait(120)
        second = queue.submit(_request(tmp_path, 2))
        second.wait(120)
        queue.flush(10)
    assert first.status.value == "completed" and second.status.value == "completed"
    mine = [e for e in seen if getattr(e, "job_id", None) == first.id]
    kinds = [type(e) for e in mine]
    assert events.Loading(first.id, "tiny-sd1") in mine
    assert kinds.index(events.Started) < kinds.index(events.Loading) < kinds.index(events.Progress)
    assert not [e for e in seen if isinstance(e, events.Loading) and e.job_id == second.id]  # cached: no load
    assert not [e for e in other_seen if isinstance(e, events.Loading)]  # another queue's load is not its job's


def test_a_shut_down_queue_stops_listening_to_the_cache(kit):
    cache = ModelCache(ModelRegistry(bundled_dir=kit), device="cpu")
    JobQueue(model_cache=cache).shutdown()
    assert cache._load_listeners == []

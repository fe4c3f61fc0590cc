"""Job queue overhead: per-job cost against calling the task directly, and submit-to-start latency.

    python tests/benchmarks/bench_queue.py [--out FILE] [--n 500]

Prints one JSON object. Times are microseconds. "pipelined" submits all N jobs, then waits for
them (the queue's throughput); "one_by_one" submits a job and waits for its handle before the
next (a full round trip, including event delivery to one no-op subscriber, as the GUI bridge
is). Per-job figures are the best of `--repeat` runs, the usual way to read a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout, not installed

from engine.jobs import JobContext, JobQueue  # noqa: E402


@dataclass(frozen=True)
class BenchJob:
    task: ClassVar[str] = "bench"
    resource: ClassVar[str] = "gpu"  # the single-worker path generations take
    index: int = 0


def trivial(request: Any, ctx: JobContext) -> int:
    return request.index


def sleep_5ms(request: Any, ctx: JobContext) -> int:
    time.sleep(0.005)
    return request.index


def per_job_direct(task: Callable, n: int) -> float:
    ctx = JobContext(0)
    requests = [BenchJob(i) for i in range(n)]
    start = time.perf_counter()
    for request in requests:
        task(request, ctx)
    return (time.perf_counter() - start) / n * 1e6


def per_job_pipelined(task: Callable, n: int) -> float:
    with JobQueue(runner=task) as queue:
        queue.subscribe(lambda event: None)
        queue.submit(BenchJob(-1)).wait()  # start the threads outside the timing
        requests = [BenchJob(i) for i in range(n)]
        start = time.perf_counter()
        handles = [queue.submit(request) for request in requests]
        for handle in handles:
            handle.wait()
        return (time.perf_counter() - start) / n * 1e6


def per_job_one_by_one(task: Callable, n: int) -> float:
    with JobQueue(runner=task) as queue:
        queue.subscribe(lambda event: None)
        queue.submit(BenchJob(-1)).wait()
        requests = [BenchJob(i) for i in range(n)]
        start = time.perf_counter()
        for request in requests:
            queue.submit(request).wait()
        return (time.perf_counter() - start) / n * 1e6


def compare(task: Callable, n: int, repeat: int) -> dict[str, float]:
    direct = min(per_job_direct(task, n) for _ in range(repeat))
    pipelined = min(per_job_pipelined(task, n) for _ in range(repeat))
    one_by_one = min(per_job_one_by_one(task, n) for _ in range(repeat))
    return {
        "direct_us_per_job": round(direct, 2),
        "queue_pipelined_us_per_job": round(pipelined, 2),
        "queue_one_by_one_us_per_job": round(one_by_one, 2),
        "overhead_pipelined_us_per_job": round(pipelined - direct, 2),
        "overhead_one_by_one_us_per_job": round(one_by_one - direct, 2),
        "ratio_one_by_one_to_direct": round(one_by_one / direct, 3),
    }


def submit_to_start_latency(samples: int) -> dict[str, float]:
    """From just before submit() to the first line of the task, on an otherwise idle queue."""
    started: list[float] = []

    def stamp(request: Any, ctx: JobContext) -> None:
        started.append(time.perf_counter())

    latencies: list[float] = []
    with JobQueue(runner=stamp) as queue:
        queue.subscribe(lambda event: None)
        for i in range(samples + 1):
            before = time.perf_counter()
            queue.submit(BenchJob(i)).wait()  # wait: the queue is idle again for the next sample
            latencies.append((started[-1] - before) * 1e6)
    cold, warm = latencies[0], sorted(latencies[1:])
    return {
        "samples": samples,
        "median_us": round(statistics.median(warm), 1),
        "p95_us": round(warm[int(0.95 * (len(warm) - 1))], 1),
        "max_us": round(warm[-1], 1),
        "cold_first_job_us": round(cold, 1),  # includes starting the worker thread
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--n", type=int, default=500, help="jobs per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=300)
    args = parser.parse_args(argv)

    report = {
        "benchmark": "job_queue",
        "n": args.n,
        "repeat": args.repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "trivial_task": compare(trivial, args.n, args.repeat),
        "sleep_5ms_task": compare(sleep_5ms, args.n, 1),  # sleeps dominate; one run is enough
        "submit_to_start_latency_idle": submit_to_start_latency(args.latency_samples),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()

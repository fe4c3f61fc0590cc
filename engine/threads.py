"""How torch's CPU threads wait and how many there are: set once, before torch loads.

torch's OpenMP threads spin while they wait for work. With other programs busy on the cores
(a desktop, a browser, a second job) the spinning threads steal time from each other and from
the thread that holds the work: on 2 busy cores a 2-image toy-scenes generation took 214 s with
the default policy and 9.7 s with OMP_WAIT_POLICY=PASSIVE (issue 12). In the window the GUI
thread shares the process, so torch gets one core fewer there and the event loop keeps one.

OpenMP reads both settings when torch loads, so every entry point (the `latent-studio` launcher,
`python -m engine.cli`, the toy training) calls `apply_thread_policy` before anything imports
torch. What the user set in the environment is kept. One module owns this, nothing else sets them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import MutableMapping

WAIT_POLICY = "PASSIVE"


@dataclass(frozen=True)
class ThreadPolicy:
    wait_policy: str
    threads: int
    from_user: bool  # the environment already named a thread count, which wins
    in_time: bool  # set before torch loaded; otherwise torch keeps what it started with


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset can allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def torch_threads(gui: bool, cores: int | None = None) -> int:
    """All usable cores for the command line; one fewer while the window's event loop needs one."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores - 1) if gui else cores


def apply_thread_policy(gui: bool = False, environ: MutableMapping[str, str] = os.environ) -> ThreadPolicy:
    """Passive waiting and a thread count for torch, unless the user's environment says otherwise."""
    environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    from_user = bool(environ.get("OMP_NUM_THREADS", "").strip())
    if not from_user:
        environ["OMP_NUM_THREADS"] = str(torch_threads(gui))
    try:
        threads = max(1, int(environ["OMP_NUM_THREADS"].split(",")[0]))
    except ValueError:
        threads = torch_threads(gui)
    return ThreadPolicy(environ["OMP_WAIT_POLICY"], threads, from_user, in_time="torch" not in sys.modules)

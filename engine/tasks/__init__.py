"""Tasks: plain functions of (request, context) -> result, one module per task.

`run_task` picks the function by the request's `task` name and imports its module only
then, so importing the engine stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# task name -> "module:function"; a constant table, filled by hand as tasks are added.
TASK_FUNCTIONS: dict[str, str] = {
    "generate": "engine.tasks.generate:run",
    "resample": "engine.tasks.resample:run",
    "inpaint": "engine.tasks.inpaint:run",
    "compare": "engine.tasks.compare:run",
}


def run_task(request: Any, context: Any) -> Any:
    target = TASK_FUNCTIONS.get(request.task)
    if target is None:
        raise ValueError(f"no task is registered for {request.task!r}")
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return function(request, context)

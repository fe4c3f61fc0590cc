"""Tasks: plain functions of (request, context) -> result, one module per task.

`run_task` looks the function up in the one task table (`engine.api.TASKS`) and imports its
module only then, so importing the engine stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.api import TASKS
from engine.validation import check_request


def run_task(request: Any, context: Any) -> Any:
    task = TASKS.get(request.task)
    if task is None or not isinstance(request, task.request):
        raise ValueError(f"no task is registered for {type(request).__name__} ({request.task!r})")
    check_request(request)  # every executor comes through here: types and bounds before any work
    module_name, function_name = task.function.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return function(request, context)

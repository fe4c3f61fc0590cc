"""Errors a user can act on.

Every exception meant for a person derives from `StudioError`; its message is one sentence
that says what went wrong and what to do. `kind` is a short machine-readable tag that the
queue puts on Failed events and the CLI prints in JSON.
"""


class StudioError(Exception):
    kind = "error"


class BadInput(StudioError):
    """The request or a file it names cannot be used as given."""

    kind = "bad_input"


class ModelNotFound(StudioError):
    kind = "model_not_found"


class UnsafeCheckpoint(StudioError):
    """A pickled checkpoint was offered without the user trusting it."""

    kind = "unsafe_checkpoint"


class Cancelled(Exception):
    """Raised inside a task at a cancel point; the queue turns it into a Cancelled event."""


class OutOfMemory(StudioError):
    kind = "out_of_memory"

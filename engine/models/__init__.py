"""Model specs, the registry that finds them, and the loader/cache that turns them into pipelines."""

from engine.models.spec import ModelSpec

__all__ = ["ModelSpec"]

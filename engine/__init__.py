"""Latent Studio engine: Qt-free jobs, models and tasks.

Importing this package is cheap: torch, diffusers and transformers load only when a
job needs them, and PySide6 never does (a test checks both).
"""

__version__ = "0.1.0"

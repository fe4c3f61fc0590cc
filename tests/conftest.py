"""Shared fixtures: tiny random-weight models written once per session, and an offline guard."""

from __future__ import annotations

import os
import socket

import pytest

# Nothing in the suite may reach the network: the hub libraries are told so, and any socket
# connection to a non-loopback address fails the test that tried it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("LATENT_STUDIO_DEVICE", "cpu")

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect


@pytest.fixture(scope="session")
def kit(tmp_path_factory):
    """A folder of tiny models: sd1, sd2, sdxl and clip, in diffusers layout."""
    from engine.testing import KIT_WRITERS

    root = tmp_path_factory.mktemp("kit")
    for name, writer in KIT_WRITERS.items():
        writer(root / name)
    return root


@pytest.fixture(scope="session")
def kit_cache(kit):
    """One model cache over the kit, shared so each tiny pipeline loads once per session."""
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry

    return ModelCache(ModelRegistry(bundled_dir=kit), device="cpu")


@pytest.fixture(scope="session")
def video_kit(tmp_path_factory):
    """A folder of tiny clip models: an AnimateDiff motion adapter (on the tiny SD 1.x base it
    names, with a tiny IP-Adapter for it), SVD, LTX-Video and Wan, in diffusers layout. Separate from `kit`, so sessions that
    make no clips never write them."""
    from engine.testing import VIDEO_KIT_WRITERS

    from engine.testing import write_tiny_ip_adapter

    root = tmp_path_factory.mktemp("video-kit")
    for name, writer in VIDEO_KIT_WRITERS.items():
        writer(root / name)
    write_tiny_ip_adapter(root / "ip-adapter", root / "sd1")  # no model of its own: the registry skips it
    return root


@pytest.fixture(scope="session")
def video_cache(video_kit):
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry

    return ModelCache(ModelRegistry(bundled_dir=video_kit), device="cpu")


class DirectContext:
    """A TaskContext (engine.jobs) for calling a task directly, recording progress."""

    def __init__(self, model_cache):
        self.model_cache = model_cache
        self.progress = []
        self.saved = []  # (steps reported before it, index, path, seed) per candidate_ready
        self.cancel_after = None

    def report(self, step, total, preview=None):
        self.progress.append((step, total, preview))

    def candidate_ready(self, index, path, seed):
        self.saved.append((len(self.progress), index, path, seed))

    def check_cancelled(self):
        from engine.errors import Cancelled

        if self.cancel_after is not None and len(self.progress) >= self.cancel_after:
            raise Cancelled()


@pytest.fixture
def direct_context(kit_cache):
    return DirectContext(kit_cache)


@pytest.fixture(scope="session")
def make_direct_context():
    """DirectContext over any model cache (a test module can't import conftest by name: in a whole-suite
    run `conftest` may resolve to tests/studio/conftest.py)."""
    return DirectContext

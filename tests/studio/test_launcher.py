"""`latent-studio` with no arguments: the window where there is a screen, a clear sentence where not."""

import os
import subprocess
import sys

from studio.launcher import has_screen


def test_screen_detection():
    assert not has_screen({}, "linux")
    assert has_screen({"DISPLAY": ":0"}, "linux")
    assert has_screen({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert has_screen({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert has_screen({}, "darwin") and has_screen({}, "win32")


def test_without_a_screen_it_says_what_to_do_instead_of_crashing():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "studio.launcher"], env=env, capture_output=True, text=True,
                          timeout=120)
    if sys.platform.startswith("linux"):
        assert proc.returncode == 2
        assert "latent-studio demo" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

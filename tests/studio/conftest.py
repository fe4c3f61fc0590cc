"""GUI tests run headless: Qt's offscreen platform, chosen before any Qt module loads."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

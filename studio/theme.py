"""The dark theme: a Fusion palette for what stylesheets do not reach, plus resources/styles/dark.qss."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.paths import resources_dir

WINDOW = "#23262e"
BASE = "#1b1d23"
TEXT = "#d8dae0"
ACCENT = "#7aa2ff"


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.Window: WINDOW, QPalette.WindowText: TEXT, QPalette.Base: BASE,
        QPalette.AlternateBase: "#20232a", QPalette.Text: TEXT, QPalette.Button: "#2e323c",
        QPalette.ButtonText: TEXT, QPalette.Highlight: ACCENT, QPalette.HighlightedText: "#0d0f14",
        QPalette.ToolTipBase: "#2e323c", QPalette.ToolTipText: TEXT, QPalette.PlaceholderText: "#6b7080",
        QPalette.Link: ACCENT, QPalette.Mid: "#3a3f4b", QPalette.Dark: "#15171c", QPalette.Light: "#3a3f4b",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.Text, QPalette.WindowText, QPalette.ButtonText):
        palette.setColor(QPalette.Disabled, role, QColor("#5d6270"))
    return palette


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    qss = resources_dir() / "styles" / "dark.qss"
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))

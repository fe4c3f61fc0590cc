"""Icons from resources/icons, by name (the file stem), cached per QApplication by Qt itself."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from engine.paths import resources_dir


def icon_path(name: str) -> str:
    path = resources_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        raise KeyError(f"no icon called {name!r} in {path.parent}")
    return str(path)


def icon(name: str) -> QIcon:
    return QIcon(icon_path(name))

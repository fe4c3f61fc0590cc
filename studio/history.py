"""Where results live, and the history of past results shown in the window.

Every job writes its results into the current session folder under the user's data folder
as it finishes, so nothing exists only in memory; the history lists those folders' images on
the next start. Scanning and thumbnail loading run on a thread pool, never the GUI thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRunnable, QThreadPool, Qt, Signal, Slot
from PySide6.QtGui import QImage

THUMBNAIL = 96
# compare writes these beside its results; they are views of a comparison, not images to edit
_NOT_RESULTS = ("-side-by-side", "-heatmap-")


class SessionFolders:
    """The sessions/ folder of the user's data directory and the folder of this run."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "sessions"
        self.current = self.root / time.strftime("%Y-%m-%d_%H%M%S")
        suffix = 1
        while self.current.exists():
            self.current = self.root / f"{time.strftime('%Y-%m-%d_%H%M%S')}-{suffix}"
            suffix += 1

    def results_dir(self) -> Path:
        self.current.mkdir(parents=True, exist_ok=True)
        return self.current

    def imports_dir(self) -> Path:
        folder = self.current / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def is_result_image(path: Path) -> bool:
    return path.suffix.lower() == ".png" and not any(tag in path.stem for tag in _NOT_RESULTS) \
        and path.parent.name != "imports"


def scan_results(root: Path, limit: int = 500) -> list[Path]:
    """Result images under `root`, newest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.glob("*/*.png") if is_result_image(p)]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]


def load_thumbnail(path: Path) -> QImage:
    image = QImage(str(path))
    if image.isNull():
        return image
    return image.scaled(THUMBNAIL, THUMBNAIL, Qt.KeepAspectRatio, Qt.SmoothTransformation)


@dataclass
class HistoryItem:
    path: str
    thumbnail: QImage


class _Signals(QObject):
    loaded = Signal(object)  # list[HistoryItem], appended in order


class _LoadJob(QRunnable):
    def __init__(self, paths: list[Path] | None, root: Path | None, signals: _Signals):
        super().__init__()
        self._paths, self._root, self._signals = paths, root, signals

    def run(self) -> None:
        paths = self._paths if self._paths is not None else scan_results(self._root)
        self._signals.loaded.emit([HistoryItem(str(p), load_thumbnail(p)) for p in paths])


class HistoryModel(QAbstractListModel):
    """Past and present results, newest first; `add` prepends a finished result."""

    PathRole = Qt.UserRole + 1

    def __init__(self, folders: SessionFolders, pool: QThreadPool | None = None, parent=None):
        super().__init__(parent)
        self._folders = folders
        self._items: list[HistoryItem] = []
        self._pool = pool or QThreadPool.globalInstance()
        self._signals = _Signals()
        self._pending_front: list[HistoryItem] = []
        self._signals.loaded.connect(self._on_loaded)

    def reload(self) -> None:
        self._pool.start(_LoadJob(None, self._folders.root, self._signals))

    def add(self, paths: list[str]) -> None:
        self._pool.start(_LoadJob([Path(p) for p in reversed(paths)], None, self._signals))

    @Slot(object)
    def _on_loaded(self, items: list[HistoryItem]) -> None:
        known = {item.path for item in self._items}
        fresh = [item for item in items if item.path not in known]
        if not fresh:
            return
        if self._items and all(Path(i.path).parent == self._folders.current for i in fresh):
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._items[:0] = list(reversed(fresh)) if len(fresh) > 1 else fresh
        else:
            self.beginInsertRows(QModelIndex(), len(self._items), len(self._items) + len(fresh) - 1)
            self._items.extend(fresh)
        self.endInsertRows()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if role == Qt.DecorationRole:
            return item.thumbnail
        if role in (Qt.ToolTipRole, self.PathRole):
            return item.path
        if role == Qt.DisplayRole:
            return ""
        return None

    def path_at(self, row: int) -> str:
        return self._items[row].path

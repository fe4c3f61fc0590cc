"""Where results live, and the history of past results shown in the window.

Every job writes its results into the current session folder under the user's data folder
as it finishes, so nothing exists only in memory; the history lists those folders' images on
the next start. Scanning and thumbnail loading run on a thread pool, never the GUI thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, QThreadPool, Qt

from engine.api import EditSettings, GridSeeds
from engine.errors import BadInput
from engine.metadata import read_recorded, read_request
from studio.background import BackgroundCalls
from studio.images import load_thumbnail
from studio.viewmodels.job_list import one_line

THUMBNAIL = 96
PROMPT_CHARS = 28  # under a thumbnail; the tooltip has the whole prompt


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
    """A PNG whose Latent Studio metadata records the request that made it. Compare's strips and
    heatmaps, imported images and masks record none, whatever their names say."""
    if path.suffix.lower() != ".png":
        return False
    try:
        read_request(path)
    except BadInput:
        return False
    return True


def scan_results(root: Path, limit: int = 500) -> list[Path]:
    """Result images under `root`, newest first."""
    if not root.is_dir():
        return []
    found = sorted(root.glob("*/*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [p for p in found if is_result_image(p)][:limit]


@dataclass(frozen=True)
class HistoryItem:
    """One past result as its metadata describes it."""

    path: str
    thumbnail: Any  # QImage (null when unreadable)
    made: float  # when the file was written (seconds since the epoch)
    request: Any = None  # the request that made it (GenerateRequest, ResampleRequest, ...), None if unknown
    settings: EditSettings = EditSettings()  # prompt, model and sampling, as recorded
    grid: GridSeeds | None = None
    size: tuple[int, int] | None = None  # (width, height)

    @property
    def prompt(self) -> str:
        return self.settings.prompt or ""

    @property
    def kind(self) -> str:
        """What made it: "generate", "resample", "inpaint" (the request's task), or "image"."""
        return type(self.request).task if self.request is not None else "image"

    def date_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.made))


def read_history_item(path: Path) -> HistoryItem:
    """Thumbnail and recorded metadata of one result: file work, for a worker thread."""
    recorded = read_recorded(path)
    try:
        request = read_request(path)
    except BadInput:
        request = None
    thumbnail = load_thumbnail(str(path), THUMBNAIL)
    from PIL import Image

    try:
        with Image.open(path) as image:
            size = image.size
    except OSError:
        size = None
    return HistoryItem(str(path), thumbnail, path.stat().st_mtime, request, recorded.settings, recorded.grid, size)


def _read_items(paths: list[Path] | None, root: Path | None) -> list[HistoryItem]:
    items = []
    for path in paths if paths is not None else scan_results(root):
        try:
            items.append(read_history_item(Path(path)))
        except OSError:
            continue  # deleted meanwhile: nothing to list
    return items


class HistoryModel(QAbstractListModel):
    """Past and present results, newest first; `add` prepends a finished result."""

    PathRole = Qt.UserRole + 1
    ItemRole = Qt.UserRole + 2  # the HistoryItem

    def __init__(self, folders: SessionFolders, pool: QThreadPool | None = None, parent=None):
        super().__init__(parent)
        self._folders = folders
        self._items: list[HistoryItem] = []
        self._reads = BackgroundCalls(latest_only=False, pool=pool, parent=self)

    def reload(self) -> None:
        self._reads.call(partial(_read_items, None, self._folders.root), self._on_loaded, lambda message: None)

    def add(self, paths: list[str]) -> None:
        """Results a job just wrote (the caller knows they are results: no metadata check)."""
        self._reads.call(partial(_read_items, [Path(p) for p in reversed(paths)], None), self._on_loaded,
                         lambda message: None)

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
        if role == Qt.DisplayRole:
            return f"{one_line(item.prompt or item.kind.capitalize(), PROMPT_CHARS)}\n{item.date_text()}"
        if role == Qt.ToolTipRole:
            lines = [item.prompt or "(no prompt)", f"{item.kind.capitalize()} · {item.date_text()}"]
            if item.settings.model:
                lines.append(f"Model: {item.settings.model}")
            return "\n".join(lines + [item.path])
        if role == self.PathRole:
            return item.path
        if role == self.ItemRole:
            return item
        if role == Qt.SizeHintRole:
            return QSize(THUMBNAIL + 24, THUMBNAIL + 40)
        return None

    def path_at(self, row: int) -> str:
        return self._items[row].path

    def item_at(self, row: int) -> HistoryItem:
        return self._items[row]

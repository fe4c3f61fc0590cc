"""The media bin: the project's clips, stills and imported files with thumbnails.

Drag one onto the timeline (it carries the file's URL, as a file manager's drag does), or
double-click it to append it. "Import…" copies files into the project's media folder and
lists them without placing them (an AddMedia step, undoable like every edit). Thumbnails are
rendered on a worker by the engine's frame renderer, like the timeline's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from engine.timeline.model import Clip
from studio.background import BackgroundCalls
from studio.viewmodels.timeline import render_thumbnail

MEDIA_FILTER = "Media (*.mp4 *.webm *.mov *.mkv *.png *.jpg *.jpeg *.webp *.wav *.mp3 *.flac *.ogg)"


class MediaList(QListWidget):
    def mimeData(self, items):
        data = super().mimeData(items)
        data.setUrls([QUrl.fromLocalFile(item.data(Qt.UserRole)) for item in items])
        return data


class MediaBin(QWidget):
    place_requested = Signal(str)  # a path to append to the timeline
    import_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("MediaBin")
        self.list = MediaList()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(QSize(96, 54))
        self.list.setResizeMode(QListWidget.Adjust)
        self.list.setMovement(QListWidget.Static)
        self.list.setDragEnabled(True)
        self.list.setDragDropMode(QAbstractItemView.DragOnly)
        self.list.itemDoubleClicked.connect(lambda item: self.place_requested.emit(item.data(Qt.UserRole)))
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Copy video, stills or sound into the project's media folder")
        self.import_button.clicked.connect(self._import)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.import_button)
        self._thumbnails = BackgroundCalls(latest_only=False, parent=self)
        self._shown: tuple = ()

    def set_timeline(self, timeline) -> None:
        media = tuple(ref for ref in timeline.media if ref.path) if timeline else ()
        if media == self._shown:
            return
        self._shown = media
        self.list.clear()
        for ref in media:
            item = QListWidgetItem(Path(ref.path).name)
            item.setData(Qt.UserRole, ref.path)
            item.setToolTip(f"{ref.path}\n{ref.kind}" + (f", {ref.frames} frames" if ref.frames else ""))
            self.list.addItem(item)
            if ref.kind != "audio":  # a still or a clip: its first frame, as the renderer draws it
                self._thumbnails.call(partial(render_thumbnail, timeline, Clip(ref.id, 0, 1)),
                                      partial(self._set_icon, ref.path), lambda _text: None)

    def _set_icon(self, path: str, image) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.UserRole) == path and image is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))

    def paths(self) -> list[str]:
        return [self.list.item(row).data(Qt.UserRole) for row in range(self.list.count())]

    def _import(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import media", str(Path.home()), MEDIA_FILTER)
        if paths:
            self.import_requested.emit(paths)

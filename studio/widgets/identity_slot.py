"""The identity-reference slot of the clip bar: images of the shot's subject, dragged in from the
file manager, the candidates strip or the media bin (all send file URLs). Make clip and Continue
keep to their look (ClipRequest / ContinueRequest `identity_references`).

Thumbnails are decoded on the background pool (studio.images.ThumbnailLoader); a file that turns
out not to decode is dropped from the slot with a sentence, so a job never starts on it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from engine.timeline.media import IMAGE_SUFFIXES
from studio.icons import icon
from studio.images import ThumbnailLoader

THUMB = 20  # px: the slot sits in a toolbar row
SHOWN = 4  # thumbnails drawn; more references show as "+n"
EMPTY_TIP = ("Identity references: drop images of the shot's subject here (from the file manager, the candidates "
             "or the media bin); Make clip and Continue keep to their look")


class IdentitySlot(QFrame):
    changed = Signal(tuple)  # the reference paths, in the order they came
    refused = Signal(str)  # a sentence for the status bar

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("IdentitySlot")
        self.setAcceptDrops(True)
        self._paths: tuple[str, ...] = ()
        self._thumbnails: dict[str, QPixmap] = {}
        self._loader = ThumbnailLoader(THUMB * 2, parent=self)  # twice the size: crisp on a HiDPI screen
        self.caption = QLabel("Identity")
        self._images = QHBoxLayout()
        self._images.setContentsMargins(0, 0, 0, 0)
        self._images.setSpacing(2)
        self.clear_action = QAction(icon("clear"), "Clear references", self)
        self.clear_action.triggered.connect(self.clear)
        self.clear_button = QToolButton()
        self.clear_button.setDefaultAction(self.clear_action)
        self.clear_button.setIconSize(QSize(12, 12))
        self.clear_button.setAutoRaise(True)
        self.addAction(self.clear_action)
        self.setContextMenuPolicy(Qt.ActionsContextMenu)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 1, 1)
        layout.setSpacing(4)
        layout.addWidget(self.caption)
        layout.addLayout(self._images)
        layout.addWidget(self.clear_button)
        self._show()

    # --- the references ------------------------------------------------------------------

    def references(self) -> tuple[str, ...]:
        return self._paths

    def add(self, paths) -> None:
        """Add the image files among `paths` (each once); say which files were refused and why."""
        images, refused = [], []
        for path in paths:
            (images if Path(path).suffix.lower() in IMAGE_SUFFIXES else refused).append(str(path))
        if refused:
            names = ", ".join(Path(p).name for p in refused)
            self.refused.emit(f"{names}: not an image. Identity references are pictures of the subject "
                              f"({', '.join(sorted(s.lstrip('.') for s in IMAGE_SUFFIXES))}).")
        new = [p for p in dict.fromkeys(images) if p not in self._paths]
        if not new:
            return
        self._set(self._paths + tuple(new))
        for path in new:
            self._loader.load(path, lambda image, p=path: self._on_thumbnail(p, image))

    def clear(self) -> None:
        self._set(())

    def _set(self, paths: tuple[str, ...]) -> None:
        self._paths = paths
        self._thumbnails = {p: pixmap for p, pixmap in self._thumbnails.items() if p in paths}
        self._show()
        self.changed.emit(paths)

    def _on_thumbnail(self, path: str, image: QImage) -> None:
        if path not in self._paths:
            return  # cleared while it decoded
        if image.isNull():
            self._set(tuple(p for p in self._paths if p != path))
            self.refused.emit(f"{Path(path).name} could not be read as an image; it is not used as a reference.")
            return
        pixmap = QPixmap.fromImage(image.scaled(THUMB * 2, THUMB * 2, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        pixmap.setDevicePixelRatio(2.0)
        self._thumbnails[path] = pixmap
        self._show()

    # --- drawing -------------------------------------------------------------------------

    def thumbnails_shown(self) -> int:
        return sum(1 for path in self._paths[:SHOWN] if path in self._thumbnails)

    def _show(self) -> None:
        while self._images.count():
            self._images.takeAt(0).widget().deleteLater()
        for path in self._paths[:SHOWN]:
            label = QLabel()
            label.setFixedSize(THUMB, THUMB)
            label.setAlignment(Qt.AlignCenter)
            if path in self._thumbnails:
                label.setPixmap(self._thumbnails[path])
            self._images.addWidget(label)
        if len(self._paths) > SHOWN:
            self._images.addWidget(QLabel(f"+{len(self._paths) - SHOWN}"))
        self.clear_button.setVisible(bool(self._paths))
        self.clear_action.setEnabled(bool(self._paths))
        self.caption.setEnabled(bool(self._paths))  # greyed while empty: a place to drop, not a setting
        self.setToolTip("Identity references (Make clip and Continue keep to their look):\n" + "\n".join(self._paths)
                        if self._paths else EMPTY_TIP)
        self.update()

    def paintEvent(self, event) -> None:
        """A dashed outline: a place to drop images; solid once it holds some."""
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        colour = QColor("#7aa2ff") if self._paths else self.palette().mid().color()
        pen = QPen(colour, 1, Qt.SolidLine if self._paths else Qt.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)

    # --- drops ---------------------------------------------------------------------------

    @staticmethod
    def _files(event) -> list[str]:
        mime = event.mimeData()
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []

    def dragEnterEvent(self, event) -> None:
        # any files are taken, so that a drop of the wrong kind is answered with why, not ignored
        if self._files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, event) -> None:
        files = self._files(event)
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add(files)

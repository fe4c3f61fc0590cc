"""Export: a preset, size and rate, the destination; then progress, time left, cancel and "Show in folder".

The export is an ExportRequest on the job queue's CPU worker (engine.tasks.export), so the GPU
worker goes on generating meanwhile. It renders the project as it is on disk, so unsaved
edits are autosaved first (the export reads the autosave, as an open after a crash would).
Which presets show is what engine.timeline.encode.available_formats found working with this
ffmpeg (probed once, on a worker).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from engine.api import ExportRequest
from studio.background import BackgroundCalls

PRESETS = {"mp4": "MP4 (H.264) for the web", "webm": "WebM (VP9)", "gif": "GIF", "prores": "ProRes 422 (MOV)",
           "png": "PNG sequence (a folder)"}
SUFFIXES = {"mp4": ".mp4", "webm": ".webm", "gif": ".gif", "prores": ".mov", "png": ""}


def list_formats() -> tuple[str, ...]:
    from engine.timeline.encode import available_formats

    return available_formats()


class ExportDialog(QDialog):
    def __init__(self, session, bridge, queue, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("ExportDialog")
        self.setWindowTitle("Export video")
        self.session, self.queue = session, queue
        self.job_id: int | None = None
        self.result = None
        self._started = 0.0
        timeline = session.timeline

        self.format_box = QComboBox()
        self.format_box.setPlaceholderText("Finding the encoders…")
        self.width_box = QSpinBox(minimum=2, maximum=8192, value=timeline.width)
        self.height_box = QSpinBox(minimum=2, maximum=8192, value=timeline.height)
        self.fps_box = QComboBox(editable=True)
        self.fps_box.addItems([str(timeline.rate), "24", "25", "30", "60"])
        self.destination = QLineEdit(str(session.project.folder / "exports" / session.name))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.destination, 1)
        where.addWidget(browse)
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        form = QFormLayout()
        form.addRow("Preset", self.format_box)
        form.addRow("Size", size)
        form.addRow("Frame rate", self.fps_box)
        form.addRow("Save to", where)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m frames")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel export", QDialogButtonBox.ActionRole)
        self.show_button = self.buttons.addButton("Show in folder", QDialogButtonBox.ActionRole)
        close = self.buttons.addButton(QDialogButtonBox.Close)
        self.export_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.show_button.setEnabled(False)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.show_button.clicked.connect(self.show_in_folder)
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        bridge.progress.connect(self._on_progress)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)
        bridge.cancelled.connect(self._on_cancelled)
        self._formats = BackgroundCalls(latest_only=True, parent=self)
        self._formats.call(list_formats, self._set_formats,
                           lambda text: self.status.setText(f"Cannot run ffmpeg: {text}"))

    def _set_formats(self, names) -> None:
        for name in names:
            self.format_box.addItem(PRESETS.get(name, name), name)
        self.export_button.setEnabled(bool(names))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.destination.text())
        if path:
            self.destination.setText(path)

    def request(self) -> ExportRequest:
        fmt = self.format_box.currentData() or "mp4"
        output = self.destination.text().strip()
        suffix = SUFFIXES[fmt]
        if suffix and not output.lower().endswith(suffix):
            output += suffix
        return ExportRequest(project=str(self.session.project.folder), output=output, format=fmt,
                             width=self.width_box.value(), height=self.height_box.value(),
                             fps=self.fps_box.currentText().strip() or None)

    def start(self) -> None:
        request = self.request()
        Path(request.output).parent.mkdir(parents=True, exist_ok=True)  # a folder entry, not file work
        self.export_button.setEnabled(False)
        self.show_button.setEnabled(False)
        self.status.setText("Writing the project's current state…")
        self.session.write_for_export(lambda: self._submit(request))

    def _submit(self, request: ExportRequest) -> None:
        self._started = time.perf_counter()
        self.job_id = self.queue.submit(request).id
        self.cancel_button.setEnabled(True)
        self.status.setText("Exporting on the CPU worker; generation goes on meanwhile.")

    def cancel(self) -> None:
        if self.job_id is not None:
            self.queue.cancel(self.job_id)

    def show_in_folder(self) -> None:
        if self.result is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.result.path).parent)))

    # --- the job's events --------------------------------------------------------------------

    def _on_progress(self, job_id: int, step: int, total: int, _preview) -> None:
        if job_id != self.job_id:
            return
        self.progress.setMaximum(total)
        self.progress.setValue(step)
        elapsed = time.perf_counter() - self._started
        if step:
            left = elapsed / step * (total - step)
            self.status.setText(f"Frame {step} of {total}, about {left:.0f} s left.")

    def _on_finished(self, job_id: int, result) -> None:
        if job_id != self.job_id:
            return
        self.result, self.job_id = result, None
        self.progress.setValue(self.progress.maximum())
        self.status.setText(f"Exported {result.frames} frames ({result.seconds:.1f} s) to {result.path} "
                            f"in {result.wall_seconds:.1f} s.")
        self._done()
        self.show_button.setEnabled(True)

    def _on_failed(self, job_id: int, message: str, _kind: str) -> None:
        if job_id == self.job_id:
            self.job_id = None
            self.status.setText(f"Export failed: {message}")
            self._done()

    def _on_cancelled(self, job_id: int) -> None:
        if job_id == self.job_id:
            self.job_id = None
            self.status.setText("Export cancelled; nothing was left at the destination.")
            self._done()

    def _done(self) -> None:
        self.cancel_button.setEnabled(False)
        self.export_button.setEnabled(True)


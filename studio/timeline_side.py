"""The window's timeline half: the project (File menu), the timeline dock with its player, and their keys.

The MainWindow builds one `TimelineSide` and docks what it makes; this wires the project
session to the view-model and the views, so main_window.py only arranges.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QSplitter, QToolBar, QVBoxLayout, QWidget

from engine.project import AUTOSAVE_FILE, PROJECT_FILE
from studio.background import BackgroundCalls, PythonThreadPool
from studio.clip_jobs import ClipJobs
from studio.project_session import ProjectSession
from studio.viewmodels.timeline import TimelineState
from studio.widgets.identity_slot import IdentitySlot
from studio.widgets.media_bin import MediaBin
from studio.widgets.player import PlayerWidget
from studio.widgets.timeline_view import TimelineView

RECENT_KEY = "projects/recent"
RECENT_COUNT = 8


class TimelineSide(QObject):
    def __init__(self, window, settings, parent: QObject | None = None):
        super().__init__(parent or window)
        self.window = window
        self.settings = settings
        # project files go through OpenTimelineIO, which must not run on a Qt thread (PythonThreadPool)
        self._file_pool = PythonThreadPool("project-files")
        self.session = ProjectSession(window.document.undo_stack,
                                      BackgroundCalls(latest_only=False, pool=self._file_pool, parent=self), parent=self)
        self.state = TimelineState(self)
        self.view = TimelineView(self.state, self.session.apply)
        self.player = PlayerWidget(self.state)
        self.media_bin = MediaBin()
        self.media_bin.place_requested.connect(lambda path: self.add_files([path]))
        self.media_bin.import_requested.connect(lambda paths: [self.session.import_media(p) for p in paths])
        self.panel = QWidget()
        self.panel.setObjectName("TimelinePanel")
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(self.player)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self.clips = ClipJobs(self.session, self.state, window.controller, parent=self)
        layout = QVBoxLayout(self.panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._clip_bar())
        layout.addWidget(splitter)
        self._closing_after_save = False

        self.session.timeline_changed.connect(self._on_timeline)
        self.session.project_changed.connect(self._on_project)
        self.session.dirty_changed.connect(lambda _dirty: window.update_title())
        self.session.message.connect(lambda text: window.status.showMessage(text, 8000))
        self.session.failed.connect(lambda title, text: QMessageBox.warning(window, title, text))
        self.view.files_dropped.connect(self.add_files)
        self._build_actions()

    # --- actions ---------------------------------------------------------------------------

    def _panel_action(self, text: str, slot, keys) -> QAction:
        """A key that works while the timeline or the player has focus (Space pans the canvas elsewhere)."""
        action = QAction(text, self.panel)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        action.setToolTip(f"{text} ({', '.join(keys)})")
        action.triggered.connect(slot)
        self.panel.addAction(action)
        return action

    def _build_actions(self) -> None:
        window, view, player = self.window, self.view, self.player
        self.new_action = window._action("New project…", self.new_dialog, "Ctrl+Alt+N")
        self.open_action = window._action("Open project…", self.open_dialog, "Ctrl+Alt+O")
        self.save_action = window._action("Save project", self.save, "Ctrl+Alt+S")
        self.save_as_action = window._action("Save project as…", self.save_as_dialog)
        self.export_action = window._action("Export video…", self.export_dialog, "Ctrl+E")
        self.recent_menu = QMenu("Recent projects", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.timeline_actions = [
            self._panel_action("Play / pause", player.toggle_play, ["Space"]),
            self._panel_action("Play backwards (faster)", player.backward, ["J"]),
            self._panel_action("Pause", player.pause, ["K"]),
            self._panel_action("Play forwards (faster)", player.forward, ["L"]),
            self._panel_action("Previous frame", lambda: player.step(-1), ["Left"]),
            self._panel_action("Next frame", lambda: player.step(1), ["Right"]),
            self._panel_action("Go to start", player.home, ["Home"]),
            self._panel_action("Go to end", player.end, ["End"]),
            self._panel_action("Mark in", player.set_in, ["I"]),
            self._panel_action("Mark out", player.set_out, ["O"]),
            self._panel_action("Split at the playhead", view.split_at_playhead, ["S"]),
            self._panel_action("Ripple delete", view.ripple_delete, ["Delete", "Backspace"]),
            self._panel_action("Crossfade with the next clip", view.toggle_crossfade, ["T"]),
            self._panel_action("Add marker", view.add_marker, ["M"]),
            self._panel_action("Fit the timeline", view.fit, ["0"])  # Shotcut's key; Ctrl+0 fits the canvas,
        ]

    def _clip_bar(self) -> QToolBar:
        """Make clip / Clip from canvas / Cinemagraph / Continue: GPU jobs whose clip lands after the selected one."""
        prompt = lambda: self.window.prompt_panel.request().prompt  # noqa: E731 - the prompt box as it is now
        bar = QToolBar("Clips")
        bar.setObjectName("ClipBar")
        self.make_clip_action = bar.addAction("Make clip", lambda: self.clips.make_clip(prompt()))
        self.make_clip_action.setToolTip("A clip from the prompt, placed after the selected clip")
        self.canvas_clip_action = bar.addAction("Clip from canvas", lambda: self.clips.make_clip(prompt(), True))
        self.canvas_clip_action.setToolTip("The canvas image set in motion by the prompt")
        self.cinemagraph_action = bar.addAction("Cinemagraph", lambda: self.clips.cinemagraph(prompt()))
        self.cinemagraph_action.setToolTip("Only the masked part of the canvas image moves")
        self.continue_action = bar.addAction("Continue", lambda: self.clips.continue_selected(prompt()))
        self.continue_action.setToolTip("Carry the selected clip on from its last frame with the prompt")
        if not self.clips.can_continue():
            self.continue_action.setEnabled(False)
            self.continue_action.setToolTip("Continue comes with the continue task (not in this build)")
        bar.addSeparator()
        self.identity_slot = IdentitySlot()  # images the new clips keep to (dropped in)
        self.identity_slot.changed.connect(lambda paths: setattr(self.clips, "identity_references", paths))
        self.identity_slot.refused.connect(self.session.message)
        bar.addWidget(self.identity_slot)
        return bar

    def file_menu_actions(self) -> list:
        return [self.new_action, self.open_action, self.recent_menu.menuAction(), self.save_action, self.save_as_action,
                self.export_action]

    # --- project files -----------------------------------------------------------------------

    def new_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder for the new project", str(Path.home()))
        if folder:
            self.session.new_project(folder)

    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open project folder", str(Path.home()))
        if folder:
            self.open(folder)

    def open(self, folder: str) -> None:
        if self.session.is_dirty() and not self._agree_to_leave("open another project"):
            return
        self.session.open_project(folder)

    def save(self) -> None:
        if self.session.project is None:
            self.window.status.showMessage("No project to save: File > New project makes one.", 6000)
        self.session.save()

    def save_as_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Save the project into an empty folder", str(Path.home()))
        if folder:
            self.session.save_as(folder)

    def export_dialog(self):
        """The export dialog for the open project (non-modal: the window goes on while it exports)."""
        from studio.widgets.export_dialog import ExportDialog

        if self.session.timeline is None or not self.session.timeline.duration:
            self.window.status.showMessage("Nothing to export: put a clip on the timeline first.", 6000)
            return None
        controller = self.window.controller
        dialog = ExportDialog(self.session, controller.bridge, controller.queue, parent=self.window)
        dialog.show()
        self._export = dialog
        return dialog

    def recent(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, folder: str) -> None:
        recent = [folder] + [f for f in self.recent() if f != folder]
        self.settings.setValue(RECENT_KEY, recent[:RECENT_COUNT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.recent():
            self.recent_menu.addAction(Path(folder).name, lambda f=folder: self.open(f)).setToolTip(folder)
        if not self.recent():
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    def offer_recovery(self) -> bool:
        """At start: the last project has autosaved work no save came after (a crash, a kill); offer it."""
        recent = self.recent()
        if not recent or not (Path(recent[0]) / AUTOSAVE_FILE).is_file() or not (Path(recent[0]) / PROJECT_FILE).is_file():
            return False
        answer = QMessageBox.question(
            self.window, "Recover unsaved work",
            f"The last session ended without saving {Path(recent[0]).name}. Open its autosaved state?")
        if answer == QMessageBox.Yes:
            self.session.open_project(recent[0])
            return True
        return False

    def _agree_to_leave(self, doing: str) -> bool:
        answer = QMessageBox.question(
            self.window, "Unsaved changes", f"{self.session.name} has unsaved changes. Discard them and {doing}?",
            QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Discard

    def allow_close(self) -> bool:
        """closeEvent's question: Save (then close once saved), Discard, or Cancel."""
        if not self.session.is_dirty() or self._closing_after_save:
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes", f"Save the changes to {self.session.name} before closing?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Discard:
            return True
        if answer == QMessageBox.Save:
            self._closing_after_save = True
            self.session.save(on_saved=self.window.close)
        return False

    def title_part(self) -> str:
        return f"{self.session.name}[*]" if self.session.project else ""

    # --- updates -----------------------------------------------------------------------------

    def _on_project(self) -> None:
        if self.session.project is not None:
            self._remember(str(self.session.project.folder))
        self.window.update_title()

    def _on_timeline(self, timeline) -> None:
        self.state.set_timeline(timeline)
        self.player.set_timeline(timeline)
        self.media_bin.set_timeline(timeline)

    def add_files(self, paths: list, track: int = -1, frame: int | None = None) -> None:
        """Files dropped on the timeline (or added from the bin): each placed after the one before."""
        for number, path in enumerate(paths):
            at = frame if number == 0 else None  # the rest follow, appended in order
            self.session.add_media(path, None if track < 0 else track, at)

"""The main window: canvas in the middle, prompt on the left, queue and history on the right,
candidates along the bottom. It arranges widgets and actions; the controller does the work."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QSettings, QSize, Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QListView, QMainWindow, QMessageBox, QSpinBox, QStackedWidget, QToolBar,
)

from engine.api import EditSettings, GenerateRequest
from engine.errors import StudioError
from engine.models.registry import ModelRegistry, image_size_multiple
from studio.background import BackgroundCalls
from studio.controller import StudioController
from studio.document import ImageDocument, LoadedImage, save_png_copy
from studio.history import HistoryModel, SessionFolders
from studio.icons import icon
from studio.image_loader import AsyncImageLoader
from studio.images import write_new_png
from studio.viewmodels.job_list import JobListModel
from studio.status import StudioStatusBar
from studio.widgets.candidates_strip import CandidatesStrip
from studio.widgets.canvas import MAX_BRUSH, MIN_BRUSH, CanvasView
from studio.widgets.compare_view import CompareView
from studio.widgets.prompt_panel import PromptPanel
from studio.widgets.queue_panel import QueuePanel
from studio.widgets.shortcuts_dialog import ShortcutsDialog

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
# Small enough for a 1280x800 laptop screen with its panels, large enough that every toolbar button,
# the whole prompt panel and the queue's commands stay in view (test_window_image_side checks it).
MINIMUM_SIZE = (1180, 760)
DEFAULT_SIZE = (1400, 880)
# Keys the canvas handles itself because they act on the pointer or the selection, for the list.
CANVAS_KEYS = (("Move the block selection", "Arrow keys"), ("Clear the block selection", "Esc"),
               ("Pan", "Space + drag, or middle-drag"), ("Zoom", "Mouse wheel"))


def save_pasted(image: QImage, folders: SessionFolders) -> LoadedImage:
    """Write a pasted image as a new PNG in the session's imports folder (a worker's job: PNG encoding is slow)."""
    rgb = image.convertToFormat(QImage.Format_RGB888)
    target = write_new_png(rgb, folders.imports_dir() / "pasted.png", "the pasted image")
    return LoadedImage(str(target), rgb, None)  # the pixels are at hand; a paste records no grid


def list_image_models(registry: ModelRegistry) -> tuple[list, dict[str, int]]:
    """The image models and the size multiple each one's configs give (for the prompt panel).
    Scans model folders and reads configs: a worker's job."""
    specs = [spec for spec in registry.list() if spec.is_image_model]
    return specs, {spec.reference: image_size_multiple(spec) for spec in specs}


class MainWindow(QMainWindow):
    def __init__(self, controller: StudioController, registry: ModelRegistry, job_list: JobListModel,
                 settings: QSettings, device: str):
        super().__init__()
        self.setWindowTitle("Latent Studio")
        self.setWindowIcon(icon("app"))
        self.setObjectName("MainWindow")
        self.controller = controller
        self.registry = registry
        self.document: ImageDocument = controller.document
        self.settings = settings

        self.canvas = CanvasView(self.document)
        self.compare_view = CompareView()
        self.centre = QStackedWidget()
        self.centre.addWidget(self.canvas)
        self.centre.addWidget(self.compare_view)
        self.setCentralWidget(self.centre)

        self.prompt_panel = PromptPanel()
        self.candidates_strip = CandidatesStrip()
        self.candidates_strip.setModel(controller.candidates)
        self.queue_panel = QueuePanel(job_list, controller.queue)
        self.history_view = self._history_view(controller.history)

        self._dock("Prompt", "PromptDock", self.prompt_panel, Qt.LeftDockWidgetArea)
        self._dock("Candidates", "CandidatesDock", self.candidates_strip, Qt.BottomDockWidgetArea)
        queue_dock = self._dock("Queue", "QueueDock", self.queue_panel, Qt.RightDockWidgetArea)
        history_dock = self._dock("History", "HistoryDock", self.history_view, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(queue_dock, history_dock)
        queue_dock.raise_()

        self.image_loader = AsyncImageLoader(registry, self.prompt_panel.current_model, parent=self)
        self.image_loader.loaded.connect(self._on_image_loaded)
        self.image_loader.failed.connect(lambda message: QMessageBox.warning(self, "Cannot open image", message))
        self.status = StudioStatusBar(device)
        self.setStatusBar(self.status)
        # Listing scans the Hugging Face cache, slow when it is big; the picker fills when it is done
        # (a model restored from the settings is chosen then).
        self._model_listing = BackgroundCalls(latest_only=True, parent=self)
        self._model_listing.call(
            partial(list_image_models, registry), lambda listed: self.prompt_panel.set_models(*listed),
            lambda message: self.status.showMessage(f"Cannot list the models: {message}", 12000))
        self._file_calls = BackgroundCalls(latest_only=False, parent=self)
        self._build_actions()
        self._connect()
        self._dock_timeline(settings)
        self._restore()

    # --- construction ----------------------------------------------------------------------

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _dock_timeline(self, settings: QSettings) -> None:
        """The timeline dock along the bottom, under the candidates, and the project commands."""
        from studio.timeline_side import TimelineSide

        self.timeline_side = TimelineSide(self, settings)
        timeline_dock = self._dock("Timeline", "TimelineDock", self.timeline_side.panel, Qt.BottomDockWidgetArea)
        timeline_dock.setMinimumHeight(200)
        # as in Kdenlive and Shotcut the timeline runs wide along the bottom, under the queue's column
        # too, below the candidates strip rather than beside it (side by side it had a third of the
        # width); the prompt panel keeps the whole height on the left, which its form needs
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.BottomDockWidgetArea)
        candidates_dock = self.findChild(QDockWidget, "CandidatesDock")
        self.splitDockWidget(candidates_dock, timeline_dock, Qt.Vertical)
        self.resizeDocks([candidates_dock, timeline_dock], [130, 270], Qt.Vertical)
        bin_dock = self._dock("Media", "MediaDock", self.timeline_side.media_bin, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.findChild(QDockWidget, "HistoryDock"), bin_dock)
        self.findChild(QDockWidget, "QueueDock").raise_()
        file_menu = self.menuBar().actions()[0].menu()
        first = file_menu.actions()[0]
        for action in self.timeline_side.file_menu_actions():
            file_menu.insertAction(first, action)
        file_menu.insertSeparator(first)

    def update_title(self) -> None:
        """Project name with its unsaved mark, then the canvas image: "film* — cat.png — Latent Studio"."""
        parts = [self.timeline_side.title_part()] if hasattr(self, "timeline_side") else []
        if self.document.path:
            parts.append(Path(self.document.path).name)
        self.setWindowTitle(" — ".join([p for p in parts if p] + ["Latent Studio"]))
        self.setWindowModified(hasattr(self, "timeline_side") and self.timeline_side.session.is_dirty())

    def _history_view(self, model: HistoryModel) -> QListView:
        view = QListView()
        view.setObjectName("HistoryView")
        view.setViewMode(QListView.IconMode)
        view.setResizeMode(QListView.Adjust)
        view.setMovement(QListView.Static)
        view.setSpacing(4)
        view.setWordWrap(True)
        view.setUniformItemSizes(True)
        view.setModel(model)
        view.clicked.connect(lambda index: self.open_path(model.path_at(index.row())))
        self.use_settings_action = QAction("Use these settings", view)
        self.use_settings_action.setToolTip("Put this image's prompt, model, size, sampling and seed in the prompt panel")
        self.use_settings_action.triggered.connect(lambda: self.use_settings_of(view.currentIndex().row()))
        view.addAction(self.use_settings_action)
        view.setContextMenuPolicy(Qt.ActionsContextMenu)
        return view

    def use_settings_of(self, row: int) -> None:
        """History's "Use these settings": the prompt panel shows what made that image."""
        if not 0 <= row < self.controller.history.rowCount():
            return
        item = self.controller.history.item_at(row)
        if isinstance(item.request, GenerateRequest):
            self.prompt_panel.apply_request(item.request)  # seed included: Generate makes it again
        else:  # an edit records its settings (prompt, model, sampling), not a generation's seed
            grid = (item.grid.rows, item.grid.cols) if item.grid is not None else None
            self.prompt_panel.apply_settings(item.settings, grid, item.size)
        self.status.showMessage(f"Settings of {Path(item.path).name} are in the prompt panel.", 6000)

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, checkable=False) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({QKeySequence(shortcut).toString(QKeySequence.NativeText)})")
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        undo = self.document.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.Undo)
        undo.setIcon(icon("undo"))
        redo = self.document.undo_stack.createRedoAction(self, "Redo")
        # Each sequence once: QKeySequence.Redo is Ctrl+Shift+Z itself on Linux, and a sequence bound
        # twice is "ambiguous" to Qt, which then does nothing. Ctrl+Y for Windows habits (Ctrl is
        # Cmd on macOS, so these two are that platform's Redo as well).
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        redo.setIcon(icon("redo"))
        for action in (undo, redo):
            self.addAction(action)
            action.setToolTip(f"{action.text()} ({action.shortcut().toString(QKeySequence.NativeText)})")
        self.undo_action, self.redo_action = undo, redo

        self.open_action = self._action("Open image…", self.open_dialog, QKeySequence.Open, "open")
        self.save_action = self._action("Save PNG as…", self.save_dialog, QKeySequence.Save, "save")
        self.resample_action = self._action("Resample block", self.resample_selected, "R", "resample")
        self.compare_action = self._action("Compare with inpainting", self.compare_selected, "C", "compare")
        self.inpaint_action = self._action("Inpaint mask", self.inpaint_masked, "Ctrl+I", "inpaint")
        self.paste_action = self._action("Paste image", self.canvas.paste, QKeySequence.Paste)
        zoom_in = self._action("Zoom in", self.canvas.zoom_in, "Ctrl+=", "zoom-in")
        zoom_out = self._action("Zoom out", self.canvas.zoom_out, "Ctrl+-", "zoom-out")
        fit = self._action("Fit", self.canvas.fit, "Ctrl+0", "zoom-fit")
        actual = self._action("100%", self.canvas.actual_size, "Ctrl+1", "zoom-actual")
        self.grid_action = self._action("Latent grid", self.canvas.set_grid_visible, "G", "grid", checkable=True)
        self.grid_action.setChecked(self.canvas.grid_visible)
        brush = self._action("Brush", lambda on: on and self.canvas.set_tool("brush"), "B", "brush", checkable=True)
        eraser = self._action("Eraser", lambda on: on and self.canvas.set_tool("eraser"), "E", "eraser",
                              checkable=True)
        select = self._action("Select block", lambda on: on and self.canvas.set_tool("select"), "V", "select",
                              checkable=True)
        from PySide6.QtGui import QActionGroup

        tools = QActionGroup(self)
        for action in (select, brush, eraser):
            tools.addAction(action)
        select.setChecked(True)
        smaller = self._action("Smaller brush", lambda: self._grow_brush(-1), "[")
        larger = self._action("Larger brush", lambda: self._grow_brush(1), "]")
        self.brush_box = QSpinBox(minimum=MIN_BRUSH, maximum=MAX_BRUSH, value=self.canvas.brush_size)
        self.brush_box.setObjectName("BrushSize")
        self.brush_box.setSuffix(" px")
        self.brush_box.setToolTip("Brush diameter in image pixels ([ and ] change it)")
        self.brush_box.valueChanged.connect(self.canvas.set_brush_size)
        self.canvas.brush_size_changed.connect(self.brush_box.setValue)
        # tools also change from the toolbar's group and from code; keep the toolbar in step
        tool_actions = {"select": select, "brush": brush, "eraser": eraser}
        self.canvas.tool_changed.connect(lambda tool: tool_actions[tool].setChecked(True))
        self.canvas.grid_visible_changed.connect(self.grid_action.setChecked)

        self.count_box = QSpinBox(minimum=1, maximum=16, value=self.controller.resample_count)
        self.count_box.setToolTip("Candidates per block resample or inpaint")
        self.count_box.setPrefix("×")
        self.count_box.valueChanged.connect(lambda value: setattr(self.controller, "resample_count", value))

        toolbar = QToolBar("Tools", self)
        toolbar.setObjectName("ToolsBar")
        toolbar.setMovable(False)
        for item in (self.open_action, self.save_action, None, undo, redo, None, select, brush, eraser,
                     self.brush_box, None,
                     self.resample_action, self.count_box, self.compare_action, self.inpaint_action, None,
                     self.grid_action, zoom_in, zoom_out, fit, actual):
            if item is None:
                toolbar.addSeparator()
            elif isinstance(item, QAction):
                toolbar.addAction(item)
            else:
                toolbar.addWidget(item)
        self.addToolBar(Qt.TopToolBarArea, toolbar)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.open_action, self.save_action])
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", self.close, QKeySequence.Quit))
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addActions([undo, redo])
        edit_menu.addSeparator()
        edit_menu.addAction(self.paste_action)
        edit_menu.addAction(self._action("Clear mask", self.document.clear_mask))
        edit_menu.addSeparator()
        edit_menu.addActions([select, brush, eraser, smaller, larger])
        view_menu = menu.addMenu("&View")
        view_menu.addActions([self.grid_action, zoom_in, zoom_out, fit, actual])
        image_menu = menu.addMenu("&Image")
        image_menu.addActions([self.resample_action, self.compare_action, self.inpaint_action])
        queue_menu = menu.addMenu("&Queue")
        panel = self.queue_panel
        # the panel's own actions, so the menu and the panel can never disagree about the queue
        queue_menu.addActions([panel.pause_action, panel.cancel_action, panel.front_action, panel.retry_action,
                               panel.clear_action])
        help_menu = menu.addMenu("&Help")
        self.shortcuts_action = self._action("Keyboard shortcuts", self.show_shortcuts, QKeySequence.HelpContents)
        self.about_action = self._action("About Latent Studio", self.show_about)
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def _connect(self) -> None:
        controller = self.controller
        self.prompt_panel.generate_requested.connect(controller.generate)
        controller.model_in_use.connect(self.status.set_model)
        controller.generation_finished.connect(self._show_if_canvas_empty)
        self.candidates_strip.candidate_chosen.connect(self.keep_result)
        self.canvas.image_dropped.connect(self.open_path)
        self.canvas.image_pasted.connect(self.open_pasted)
        self.compare_view.keep_requested.connect(self.keep_result)
        self.compare_view.closed.connect(lambda: self.centre.setCurrentWidget(self.canvas))
        self.compare_view.failed.connect(
            lambda text: self.status.showMessage(f"Cannot show the comparison: {text}", 12000))
        controller.comparison_ready.connect(self.show_comparison)
        controller.message.connect(lambda text: self.status.showMessage(text, 8000))
        controller.job_failed.connect(lambda text: self.status.showMessage(f"Failed: {text}", 12000))
        self.document.image_changed.connect(self._on_image_changed)

    # --- actions ---------------------------------------------------------------------------

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", str(Path.home()), IMAGE_FILTER)
        if path:
            self.open_path(path)

    @Slot(str)
    def open_path(self, path: str) -> None:
        self.image_loader.request(path, "open")

    @Slot(object, str)
    def _on_image_loaded(self, loaded, purpose: str) -> None:
        if loaded.vae_factor is not None:  # an unknown model keeps the current factor; the engine says what is wrong
            self.document.vae_factor = loaded.vae_factor
        if purpose == "open":
            self.document.open_image(loaded)
        else:
            self.document.replace_image(loaded)
        self.centre.setCurrentWidget(self.canvas)

    @Slot(QImage)
    def open_pasted(self, image: QImage) -> None:
        # the engine reads images by path, so a paste is written to disk first, off the GUI thread
        self.image_loader.run(partial(save_pasted, image, self.controller.folders), "open")

    @Slot()
    def save_dialog(self) -> None:
        if not self.document.path:
            self.status.showMessage("Nothing to save yet.", 5000)
            return
        suggested = str(Path.home() / Path(self.document.path).name)
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", suggested, "PNG (*.png)")
        if path:
            self.save_png(path)

    def save_png(self, target: str) -> None:
        """Write the current image to `target` on a worker; the status bar says when it is there."""
        try:
            source, image = self.document.png_snapshot()
        except StudioError as exc:
            QMessageBox.warning(self, "Cannot save", str(exc))
            return
        self._file_calls.call(
            partial(save_png_copy, source, image, target),
            lambda saved: self.status.showMessage(f"Saved {saved}", 5000),
            lambda message: QMessageBox.warning(self, "Cannot save", message))

    @Slot(str)
    def _show_if_canvas_empty(self, path: str) -> None:
        """A first generation lands on the canvas by itself; later ones wait in the strip to be chosen."""
        if self.document.is_empty() and not self.image_loader.busy():
            self.open_path(path)

    @Slot(str)
    def keep_result(self, path: str) -> None:
        self.image_loader.request(path, "keep")

    def _selected_cell(self):
        cell = self.document.selected_cell
        if cell is None:
            self.status.showMessage("Select a block first: click it, or use the arrow keys.", 6000)
        return cell

    @Slot()
    def inpaint_masked(self) -> None:
        """Inpaint the painted mask with what the prompt box says now, not the image's old prompt."""
        request = self.prompt_panel.request()
        self.controller.inpaint_mask(EditSettings(prompt=request.prompt, negative_prompt=request.negative_prompt))

    def _grow_brush(self, direction: int) -> None:
        size = self.canvas.brush_size
        self.canvas.set_brush_size(size + direction * max(1, round(size * 0.15)))

    @Slot()
    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.command_actions(), CANVAS_KEYS, parent=self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        self._shortcuts_dialog = dialog

    def command_actions(self) -> list[QAction]:
        """Every command with keys: the window's, then the queue panel's (active while it has focus)."""
        return [*self.actions(), *self.queue_panel.actions()]

    @Slot()
    def show_about(self) -> None:
        from engine import __version__

        QMessageBox.about(self, "About Latent Studio", (
            f"<b>Latent Studio {__version__}</b><p>Generate images with local diffusion models, re-roll single "
            "blocks of their latent grid, compare that with inpainting, all offline.</p>"
            f"<p>Device: {self.status.device_label.text().removeprefix('Device: ')}<br>"
            f"Results: {self.controller.folders.root}</p>"))

    @Slot()
    def resample_selected(self) -> None:
        cell = self._selected_cell()
        if cell is not None:
            self.controller.resample(*cell)

    @Slot()
    def compare_selected(self) -> None:
        cell = self._selected_cell()
        if cell is not None:
            self.controller.compare(*cell)

    @Slot(object, object)
    def show_comparison(self, result, request) -> None:
        from PySide6.QtCore import QRect

        doc = self.document
        rect = doc.cell_rect(request.row, request.col) if doc.path == request.image else QRect()
        self.compare_view.show_comparison(request.image, result.resample_path, result.inpaint_path,
                                          result.resample_metrics, result.inpaint_metrics, result.heatmaps, rect)
        self.centre.setCurrentWidget(self.compare_view)

    @Slot()
    def _on_image_changed(self) -> None:
        path = self.document.path
        self.prompt_panel.set_init_image(path)  # image to image starts from what the canvas shows
        self.update_title()
    # --- persistence ---------------------------------------------------------------------

    def _restore(self) -> None:
        self.setMinimumSize(*MINIMUM_SIZE)
        self._restore_geometry()
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        prompt = self.settings.value("prompt/settings")
        if isinstance(prompt, dict):
            self.prompt_panel.restore(prompt)
        self.grid_action.setChecked(self.settings.value("view/grid", True, type=bool))

    def _restore_geometry(self) -> None:
        """Size and frame position as saved. (restoreGeometry puts the window back at its frame
        position plus or minus the decoration, depending on the window manager, so a window
        creeps; the frame position itself is what `move` takes.) A position on no screen any
        more (an unplugged monitor) is dropped, so the window never opens out of sight."""
        size = self.settings.value("window/size")
        self.resize(size if isinstance(size, QSize) and size.isValid() else QSize(*DEFAULT_SIZE))
        position = self.settings.value("window/position")
        if isinstance(position, QPoint) and QGuiApplication.screenAt(position) is not None:
            self.move(position)
        if self.settings.value("window/maximized", False, type=bool):
            self.setWindowState(self.windowState() | Qt.WindowMaximized)

    def save_settings(self) -> None:
        maximized = self.isMaximized()
        self.settings.setValue("window/maximized", maximized)
        if not maximized:  # a maximized window's own geometry is the screen's; keep the one to return to
            self.settings.setValue("window/size", self.size())
            self.settings.setValue("window/position", self.pos())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("prompt/settings", self.prompt_panel.settings())
        self.settings.setValue("view/grid", self.grid_action.isChecked())
        self.settings.sync()

    def closeEvent(self, event) -> None:
        if not self.timeline_side.allow_close():
            event.ignore()
            return
        self.save_settings()
        super().closeEvent(event)

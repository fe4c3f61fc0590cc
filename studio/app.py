"""Composition root: builds the engine side, the bridge, the view-models and the window.

Nothing here is global: every object is made once in `build_studio` and handed to the ones
that need it, so tests build the same graph with a tiny model, a temporary data folder and
their own settings file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from engine import heap
from engine.devices import pick_device
from engine.jobs import JobQueue
from engine.models.cache import ModelCache
from engine.models.registry import ModelRegistry
from engine.paths import user_config_dir, user_data_dir
from studio.binding_check import broken_binding_message
from studio.bridge import EngineBridge
from studio.controller import StudioController
from studio.document import ImageDocument
from studio.history import HistoryModel, SessionFolders
from studio.main_window import MainWindow
from studio.session_guard import SessionGuard, recovery_notice
from studio.viewmodels.candidates import CandidatesModel
from studio.viewmodels.job_list import JobListModel
from studio.theme import apply_dark_theme


@dataclass
class Studio:
    """Everything one running studio is made of, for the caller to show, drive and shut down."""

    window: MainWindow
    queue: JobQueue
    bridge: EngineBridge
    controller: StudioController
    models: ModelCache
    guard: SessionGuard

    def shutdown(self) -> None:
        self.window.save_settings()
        self.bridge.close()
        self.queue.shutdown(wait=True, cancel_running=True)
        self.guard.end()  # last: only a shutdown that got this far counts as clean


def build_studio(registry: ModelRegistry | None = None, data_dir: Path | None = None,
                 settings: QSettings | None = None, device: str | None = None,
                 record_crashes: bool = False, settle_heap: bool = False) -> Studio:
    """The studio on `data_dir`; `record_crashes` sends a fatal error's stack to the session's crash
    log; `settle_heap` keeps Python's full collections off the libraries, the window and loaded
    models (engine.heap), which the app does: a test process that builds many studios does not,
    since a settled heap keeps older studios' reference cycles until the next collect()."""
    device = device or pick_device()
    registry = registry or ModelRegistry()
    models = ModelCache(registry, device=device, settle_heap=settle_heap)
    queue = JobQueue(model_cache=models)
    bridge = EngineBridge(queue)
    folders = SessionFolders(Path(data_dir) if data_dir else user_data_dir())
    guard = SessionGuard(folders)
    unclean_ends = guard.begin(record_crashes)
    history = HistoryModel(folders)
    document = ImageDocument()
    candidates = CandidatesModel()
    controller = StudioController(queue, bridge, document, candidates, history, folders)
    if settings is None:
        config = user_config_dir()
        config.mkdir(parents=True, exist_ok=True)
        settings = QSettings(str(config / "studio.ini"), QSettings.IniFormat)
    from engine.devices import describe_device

    window = MainWindow(controller, registry, JobListModel(queue, bridge), settings, describe_device(device))
    history.reload()
    notice = recovery_notice(unclean_ends)
    if notice:
        window.status.showMessage(notice)  # stays until the next message
    if settle_heap:
        heap.settle()
    return Studio(window, queue, bridge, controller, models, guard)


def main(argv: list[str] | None = None, project: str | None = None) -> int:
    """The window; `project` is a project folder to open (else the last one's autosave is offered)."""
    broken = broken_binding_message()
    if broken:
        print(broken, file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Latent Studio")
    app.setOrganizationName("Latent Studio")
    apply_dark_theme(app)
    studio = build_studio(record_crashes=True, settle_heap=True)
    studio.window.show()
    if project is not None:
        studio.window.timeline_side.open(project)
    else:
        studio.window.timeline_side.offer_recovery()
    app.aboutToQuit.connect(studio.shutdown)
    return app.exec()

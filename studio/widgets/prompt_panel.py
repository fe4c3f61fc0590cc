"""PromptPanel: everything a Generate needs, emitted as the engine's own `GenerateRequest`.

The panel knows models only as the `ModelSpec`s (and size multiples) the window hands it; it never
talks to the engine or reads a file, so nothing here blocks the GUI thread.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QPalette, QShortcut, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
    QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

from engine.api import EditSettings, GenerateRequest
from engine.grid import MAX_SEED
from engine.grid import random_seed as fresh_seed
from engine.limits import size_warning
from engine.models.registry import DEFAULT_IMAGE_MODEL
from engine.models.spec import IMAGE_FAMILIES, ModelSpec
from engine.schedulers import scheduler_names
from studio.icons import icon

SEED_MAX = MAX_SEED
MAX_SIZE = 4096
DEFAULT_COUNT = 4
DEFAULT_GRID = 4

DEFAULT_SIZE_MULTIPLE = 64  # SD 1.x's, the largest of the families, until the window says otherwise
PLACEHOLDER = "What to draw"
# The GenerateRequest fields the panel shows and remembers between runs (`settings()`).
PERSISTED_FIELDS = ("prompt", "negative_prompt", "model", "width", "height", "steps", "guidance", "scheduler",
                    "seed", "count", "grid_rows", "grid_cols", "strength", "rerank")


class SeedSpinBox(QDoubleSpinBox):
    """An integer spin box for 0 .. 2**32 - 1.

    QSpinBox holds a C int (at most 2**31 - 1), too small for a 32-bit seed; a double with no
    decimals holds every integer up to 2**53 exactly and keeps the spin box's editing, wheel and
    validation behaviour.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(0)
        self.setRange(0, SEED_MAX)
        self.setSingleStep(1)
        self.setAccelerated(True)

    def seed(self) -> int:
        return int(round(self.value()))

    def setSeed(self, seed: int) -> None:
        self.setValue(float(int(seed)))


class PromptPanel(QWidget):
    """Prompt, model and sampling settings; Generate (button, Ctrl+Enter) emits `generate_requested`.

    `generate_requested(GenerateRequest)` carries the request as the panel shows it, with an
    empty `output_dir` (where results go is the controller's business). `model` is the chosen
    spec's `reference` (its id for bundled and cached models, its path for local folders and
    single files), so the request resolves to the same model again; `scheduler` is None for
    "model default". With "from canvas" ticked the canvas image (`set_init_image`) is the init
    image at `strength`. With the seed unlocked every Generate first rolls a new random seed into
    the seed box, so the box always shows the seed of the last batch.
    """

    generate_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None, random_seed: Callable[[], int] | None = None):
        super().__init__(parent)
        self.setObjectName("PromptPanel")
        self._random_seed = random_seed or fresh_seed
        self._specs: list[ModelSpec] = []
        self._size_multiples: dict[str, int] = {}  # model reference -> the size multiple the engine checks
        self._init_image: str | None = None
        self._wanted_model: str | None = None  # restored before the models arrived
        self._applying = False  # True while restore() sets the model, so its defaults do not win

        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setObjectName("promptEdit")
        self.prompt_edit.setPlaceholderText(PLACEHOLDER)
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMinimumHeight(72)
        self.negative_edit = QPlainTextEdit()
        self.negative_edit.setObjectName("negativePromptEdit")
        self.negative_edit.setPlaceholderText("What to avoid (negative prompt)")
        self.negative_edit.setTabChangesFocus(True)
        self.negative_edit.setMaximumHeight(56)

        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Image model; choosing one applies its native size, steps and guidance")
        self.model_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(14)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.model_info = QLabel()
        self.model_info.setObjectName("modelInfo")
        self.model_info.setWordWrap(True)
        self.model_info.setForegroundRole(QPalette.PlaceholderText)
        self.model_info.hide()

        self.width_box = self._size_box("Image width in pixels")
        self.height_box = self._size_box("Image height in pixels")
        self.size_warning = QLabel()  # far from the model's native size (engine.limits): say so, still allow it
        self.size_warning.setObjectName("sizeWarning")
        self.size_warning.setWordWrap(True)
        self.size_warning.hide()
        for box in (self.width_box, self.height_box):
            box.valueChanged.connect(self._update_size_warning)
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 200)
        self.steps_box.setValue(25)
        self.steps_box.setToolTip("Denoising steps: more is slower and usually cleaner")
        self.guidance_box = QDoubleSpinBox()
        self.guidance_box.setRange(0.0, 30.0)
        self.guidance_box.setDecimals(1)
        self.guidance_box.setSingleStep(0.5)
        self.guidance_box.setValue(7.0)
        self.guidance_box.setToolTip("Classifier-free guidance: how strictly to follow the prompt")
        self.scheduler_combo = QComboBox()
        self.scheduler_combo.addItem("model default", None)
        for name in scheduler_names():
            self.scheduler_combo.addItem(name, name)
        self.scheduler_combo.setToolTip("Sampler; \"model default\" uses the one the model ships with")

        self.seed_box = SeedSpinBox()
        self.seed_box.setSeed(self._random_seed())
        self.seed_box.setToolTip("Seed of the first candidate; candidate i uses seed + i")
        self.seed_lock = QToolButton()
        self.seed_lock.setObjectName("seedLock")
        self.seed_lock.setCheckable(True)
        self.seed_lock.toggled.connect(self._on_lock_toggled)
        self._on_lock_toggled(False)
        self.new_seed_button = QToolButton()
        self.new_seed_button.setIcon(icon("retry"))
        self.new_seed_button.setToolTip("Roll a new random seed now")
        self.new_seed_button.clicked.connect(lambda: self.seed_box.setSeed(self._new_seed()))

        self.count_box = QSpinBox()
        self.count_box.setRange(1, 16)
        self.count_box.setValue(DEFAULT_COUNT)
        self.count_box.setToolTip("Candidates per Generate (best first when a scorer ranks them)")
        self.rank_check = QCheckBox("rank")
        self.rank_check.setObjectName("rankCandidates")
        self.rank_check.setChecked(True)
        self.rank_check.setToolTip("Score the candidates against the prompt with a CLIP scorer and show the best first")
        self.rows_box = self._grid_box("Latent grid rows: blocks you can resample later")
        self.init_check = QCheckBox("From canvas")
        self.init_check.setObjectName("initFromCanvas")
        self.init_check.setToolTip("Image to image: start from the image on the canvas instead of noise")
        self.init_check.setEnabled(False)
        self.strength_box = QDoubleSpinBox()
        self.strength_box.setRange(0.05, 1.0)
        self.strength_box.setDecimals(2)
        self.strength_box.setSingleStep(0.05)
        self.strength_box.setValue(GenerateRequest.strength)
        self.strength_box.setPrefix("strength ")
        self.strength_box.setToolTip("How far to move away from the canvas image: 1 keeps nothing of it")
        self.strength_box.setEnabled(False)
        self.init_check.toggled.connect(self.strength_box.setEnabled)
        self.cols_box = self._grid_box("Latent grid columns: blocks you can resample later")

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setIcon(icon("generate"))
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.generate_button.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.generate_button.clicked.connect(self.generate)
        # Ctrl+Enter is no editing key for QPlainTextEdit or the spin boxes, so a shortcut on the
        # panel sees it from any child with focus.
        self._shortcuts = []
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.generate)
            self._shortcuts.append(shortcut)

        self._build_layout()

    # --- construction ----------------------------------------------------------------------

    def _size_box(self, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(8, MAX_SIZE)
        box.setSingleStep(8)
        box.setValue(512)
        box.setSuffix(" px")
        box.setToolTip(tip)
        box.editingFinished.connect(lambda: box.setValue(self._aligned(box.value())))
        return box

    @staticmethod
    def _grid_box(tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(1, 16)
        box.setValue(DEFAULT_GRID)
        box.setToolTip(tip)
        return box

    def _build_layout(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        form.addRow("Model", self.model_combo)
        form.addRow("", self.model_info)
        form.addRow("Size", self._row(self.width_box, QLabel("×"), self.height_box))
        form.addRow("", self.size_warning)
        form.addRow("Steps", self._row(self.steps_box, QLabel("Guidance"), self.guidance_box))
        form.addRow("Scheduler", self.scheduler_combo)
        form.addRow("Seed", self._row(self.seed_box, self.seed_lock, self.new_seed_button))
        form.addRow("Candidates", self._row(self.count_box, self.rank_check))
        form.addRow("Grid", self._row(self.rows_box, QLabel("×"), self.cols_box))
        form.addRow("Init", self._row(self.init_check, self.strength_box))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt_edit, 2)
        layout.addWidget(QLabel("Negative prompt"))
        layout.addWidget(self.negative_edit, 1)
        layout.addLayout(form)
        layout.addSpacing(4)
        layout.addWidget(self.generate_button)
        layout.addStretch(0)

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        """Widgets side by side; spin boxes share the width, labels and buttons keep theirs."""
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        for widget in widgets:
            row.addWidget(widget, 1 if isinstance(widget, (QSpinBox, QDoubleSpinBox)) else 0)
        return holder

    # --- models ----------------------------------------------------------------------------

    def set_models(self, models: Iterable[ModelSpec], size_multiples: Mapping[str, int] | None = None) -> None:
        """Fill the picker with the image models of `models` (sd1, sd2, sdxl); others are left out.

        `size_multiples` maps a model's reference to the size multiple the engine checks (read from
        its configs by the caller, off the GUI thread); a model without one steps by 64.
        Models that are not available (e.g. a Hugging Face repo not in the cache) are listed but
        disabled, with their description as tooltip. The current choice survives a refresh when the
        model is still there; otherwise the first available model is chosen and its defaults applied.
        """
        previous = self.current_model() or self._wanted_model
        self._specs = [spec for spec in models if spec.family in IMAGE_FAMILIES]
        self._size_multiples = dict(size_multiples or {})
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for spec in self._specs:
            self.model_combo.addItem(f"{spec.id}  ·  {spec.family}", spec.reference)
            row = self.model_combo.count() - 1
            tip = "\n".join(part for part in (spec.draws, spec.description) if part) \
                or f"{spec.family} model ({spec.source})"
            if not spec.available:
                tip = f"Not available: {tip}"
                item = self.model_combo.model().item(row) if isinstance(self.model_combo.model(),
                                                                        QStandardItemModel) else None
                if item is not None:
                    item.setEnabled(False)
            self.model_combo.setItemData(row, tip, Qt.ToolTipRole)
        self.model_combo.blockSignals(False)
        row = self._model_row(previous) if previous else -1
        if row >= 0:
            self._wanted_model = None
            self.model_combo.blockSignals(True)
            self.model_combo.setCurrentIndex(row)
            self.model_combo.blockSignals(False)
            self._on_model_changed(row, apply_defaults=False)
        else:
            available = [i for i, spec in enumerate(self._specs) if spec.available]
            if available:
                self.model_combo.blockSignals(True)
                self.model_combo.setCurrentIndex(available[0])
                self.model_combo.blockSignals(False)
                self._on_model_changed(available[0])

    def current_model(self) -> str | None:
        """The chosen model's reference (what goes into a request), or None with no models."""
        spec = self.current_spec()
        return spec.reference if spec is not None else None

    def current_spec(self) -> ModelSpec | None:
        row = self.model_combo.currentIndex()
        return self._specs[row] if 0 <= row < len(self._specs) else None

    def _model_row(self, name: str) -> int:
        for row, spec in enumerate(self._specs):
            if name in (spec.reference, spec.id, spec.location):
                return row
        return -1

    @Slot(int)
    def _on_model_changed(self, row: int, apply_defaults: bool = True) -> None:
        self._update_size_step()
        spec = self._specs[row] if 0 <= row < len(self._specs) else None
        self.scheduler_combo.setItemText(0, f"model default ({spec.default_scheduler})" if spec else "model default")
        self._show_what_it_draws(spec)
        if spec is not None and apply_defaults and not self._applying:
            self.apply_model_defaults(spec)
        self._update_size_warning()

    @Slot()
    def _update_size_warning(self) -> None:
        spec = self.current_spec()
        warning = size_warning(self.width_box.value(), self.height_box.value(), spec.size(), spec.id) if spec else None
        self.size_warning.setText(warning or "")
        self.size_warning.setVisible(bool(warning))

    def apply_model_defaults(self, spec: ModelSpec) -> None:
        """Native size, default steps and guidance of `spec`; the scheduler choice is the user's."""
        height, width = spec.size()
        self.width_box.setValue(self._aligned(width))
        self.height_box.setValue(self._aligned(height))
        self.steps_box.setValue(spec.default_steps)
        self.guidance_box.setValue(spec.default_guidance)

    def _show_what_it_draws(self, spec: ModelSpec | None) -> None:
        """The model's own words on what its prompts may say, under the picker and in the prompt box."""
        draws = spec.draws if spec is not None else ""
        self.model_info.setText(draws)
        self.model_info.setVisible(bool(draws))
        example = spec.example_prompt if spec is not None else ""
        self.prompt_edit.setPlaceholderText(f"{PLACEHOLDER} — e.g. {example}" if example else PLACEHOLDER)

    def _size_multiple(self) -> int:
        # the multiple the engine checks sizes against, so no size the boxes accept fails as a job
        spec = self.current_spec()
        return self._size_multiples.get(spec.reference, DEFAULT_SIZE_MULTIPLE) if spec else DEFAULT_SIZE_MULTIPLE

    def _update_size_step(self) -> None:
        multiple = self._size_multiple()
        for box in (self.width_box, self.height_box):
            box.setSingleStep(multiple)
            box.setMinimum(multiple)

    def _aligned(self, value: int) -> int:
        multiple = self.width_box.singleStep() or 8
        return max(multiple, min(MAX_SIZE, int(round(value / multiple)) * multiple))

    # --- seed ------------------------------------------------------------------------------

    def seed_locked(self) -> bool:
        return self.seed_lock.isChecked()

    def set_seed_locked(self, locked: bool) -> None:
        self.seed_lock.setChecked(bool(locked))

    @Slot(bool)
    def _on_lock_toggled(self, locked: bool) -> None:
        self.seed_lock.setText("Locked" if locked else "Random")
        self.seed_lock.setToolTip(
            "Locked: every Generate uses this seed (click to unlock)" if locked
            else "Unlocked: every Generate rolls a new random seed (click to keep this one)")

    def _new_seed(self) -> int:
        current = self.seed_box.seed()
        for _ in range(8):
            seed = int(self._random_seed()) & SEED_MAX
            if seed != current:
                return seed
        return (current + 1) & SEED_MAX

    # --- generate --------------------------------------------------------------------------

    @Slot()
    def generate(self) -> None:
        """Emit `generate_requested`; an empty prompt is legal (the model draws unconditionally)."""
        if not self.seed_locked():
            self.seed_box.setSeed(self._new_seed())
        self.generate_requested.emit(self.request())

    def request(self) -> GenerateRequest:
        """What the next Generate would emit (with the seed now in the box), `output_dir` empty."""
        for box in (self.width_box, self.height_box, self.seed_box, self.strength_box):
            box.interpretText()  # a value typed but not yet committed counts
        init_image = self._init_image if self.init_check.isChecked() else None
        return GenerateRequest(
            prompt=self.prompt_edit.toPlainText(),
            negative_prompt=self.negative_edit.toPlainText(),
            output_dir="",
            model=self.current_model() or self._wanted_model or DEFAULT_IMAGE_MODEL,
            width=self._aligned(self.width_box.value()),
            height=self._aligned(self.height_box.value()),
            steps=self.steps_box.value(),
            guidance=round(self.guidance_box.value(), self.guidance_box.decimals()),
            scheduler=self.scheduler_combo.currentData(),
            seed=self.seed_box.seed(),
            count=self.count_box.value(),
            grid_rows=self.rows_box.value(),
            grid_cols=self.cols_box.value(),
            init_image=init_image,
            strength=round(self.strength_box.value(), self.strength_box.decimals()),
            rerank=self.rank_check.isChecked(),
        )

    # --- image to image --------------------------------------------------------------------

    def set_init_image(self, path: str | None) -> None:
        """The canvas image, offered as the init image ("From canvas"); None: nothing to start from."""
        self._init_image = path or None
        self.init_check.setEnabled(self._init_image is not None)
        if self._init_image is None:
            self.init_check.setChecked(False)
        name = Path(path).name if path else "no image on the canvas"
        self.init_check.setToolTip(f"Image to image: start from the canvas image ({name}) instead of noise")

    # --- persistence -----------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The panel's state as plain str/int/float/bool values (QSettings keeps them as they are).

        The request's PERSISTED_FIELDS plus `seed_locked`; "model default" is stored as "" since
        QSettings has no None.
        """
        request = self.request()
        state = {name: getattr(request, name) for name in PERSISTED_FIELDS}
        state["scheduler"] = state["scheduler"] or ""
        state["seed_locked"] = self.seed_locked()
        return state

    def apply_request(self, request: GenerateRequest) -> None:
        """Show a past image's request ("Use these settings"): its prompt, model, size, sampling,
        grid and seed, locked so that Generate makes that image again. The count stays the user's."""
        state = {name: getattr(request, name) for name in PERSISTED_FIELDS if name not in ("count", "rerank")}
        self.restore({**state, "seed_locked": True})

    def apply_settings(self, settings: EditSettings, grid: tuple[int, int] | None = None,
                       size: tuple[int, int] | None = None) -> None:
        """Show the settings an edited image records (prompt, model, sampling), its grid and
        (width, height); None fields keep what the panel shows."""
        state: dict[str, Any] = {field.name: getattr(settings, field.name) for field in fields(settings)
                                 if getattr(settings, field.name) is not None}
        if grid is not None:
            state["grid_rows"], state["grid_cols"] = grid
        if size is not None:
            state["width"], state["height"] = size
        self.restore(state)

    def restore(self, state: dict[str, Any]) -> None:
        """Put back what `settings()` returned; unknown keys are ignored, bad values skipped.

        Values may come back from QSettings as strings (INI files), so each is converted. A model
        that is not (yet) in the picker is remembered and chosen when `set_models` brings it.
        """
        state = dict(state or {})
        text = {"prompt": self.prompt_edit, "negative_prompt": self.negative_edit}
        for key, edit in text.items():
            if key in state and state[key] is not None:
                edit.setPlainText(str(state[key]))
        model = state.get("model")
        if model:
            row = self._model_row(str(model))
            if row >= 0:
                self._applying = True
                try:
                    self.model_combo.setCurrentIndex(row)
                finally:
                    self._applying = False
            else:
                self._wanted_model = str(model)
        ints = {"width": self.width_box, "height": self.height_box, "steps": self.steps_box,
                "count": self.count_box, "grid_rows": self.rows_box, "grid_cols": self.cols_box}
        for key, box in ints.items():
            value = _as_int(state.get(key))
            if value is not None:
                box.setValue(self._aligned(value) if box in (self.width_box, self.height_box) else value)
        for key, box in (("guidance", self.guidance_box), ("strength", self.strength_box)):
            value = _as_float(state.get(key))
            if value is not None:
                box.setValue(value)
        if "scheduler" in state:
            row = self.scheduler_combo.findData(state["scheduler"] or None)
            self.scheduler_combo.setCurrentIndex(row if row >= 0 else 0)
        seed = _as_int(state.get("seed"))
        if seed is not None and 0 <= seed <= SEED_MAX:
            self.seed_box.setSeed(seed)
        locked = _as_bool(state.get("seed_locked"))
        if locked is not None:
            self.set_seed_locked(locked)
        rank = _as_bool(state.get("rerank"))
        if rank is not None:
            self.rank_check.setChecked(rank)


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        return None
    if isinstance(value, int):
        return bool(value)
    return None

"""Help > Keyboard shortcuts: every command that has keys, read from the window's own actions.

The list is built from the QActions themselves, so it can never disagree with what the keys do.
"""

from __future__ import annotations

from typing import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QTableWidget, \
    QTableWidgetItem, QVBoxLayout, QWidget


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(command, keys) for every action with a shortcut, in the order given, each command once."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for action in actions:
        keys = ", ".join(sequence.toString(QKeySequence.NativeText) for sequence in action.shortcuts()
                         if not sequence.isEmpty())
        name = action.text().replace("&", "").rstrip("…").strip()
        if keys and name not in seen:
            seen.add(name)
            rows.append((name, keys))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, actions: Iterable[QAction], extra: Iterable[tuple[str, str]] = (),
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions) + list(extra)
        self.table = QTableWidget(len(rows), 2)
        self.table.setObjectName("ShortcutsTable")
        self.table.setHorizontalHeaderLabels(["Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        for row, (name, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(460, 560)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]

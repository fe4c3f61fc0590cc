"""CandidatesModel: the strip of results a job produced, newest batch first, placeholders while it runs.

A job adds `count` pending placeholders; progress previews land on them; each placeholder becomes
a finished candidate the moment its image is on disk, and when the job finishes its items are put
in the engine's order (best first when scored). Finished items carry a thumbnail of at most
THUMBNAIL_SIZE px, decoded off the GUI thread so a batch of large PNGs never stalls the event
loop; until it arrives the item shows its last preview. When a job is cancelled or fails, its
placeholders go and the candidates it already saved stay (they are on disk and may be what the
user wanted); late thumbnails of removed items are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Iterable

from PySide6.QtCore import (
    QAbstractListModel, QMimeData, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, QUrl,
)
from PySide6.QtGui import QImage

from studio.images import ThumbnailLoader, load_thumbnail

THUMBNAIL_SIZE = 128
KINDS = ("generate", "resample", "inpaint")


@dataclass(frozen=True)
class Candidate:
    """One item of the strip: a placeholder while `path` is None, a finished image otherwise."""

    job_id: int
    index: int  # position within its job: the rank (0 = best) once finished and scored
    kind: str  # "generate" | "resample" | "inpaint"
    path: str | None = None
    seed: int | None = None
    score: float | None = None
    preview: QImage | None = None
    thumbnail: QImage | None = None

    @property
    def pending(self) -> bool:
        return self.path is None


class CandidatesModel(QAbstractListModel):
    """Items are `Candidate`s; row 0 is the newest batch's first item.

    Previews: `set_preview(job_id, image)` shows `image` on the job's first pending item — the
    engine renders candidates one after another, in index order, and `set_candidate` fills each
    as it is saved, so the first placeholder left is the one being drawn now; the others show
    "…". Pass `index` to put a preview on a particular placeholder instead.
    """

    PathRole = Qt.UserRole + 1
    SeedRole = Qt.UserRole + 2
    ScoreRole = Qt.UserRole + 3
    KindRole = Qt.UserRole + 4
    JobIdRole = Qt.UserRole + 5
    PendingRole = Qt.UserRole + 6
    IndexRole = Qt.UserRole + 7
    CandidateRole = Qt.UserRole + 8  # the whole Candidate
    GroupStartRole = Qt.UserRole + 9  # bool: the first item of its job (the strip draws a divider)
    GroupRole = Qt.UserRole + 10  # int: 0, 1, 0, ... job by job from the front (the strip alternates tones)
    DecorationRole = Qt.DecorationRole  # thumbnail, else preview, else None

    def __init__(self, parent: QObject | None = None, async_thumbnails: bool = True):
        super().__init__(parent)
        self._items: list[Candidate] = []
        self._async = async_thumbnails
        self._thumbnails = ThumbnailLoader(THUMBNAIL_SIZE, parent=self)
        self._epoch = 0  # bumped by clear(), so a thumbnail asked for before it is dropped

    # --- Qt model API ------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.DecorationRole:
            return item.thumbnail if item.thumbnail is not None else item.preview
        if role == self.PathRole:
            return item.path
        if role == self.SeedRole:
            return item.seed
        if role == self.ScoreRole:
            return item.score
        if role == self.KindRole:
            return item.kind
        if role == self.JobIdRole:
            return item.job_id
        if role == self.PendingRole:
            return item.pending
        if role == self.IndexRole:
            return item.index
        if role == self.CandidateRole:
            return item
        if role == self.GroupStartRole:
            return index.row() == 0 or self._items[index.row() - 1].job_id != item.job_id
        if role == self.GroupRole:
            return self._group_of(index.row()) % 2
        if role == Qt.ToolTipRole:
            return _tooltip(item)
        if role == Qt.SizeHintRole:
            return QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        if role == Qt.AccessibleTextRole:
            return _tooltip(item).replace("\n", ", ")
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.NoItemFlags
        if self._items[index.row()].pending:
            return Qt.ItemIsEnabled  # visible, not selectable: there is nothing to choose yet
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled  # onto the timeline

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        """The dragged candidates as file URLs, what the timeline (and any file manager) accepts."""
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(self._items[index.row()].path) for index in indexes
                      if index.isValid() and not self._items[index.row()].pending])
        return data

    def roleNames(self) -> dict[int, bytes]:
        names = super().roleNames()
        names.update({self.PathRole: b"path", self.SeedRole: b"seed", self.ScoreRole: b"score",
                      self.KindRole: b"kind", self.JobIdRole: b"jobId", self.PendingRole: b"pending",
                      self.IndexRole: b"index"})
        return names

    # --- reading -----------------------------------------------------------------------------

    def candidate(self, row: int) -> Candidate:
        return self._items[row]

    def candidates(self) -> list[Candidate]:
        return list(self._items)

    def _group_of(self, row: int) -> int:
        """How many jobs come before the one of `row` (a job's items are contiguous)."""
        return sum(1 for r in range(1, row + 1) if self._items[r].job_id != self._items[r - 1].job_id)

    def job_rows(self, job_id: int) -> list[int]:
        return [row for row, item in enumerate(self._items) if item.job_id == job_id]

    def has_pending(self) -> bool:
        return any(item.pending for item in self._items)

    # --- editing -----------------------------------------------------------------------------

    def add_pending(self, job_id: int, count: int, kind: str = "generate") -> None:
        """`count` placeholders for `job_id` at the front of the strip."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        count = int(count)
        if count < 1:
            return
        self.beginInsertRows(QModelIndex(), 0, count - 1)
        self._items[0:0] = [Candidate(job_id, i, kind) for i in range(count)]
        self.endInsertRows()

    def set_preview(self, job_id: int, image: QImage, index: int | None = None) -> None:
        """The live preview of a running job, on its first pending item (or placeholder `index`)."""
        for row, item in enumerate(self._items):
            if item.job_id == job_id and item.pending and (index is None or item.index == index):
                self._items[row] = replace(item, preview=QImage(image))
                self._changed(row, [Qt.DecorationRole])
                return

    def set_candidate(self, job_id: int, index: int, path: str, seed: int | None = None) -> None:
        """Placeholder `index` of a running job becomes a finished item: its image is on disk.

        It keeps its live preview until the thumbnail is loaded; `set_results` ranks it later.
        """
        for row, item in enumerate(self._items):
            if item.job_id == job_id and item.pending and item.index == index:
                self._items[row] = self._with_thumbnail(replace(item, path=str(path), seed=_int_or_none(seed)))
                self._changed(row, [])
                return

    def set_results(self, job_id: int, results: Iterable[tuple[str, int | None, float | None]]) -> None:
        """Replace the job's items with finished ones, in the given order (best first).

        Rows are reused in place where the counts match, so views keep their scroll position; a
        job the model has never seen is inserted at the front. An image `set_candidate` already
        showed keeps its picture; any other keeps the job's last preview until its thumbnail is
        loaded.
        """
        results = [(str(path), _int_or_none(seed), None if score is None else float(score))
                   for path, seed, score in results]
        rows = self.job_rows(job_id)
        kind = self._items[rows[0]].kind if rows else "generate"
        shown = {self._items[row].path: self._items[row] for row in rows if not self._items[row].pending}
        previews = [self._items[row].preview for row in rows if self._items[row].preview is not None]
        fallback = previews[-1] if previews else None
        finished = [
            replace(shown[path], index=i, seed=seed, score=score) if path in shown
            else self._with_thumbnail(Candidate(job_id, i, kind, path, seed, score, preview=fallback))
            for i, (path, seed, score) in enumerate(results)
        ]

        start = rows[0] if rows else 0
        # placeholders of one job are contiguous (added together); only ever replace that block
        rows = list(range(start, start + len(rows)))
        shared = min(len(rows), len(finished))
        for offset in range(shared):
            self._items[start + offset] = finished[offset]
        if shared:
            self.dataChanged.emit(self.index(start), self.index(start + shared - 1))
        if len(finished) > len(rows):
            first = start + shared
            self.beginInsertRows(QModelIndex(), first, first + len(finished) - shared - 1)
            self._items[first:first] = finished[shared:]
            self.endInsertRows()
        elif len(rows) > len(finished):
            first = start + shared
            self.beginRemoveRows(QModelIndex(), first, start + len(rows) - 1)
            del self._items[first:start + len(rows)]
            self.endRemoveRows()

    def end_early(self, job_id: int) -> list[str]:
        """A job was cancelled or failed: drop its placeholders, keep what it saved; their paths."""
        for row in reversed(self.job_rows(job_id)):
            if self._items[row].pending:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._items[row]
                self.endRemoveRows()
        # saved items keep their thumbnail loads; placeholders never had one
        return [self._items[row].path for row in self.job_rows(job_id)]

    def clear(self) -> None:
        self.beginResetModel()
        self._items.clear()
        self._epoch += 1
        self.endResetModel()

    def wait_for_thumbnails(self) -> None:
        """Block until queued thumbnail decodes are done (their results still arrive as events)."""
        self._thumbnails.wait()

    # --- internals ---------------------------------------------------------------------------

    def _changed(self, row: int, roles: list[int]) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index, roles)

    def _with_thumbnail(self, item: Candidate) -> Candidate:
        """`item` with its thumbnail, or (async) as it is, its thumbnail on the way."""
        if not self._async:
            return replace(item, thumbnail=load_thumbnail(item.path, THUMBNAIL_SIZE))
        self._thumbnails.load(item.path, partial(self._on_thumbnail_loaded, self._epoch, item.job_id, item.path))
        return item

    def _on_thumbnail_loaded(self, epoch: int, job_id: int, path: str, image: QImage) -> None:
        if epoch != self._epoch:
            return  # cleared meanwhile: a late result is dropped
        for row, item in enumerate(self._items):
            if item.job_id == job_id and item.path == path and item.thumbnail is None:
                # an unreadable file keeps its preview (or the placeholder) rather than a blank
                self._items[row] = replace(item, thumbnail=None if image.isNull() else image,
                                           preview=item.preview if image.isNull() else None)
                self._changed(row, [Qt.DecorationRole])


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


def _tooltip(item: Candidate) -> str:
    if item.pending:
        return f"{item.kind.capitalize()} — in progress (job {item.job_id}, candidate {item.index + 1})"
    lines = []
    if item.score is not None:
        lines.append(f"#{item.index + 1} · score {item.score:.2f}")
    lines.append(f"Seed {item.seed}" if item.seed is not None else "Seed unknown")
    lines.append(item.path or "")
    return "\n".join(lines)

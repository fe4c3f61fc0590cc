"""The timeline dock's canvas: a ruler in timecode, one row per track, video clips with frames from
across them, audio clips with their waveforms, and a badge at each cut between video clips with its
continuity (and identity) measures, whose tooltip gives the figures.

Behaves as Kdenlive and Shotcut users expect: click or drag on the ruler scrubs the playhead;
drag a clip to move it (it snaps to cuts and the playhead; with Ctrl the others make room);
drag either end of a clip to trim it (with Shift the clips after follow); S splits at the playhead, Delete is a ripple delete, T toggles a crossfade with the next
clip, M drops a marker; Ctrl+wheel zooms, and files dropped from the media bin or the file
manager land where they are dropped. Every edit is an engine command given to the session.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from engine.timeline import commands as c
from engine.timeline.audio import merge_peaks
from engine.timeline.model import Clip, Marker, Transition
from studio.viewmodels.timeline import TimelineState, item_at, timecode, transition_after
from studio.viewmodels.timeline_previews import continuity_grade, cuts_of, thumbnail_width

RULER_H = 22
TRACK_H = 52
HEADER_W = 36
EDGE_PX = 6  # how near a clip's end the pointer must be to grab it for a trim
CROSSFADE_SECONDS = 0.5
THUMB_GAP = 2  # px between filmstrip slots
WAVEFORM_COLOUR = QColor("#b9f6ca")
BADGE_W, BADGE_H = 30, 13
GRADE_COLOURS = {"good": QColor("#34a853"), "fair": QColor("#f9ab00"), "poor": QColor("#d93025")}
IDENTITY_COLOUR = QColor("#8ab4f8")


def cut_tooltip(measures, frame: int, fps: float) -> str:
    """What a cut badge's tooltip says: the figures of engine.clips.drift.cut_between (or why there are none)."""
    where = f"Continuity at {timecode(frame, fps)}"
    if isinstance(measures, str):
        return f"{where}: not measured ({measures})"
    jump = "no object to follow" if measures["jump"] is None else f"jump {measures['jump']:.1f} px"
    text = f"{where} \u2014 SSIM {measures['ssim']:.2f}, histogram {measures['histogram']:.2f}, {jump}"
    if measures.get("identity") is not None:
        count = measures["references"]
        text += f"; identity {measures['identity']:.2f} ({count} reference{'' if count == 1 else 's'})"
    return text


class TimelineView(QWidget):
    """Paints `state` and turns the pointer and keys into engine commands for `apply(command)`."""

    files_dropped = Signal(list, int, int)  # paths, track (-1: choose), frame

    def __init__(self, state: TimelineState, apply, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("TimelineView")
        self.state = state
        self._apply = apply
        self._drag: dict | None = None
        # waveform lines by (envelope, geometry): the playhead repaints the dock every frame it plays,
        # and building the lines took half of a 7 ms paint; only what the last paint drew is kept
        self._waveform_lines: dict[tuple, tuple] = {}
        self._waveform_lines_used: dict[tuple, tuple] = {}
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setMinimumHeight(RULER_H + 2 * TRACK_H)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        state.changed.connect(self.update)
        state.playhead_changed.connect(lambda _frame: self.update())
        state.selection_changed.connect(self.update)

    def event(self, event) -> bool:
        if event.type() == QEvent.ToolTip:
            text = self.tooltip_at(event.position() if hasattr(event, "position") else QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def tooltip_at(self, pos: QPointF) -> str | None:
        """The tooltip of the cut badge under `pos`, if there is one."""
        for rect, frame, measures in self.badges():
            if rect.contains(pos):
                return cut_tooltip(measures, frame, self.state.timeline.rate.fps)
        return None

    # --- geometry --------------------------------------------------------------------------

    def x_of(self, frame: float) -> float:
        return HEADER_W + frame * self.state.px_per_frame

    def frame_at(self, x: float) -> int:
        return max(0, round((x - HEADER_W) / self.state.px_per_frame))

    def track_at(self, y: float) -> int | None:
        timeline = self.state.timeline
        if timeline is None or y < RULER_H:
            return None
        row = int((y - RULER_H) // TRACK_H)
        return row if row < len(timeline.tracks) else None

    def clip_rect(self, track: int, index: int) -> QRectF:
        items = self.state.timeline.tracks[track]
        start = items.starts()[index]
        item = items.items[index]
        return QRectF(self.x_of(start), RULER_H + track * TRACK_H + 2, item.duration * self.state.px_per_frame,
                      TRACK_H - 4)

    def hit(self, pos: QPointF) -> tuple[int, int, str] | None:
        """(track, item, part) under the pointer; part is "in", "out" or "body"."""
        track = self.track_at(pos.y())
        if track is None:
            return None
        index = item_at(self.state.timeline.tracks[track], self.frame_at(pos.x()))
        for candidate in {index, item_at(self.state.timeline.tracks[track], self.frame_at(pos.x()) - 1)} - {None}:
            if not isinstance(self.state.timeline.tracks[track].items[candidate], Clip):
                continue
            rect = self.clip_rect(track, candidate)
            if abs(pos.x() - rect.left()) <= EDGE_PX:
                return track, candidate, "in"
            if abs(pos.x() - rect.right()) <= EDGE_PX:
                return track, candidate, "out"
        if index is None or not isinstance(self.state.timeline.tracks[track].items[index], Clip):
            return None
        return track, index, "body"

    # --- painting --------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:
        self._waveform_lines_used = {}
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()
            self._waveform_lines = self._waveform_lines_used

    def _paint(self, painter: QPainter) -> None:
        painter.fillRect(self.rect(), QColor("#202124"))
        timeline = self.state.timeline
        self._paint_ruler(painter)
        if timeline is None:
            painter.setPen(QColor("#9aa0a6"))
            painter.drawText(self.rect(), Qt.AlignCenter, "No project: File > New project, or open one.")
            return
        for number, track in enumerate(timeline.tracks):
            top = RULER_H + number * TRACK_H
            painter.fillRect(QRectF(0, top, self.width(), TRACK_H - 1), QColor("#2a2b2e"))
            painter.setPen(QColor("#bdc1c6"))
            painter.drawText(QRectF(4, top, HEADER_W - 4, TRACK_H), Qt.AlignVCenter, timeline.track_label(number))
            for index, (start, item) in enumerate(zip(track.starts(), track.items)):
                if isinstance(item, Clip):
                    self._paint_clip(painter, number, index, item, track.kind)
                elif isinstance(item, Transition):
                    self._paint_transition(painter, top, start, item)
        self._paint_badges(painter)
        x = self.x_of(self.state.playhead)
        painter.setPen(QPen(QColor("#ff5252"), 1.5))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def _paint_ruler(self, painter: QPainter) -> None:
        painter.fillRect(QRectF(0, 0, self.width(), RULER_H), QColor("#17181a"))
        timeline = self.state.timeline
        if timeline is None:
            return
        fps = timeline.rate.fps
        step = max(1, round(fps))  # a label each second, fewer when zoomed out
        while step * self.state.px_per_frame < 90:
            step *= 2
        painter.setFont(QFont(painter.font().family(), 8))
        painter.setPen(QColor("#9aa0a6"))
        frame = 0
        while self.x_of(frame) < self.width():
            x = self.x_of(frame)
            painter.drawLine(QPointF(x, RULER_H - 6), QPointF(x, RULER_H))
            painter.drawText(QPointF(x + 2, RULER_H - 8), timecode(frame, fps))
            frame += step
        for marker in timeline.markers:
            x = self.x_of(marker.frame)
            painter.setPen(QColor("#fbbc04"))
            painter.setBrush(QColor("#fbbc04"))
            painter.drawPolygon([QPointF(x - 4, 0), QPointF(x + 4, 0), QPointF(x, 8)])
            painter.setBrush(Qt.NoBrush)

    def _paint_clip(self, painter: QPainter, track: int, index: int, clip: Clip, kind: str) -> None:
        rect = self.clip_rect(track, index)
        selected = self.state.selected == (track, index)
        painter.fillRect(rect, QColor("#3b6ea8" if kind == "video" else "#3b8a5a"))
        painter.save()
        painter.setClipRect(rect)
        if kind == "video":
            self._paint_filmstrip(painter, rect, clip)
        else:
            self._paint_waveform(painter, rect, clip)
        painter.restore()
        painter.setPen(QPen(QColor("#ffffff" if selected else "#101010"), 2 if selected else 1))
        painter.drawRect(rect)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(rect.adjusted(4, 0, -4, -2), Qt.AlignBottom | Qt.AlignLeft, clip.name or clip.media)

    def _paint_filmstrip(self, painter: QPainter, rect: QRectF, clip: Clip) -> None:
        """Kdenlive's filmstrip: thumb-wide slots along the clip, each the frame at its left edge (or
        the nearest one ready while that one is made)."""
        slot = thumbnail_width(self.state.timeline) + THUMB_GAP
        x = rect.left() + max(0, int(-rect.left() // slot)) * slot  # the first slot on screen
        while x < min(rect.right(), self.width()):
            frame = clip.source_in + int((x - rect.left()) / self.state.px_per_frame)
            image = self.state.previews.picture(clip, frame)
            if image is not None:
                painter.drawImage(QPointF(x, rect.top() + 2), image)
            x += slot

    def _paint_waveform(self, painter: QPainter, rect: QRectF, clip: Clip) -> None:
        """The clip's envelope, one (min, max) line per pixel column on screen, centred in the clip."""
        envelope = self.state.previews.waveform(clip)
        left, right = max(rect.left(), 0.0), min(rect.right(), float(self.width()))
        if envelope is None or right - left < 1:
            return
        key = (id(envelope), rect.left(), rect.top(), rect.width(), rect.height(), right)
        cached = self._waveform_lines.get(key)  # it holds the envelope, so the id is not reused meanwhile
        if cached is None:
            count = len(envelope)
            first = int((left - rect.left()) / rect.width() * count)
            last = max(first + 1, int(round((right - rect.left()) / rect.width() * count)))
            columns = merge_peaks(envelope[first:last], int(right - left))
            middle, half = rect.center().y(), rect.height() / 2 - 2
            cached = envelope, [QLineF(left + x + 0.5, middle - high * half, left + x + 0.5, middle - low * half)
                                for x, (low, high) in enumerate(columns)]
        self._waveform_lines_used[key] = cached
        painter.setPen(QPen(WAVEFORM_COLOUR, 1))
        painter.drawLines(cached[1])

    def badges(self):
        """(rect, cut frame, measures) of every cut badge whose measures are in (or failed)."""
        timeline = self.state.timeline
        if timeline is None:
            return
        for number, track in enumerate(timeline.tracks):
            if track.kind != "video":
                continue
            for before, after, frame in cuts_of(track):
                measures = self.state.previews.cut_measures(track.items[before], track.items[after])
                if measures is not None:
                    top = RULER_H + number * TRACK_H + 4
                    yield QRectF(self.x_of(frame) - BADGE_W / 2, top, BADGE_W, BADGE_H), frame, measures

    def _paint_badges(self, painter: QPainter) -> None:
        painter.setFont(QFont(painter.font().family(), 7))
        for rect, _frame, measures in self.badges():
            failed = isinstance(measures, str)
            colour = QColor("#80868b") if failed else GRADE_COLOURS[continuity_grade(measures["ssim"])]
            self._paint_badge(painter, rect, colour, "?" if failed else f"{measures['ssim']:.2f}")
            if not failed and measures.get("identity") is not None:
                self._paint_badge(painter, rect.translated(0, BADGE_H + 2), IDENTITY_COLOUR,
                                  f"id {measures['identity']:.2f}")

    @staticmethod
    def _paint_badge(painter: QPainter, rect: QRectF, colour: QColor, text: str) -> None:
        painter.setPen(QPen(QColor("#101010"), 1))
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setBrush(Qt.NoBrush)
        painter.setPen(QColor("#101010"))
        painter.drawText(rect, Qt.AlignCenter, text)

    def _paint_transition(self, painter: QPainter, top: float, cut: int, item: Transition) -> None:
        left, right = self.x_of(cut - item.in_offset), self.x_of(cut + item.out_offset)
        rect = QRectF(left, top + 2, max(2.0, right - left), TRACK_H - 4)
        painter.fillRect(rect, QColor(255, 255, 255, 70))
        painter.setPen(QColor("#ffffff"))
        painter.drawLine(rect.bottomLeft(), rect.topRight())
        painter.drawLine(rect.topLeft(), rect.bottomRight())

    # --- pointer ---------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        self.setFocus()
        if self.state.timeline is None or event.button() != Qt.LeftButton:
            return
        if pos.y() < RULER_H:
            self._drag = {"kind": "scrub"}
            self.state.set_playhead(self.frame_at(pos.x()))
            return
        hit = self.hit(pos)
        if hit is None:
            self.state.select(None)
            self.state.set_playhead(self.frame_at(pos.x()))
            return
        track, index, part = hit
        self.state.select((track, index))
        start = self.state.timeline.tracks[track].starts()[index]
        self._drag = {"kind": part, "track": track, "index": index, "origin": self.frame_at(pos.x()),
                      "start": start, "to": start, "delta": 0}

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        drag = self._drag
        if drag is None:
            hit = self.hit(pos) if self.state.timeline is not None else None
            self.setCursor(Qt.SizeHorCursor if hit and hit[2] != "body" else Qt.ArrowCursor)
            return
        frame = self.frame_at(pos.x())
        if drag["kind"] == "scrub":
            self.state.set_playhead(frame)
            return
        key = (drag["track"], drag["index"])
        item = self.state.timeline.tracks[drag["track"]].items[drag["index"]]
        if drag["kind"] == "body":
            to = max(0, drag["start"] + frame - drag["origin"])
            end = self.state.snapped(to + item.duration, exclude=key) - item.duration
            begin = self.state.snapped(to, exclude=key)
            drag["to"] = begin if begin != to else max(0, end)
            drag["track_to"] = self.track_at(pos.y())
        else:
            edge = drag["start"] if drag["kind"] == "in" else drag["start"] + item.duration
            drag["delta"] = self.state.snapped(edge + frame - drag["origin"], exclude=key) - edge
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag = self._drag, None
        if not drag or drag["kind"] == "scrub":
            return
        track, index = drag["track"], drag["index"]
        if drag["kind"] == "body":
            to_track = drag.get("track_to")
            to_track = track if to_track is None else to_track
            if event.modifiers() & Qt.ControlModifier and to_track == track:
                self.reorder(track, index, drag["to"])
            elif drag["to"] != drag["start"] or to_track != track:
                self._apply(c.Move(track, index, drag["to"], None if to_track == track else to_track))
        elif drag["delta"]:
            ripple = bool(event.modifiers() & Qt.ShiftModifier)  # Shift: the items after follow the edge
            self._apply(c.Trim(track, index, drag["kind"], drag["delta"], ripple=ripple))

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.ControlModifier:
            factor = 1.25 if event.angleDelta().y() > 0 else 0.8
            self.state.set_zoom(self.state.px_per_frame * factor)
            event.accept()
        else:
            super().wheelEvent(event)

    # --- keys (the dock's actions call these too) --------------------------------------------

    def split_at_playhead(self) -> None:
        """Split the selected clip's track (else every track with a clip there) at the playhead."""
        timeline, frame = self.state.timeline, self.state.playhead
        if timeline is None:
            return
        tracks = [self.state.selected[0]] if self.state.selected else [
            number for number, track in enumerate(timeline.tracks) if item_at(track, frame) is not None]
        commands = [c.Split(track, frame) for track in tracks
                    if frame not in timeline.tracks[track].starts() and 0 < frame < timeline.tracks[track].duration]
        if commands:
            self._apply(commands[0] if len(commands) == 1 else c.Batch(tuple(commands), name="split"))

    def reorder(self, track: int, index: int, to_frame: int) -> None:
        """Ctrl+drag: take the clip out, close its hole, and insert it at `to_frame`, pushing the
        others along (Shotcut's ripple move): clips swap places instead of covering each other."""
        items = self.state.timeline.tracks[track]
        clip, start = items.items[index], items.starts()[index]
        if to_frame > start:
            to_frame = max(start, to_frame - clip.duration)  # the frames after it close up first
        self._apply(c.Batch((c.RippleDelete(track, index), c.Insert(track, to_frame, clip)), name="reorder"))

    def ripple_delete(self) -> None:
        if self.state.selected:
            self._apply(c.RippleDelete(*self.state.selected))

    def toggle_crossfade(self) -> None:
        """A crossfade between the selected clip and the next one, or none if there is one."""
        if not self.state.selected:
            return
        track, index = self.state.selected
        existing = transition_after(self.state.timeline.tracks[track], index)
        if existing is not None:
            self._apply(c.Lift(track, existing))
        else:
            frames = max(1, round(CROSSFADE_SECONDS * self.state.timeline.rate.fps))
            self._apply(c.AddTransition(track, index, "crossfade", frames))

    def add_marker(self) -> None:
        if self.state.timeline is not None:
            self._apply(c.AddMarker(Marker(self.state.playhead, f"Marker {len(self.state.timeline.markers) + 1}")))

    def fit(self) -> None:
        self.state.fit(self.width() - HEADER_W)

    # --- drops -----------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        pos = event.position()
        track = self.track_at(pos.y())
        self.files_dropped.emit(paths, -1 if track is None else track, self.state.snapped(self.frame_at(pos.x())))
        event.acceptProposedAction()

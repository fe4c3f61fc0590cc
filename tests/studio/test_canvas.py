"""CanvasView with qtbot: block selection, keys, zoom and pan, the brush, drops and pastes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRectF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.document import ImageDocument
from studio.widgets.canvas import CanvasView

SCREENSHOT = "/tmp/canvas.png"


def scene_image(width: int, height: int) -> np.ndarray:
    """Something that reads as a picture: sky, ground, a sun and a house."""
    ys, xs = np.mgrid[0:height, 0:width]
    sky = np.stack([90 + 60 * ys / height, 140 + 60 * ys / height, 220 + 0 * ys], axis=-1)
    ground = np.stack([60 + 30 * xs / width, 130 + 0 * xs, 60 + 0 * xs], axis=-1)
    image = np.where((ys > height * 0.62)[..., None], ground, sky)
    sun = (xs - width * 0.78) ** 2 + (ys - height * 0.22) ** 2 < (height * 0.1) ** 2
    image[sun] = (250, 210, 80)
    house = (xs > width * 0.22) & (xs < width * 0.45) & (ys > height * 0.45) & (ys < height * 0.75)
    image[house] = (190, 70, 60)
    return image.astype(np.uint8)


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "picture.png"
    Image.fromarray(scene_image(256, 192)).save(path)
    return path


@pytest.fixture
def view(qtbot, picture):
    document = ImageDocument()
    document.open_image(str(picture))
    canvas = CanvasView(document)
    qtbot.addWidget(canvas)
    canvas.resize(640, 480)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.fit()
    canvas.setFocus()
    return canvas


def cell_centre(view: CanvasView, row: int, col: int) -> QPoint:
    return view.mapFromScene(QRectF(view.document.cell_rect(row, col)).center())


def send_mouse(widget, kind, pos: QPoint, button=Qt.LeftButton, buttons=None):
    buttons = button if buttons is None else buttons
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, Qt.NoModifier)
    QApplication.sendEvent(widget, event)


def hover(widget, pos: QPoint):
    """A move with no button down, sent to the widget: qtbot.mouseMove moves the platform cursor,
    which sends nothing when an earlier test left it at the same place (order-dependent)."""
    send_mouse(widget, QEvent.MouseMove, pos, Qt.NoButton, Qt.NoButton)


def drag(widget, points, button=Qt.LeftButton):
    send_mouse(widget, QEvent.MouseButtonPress, points[0], button)
    for point in points[1:]:
        send_mouse(widget, QEvent.MouseMove, point, Qt.NoButton, button)
    send_mouse(widget, QEvent.MouseButtonRelease, points[-1], button, Qt.NoButton)


def test_fit_shows_the_whole_image_centred(view):
    image = view.document.image
    assert view.zoom == pytest.approx(min((640 - 48) / image.width(), (480 - 48) / image.height()))
    box = view.mapFromScene(QRectF(image.rect())).boundingRect()
    assert view.viewport().rect().contains(box)
    assert abs(box.center().x() - view.viewport().rect().center().x()) <= 2


def test_click_selects_the_cell_under_the_cursor(view, qtbot):
    with qtbot.waitSignal(view.cell_selected) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=cell_centre(view, 1, 2))
    assert blocker.args == [1, 2]
    assert view.document.selected_cell == (1, 2)
    assert view.document.undo_stack.count() == 1  # only the open: selecting is not an edit
    outside = view.mapFromScene(QPointF(-20, -20))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=outside)
    assert view.document.selected_cell is None


def test_arrows_move_the_selection_and_stop_at_the_edges(view, qtbot):
    qtbot.keyClick(view, Qt.Key_Right)  # nothing selected: arrows start at the top-left
    assert view.document.selected_cell == (0, 0)
    with qtbot.waitSignal(view.cell_selected) as blocker:
        qtbot.keyClick(view, Qt.Key_Right)
    assert blocker.args == [0, 1]
    qtbot.keyClick(view, Qt.Key_Down)
    qtbot.keyClick(view, Qt.Key_Down)
    assert view.document.selected_cell == (2, 1)
    for _ in range(6):
        qtbot.keyClick(view, Qt.Key_Left)
    assert view.document.selected_cell == (2, 0)
    qtbot.keyClick(view, Qt.Key_Escape)
    assert view.document.selected_cell is None


def test_set_grid_visible_toggles_the_grid(view, qtbot):
    assert view.grid_visible
    with qtbot.waitSignal(view.grid_visible_changed) as blocker:
        view.set_grid_visible(False)
    assert blocker.args == [False] and not view.grid_visible
    view.set_grid_visible(True)
    assert view.grid_visible


def test_hover_highlights_a_cell(view, qtbot):
    hover(view.viewport(), cell_centre(view, 2, 3))
    qtbot.waitUntil(lambda: view.hovered_cell() == (2, 3))


def wheel(view, pos: QPoint, notches: float):
    event = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                        QPoint(0, int(120 * notches)), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_wheel_zooms_around_the_cursor(view):
    before = view.zoom
    anchor = view.mapFromScene(QPointF(200, 40))
    wheel(view, anchor, 2)
    assert view.zoom == pytest.approx(before * 1.25 ** 2)
    under = view.mapToScene(anchor)
    assert abs(under.x() - 200) < 2 and abs(under.y() - 40) < 2  # the point stayed under the cursor
    wheel(view, anchor, -1)
    assert view.zoom == pytest.approx(before * 1.25)


def test_zoom_steps_and_pixel_crisp_magnification(view, qtbot):
    from PySide6.QtGui import QPainter

    view.actual_size()
    assert view.zoom == 1.0
    view.zoom_in()
    assert view.zoom == pytest.approx(1.25)
    assert view._pixmap_item.transformationMode() == Qt.FastTransformation
    assert not view.renderHints() & QPainter.SmoothPixmapTransform
    view.zoom_out()
    view.zoom_out()
    assert view.zoom == pytest.approx(0.8)
    assert view._pixmap_item.transformationMode() == Qt.SmoothTransformation
    view.actual_size()
    for _ in range(30):
        view.zoom_in()
    assert view.zoom == 64.0  # clamped
    view.fit()
    assert view.zoom == pytest.approx(min(592 / 256, 432 / 192))


def test_space_drag_pans(view, qtbot):
    view.set_zoom(3.0)
    start = view.scroll_position()
    qtbot.keyPress(view, Qt.Key_Space)
    centre = view.viewport().rect().center()
    drag(view.viewport(), [centre, centre + QPoint(-30, -20), centre + QPoint(-60, -40)])
    qtbot.keyRelease(view, Qt.Key_Space)
    assert view.scroll_position() == start + QPoint(60, 40)
    assert view.document.selected_cell is None  # panning did not click a cell
    assert view.document.mask_is_empty()


def test_middle_drag_pans_in_any_tool(view, qtbot):
    view.set_zoom(3.0)
    view.set_tool("brush")
    start = view.scroll_position()
    centre = view.viewport().rect().center()
    drag(view.viewport(), [centre, centre + QPoint(25, 10)], button=Qt.MiddleButton)
    assert view.scroll_position() == start - QPoint(25, 10)
    assert view.document.mask_is_empty()


def test_brush_paints_the_mask_in_one_undo_step(view, qtbot):
    doc = view.document
    with qtbot.waitSignal(view.tool_changed) as blocker:
        view.set_tool("brush")
    assert blocker.args == ["brush"] and view.tool == "brush"
    view.brush_size = 10
    base = doc.undo_stack.count()
    points = [view.mapFromScene(QPointF(x, 100)) for x in (40, 80, 120, 160)]
    drag(view.viewport(), points)
    mask = doc.mask_array()
    assert mask[100, 40] and mask[100, 100] and mask[100, 160] and not mask[60, 100]
    assert doc.undo_stack.count() == base + 1
    view.set_tool("eraser")
    assert view.tool == "eraser"
    drag(view.viewport(), [view.mapFromScene(QPointF(100, 80)), view.mapFromScene(QPointF(100, 120))])
    assert not doc.mask_array()[100, 100] and doc.mask_array()[100, 40]
    doc.undo_stack.undo()
    assert doc.mask_array()[100, 100]
    doc.undo_stack.undo()
    assert doc.mask_is_empty()
    view.set_tool("select")
    assert view.tool == "select"


def test_the_brush_size_is_clamped_and_tools_are_checked(view, qtbot):
    view.set_brush_size(0)
    assert view.brush_size == 1
    view.set_brush_size(10_000)
    assert view.brush_size == 1024
    with pytest.raises(ValueError):
        view.set_tool("lasso")


def image_mime(path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    return mime


def test_dropping_an_image_file_emits_its_path(view, qtbot, picture, tmp_path):
    mime = image_mime(picture)
    pos = view.viewport().rect().center()
    enter = QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)  # the event does not own mime
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(view.image_dropped) as blocker:
        QApplication.sendEvent(view.viewport(), QDropEvent(QPointF(pos), Qt.CopyAction, mime, Qt.LeftButton,
                                                           Qt.NoModifier))
    assert blocker.args == [str(picture)]
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    text_mime = image_mime(text)  # kept alive: the event only points at it
    refused = QDragEnterEvent(pos, Qt.CopyAction, text_mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), refused)
    assert not refused.isAccepted()


def test_paste_hands_over_a_clipboard_image(view, qtbot):
    image = QImage(20, 10, QImage.Format_RGB32)
    image.fill(Qt.magenta)
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(view.image_pasted) as blocker:
        view.paste()  # the window's Edit > Paste (Ctrl+V) calls it
    assert blocker.args[0].size() == image.size()


def test_the_view_follows_undo_of_the_image(view, qtbot, tmp_path):
    bigger = tmp_path / "bigger.png"
    Image.fromarray(scene_image(512, 256)).save(bigger)
    view.document.replace_image(str(bigger))
    assert view._pixmap_item.pixmap().width() == 512
    view.document.undo_stack.undo()
    assert view._pixmap_item.pixmap().width() == 256


def test_empty_canvas_paints_without_an_image(qtbot):
    canvas = CanvasView(ImageDocument())
    qtbot.addWidget(canvas)
    canvas.resize(300, 200)
    wheel(canvas, QPoint(10, 10), 1)
    qtbot.keyClick(canvas, Qt.Key_Right)
    assert not canvas.grab().isNull()


def test_screenshot_with_grid_selection_and_mask(view, qtbot):
    doc = view.document
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=cell_centre(view, 1, 2))
    view.set_tool("brush")
    view.brush_size = 18
    drag(view.viewport(), [view.mapFromScene(QPointF(x, y)) for x, y in ((60, 150), (90, 140), (130, 160))])
    hover(view.viewport(), view.mapFromScene(QPointF(200, 60)))  # brush outline over the sky
    qtbot.waitUntil(lambda: view._cursor_scene is not None)
    assert not doc.mask_is_empty() and doc.selected_cell == (1, 2)
    shot = view.grab()
    assert shot.save(SCREENSHOT)
    # the selected cell has a white outline on a dark halo, unlike anything in the picture
    rect = view.mapFromScene(QRectF(doc.cell_rect(1, 2))).boundingRect()
    frame = shot.toImage()
    column = [frame.pixelColor(rect.center().x(), y) for y in range(rect.top() - 4, rect.top() + 5)]
    assert any(min(c.red(), c.green(), c.blue()) > 240 for c in column)
    assert any(max(c.red(), c.green(), c.blue()) < 60 for c in column)
    # the mask is tinted red: the stroke over the grass turns reddish
    stroke = frame.pixelColor(view.mapFromScene(QPointF(130, 160)))
    grass = frame.pixelColor(view.mapFromScene(QPointF(200, 170)))
    assert stroke.red() > grass.red() + 60

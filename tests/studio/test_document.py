"""ImageDocument: opening real files (odd modes too), the latent grid geometry, the mask and undo."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QRect
from PySide6.QtGui import QImage

from engine.api import GenerateRequest, GridSeeds
from engine.edits import locate_block
from engine.errors import BadInput
from engine.metadata import STUDIO_KEY, save_png
from studio.document import ImageDocument, MaskStrokeCommand, load_image, save_png_copy, write_mask


def gradient(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 255 // max(1, width - 1), ys * 255 // max(1, height - 1),
                     (xs + ys) % 256], axis=-1).astype(np.uint8)


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "plain.png"
    Image.fromarray(gradient(64, 48)).save(path)
    return path


@pytest.fixture
def studio_png(tmp_path):
    """A PNG as the engine writes it: a GenerateRequest with a pinned 2x3 grid in its metadata."""
    path = tmp_path / "generated.png"
    grid = GridSeeds(2, 3, (11, 12, 13, 21, 22, 23))
    request = GenerateRequest(prompt="a red house", output_dir=str(tmp_path), seed=7, grid_seeds=grid,
                              grid_rows=2, grid_cols=3)
    save_png(Image.fromarray(gradient(96, 64)), path, request, "a red house\nSteps: 4")
    return path


@pytest.fixture
def doc(qtbot):
    return ImageDocument()


def pixels(image: QImage) -> np.ndarray:
    assert image.format() == QImage.Format_RGB888
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return rows.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3)


def test_empty_document(doc):
    assert doc.path is None and doc.image.isNull() and doc.mask.isNull()
    assert (doc.grid_rows, doc.grid_cols) == (4, 4)
    assert not doc.has_seeds and doc.selected_cell is None
    assert doc.mask_is_empty() and doc.cell_at(1, 1) is None
    assert doc.undo_stack.count() == 0


def test_open_png_reads_pixels_and_gives_a_blank_mask(doc, png, qtbot):
    with qtbot.waitSignal(doc.image_changed):
        doc.open_image(str(png))
    assert doc.path == str(png)
    assert (doc.image.width(), doc.image.height()) == (64, 48)
    np.testing.assert_array_equal(pixels(doc.image), gradient(64, 48))
    assert doc.mask.format() == QImage.Format_Grayscale8 and doc.mask.size() == doc.image.size()
    assert doc.mask_is_empty() and doc.mask_array().shape == (48, 64)
    assert not doc.has_seeds and (doc.grid_rows, doc.grid_cols) == (4, 4)


def test_studio_metadata_sets_the_grid(doc, studio_png, qtbot):
    with qtbot.waitSignal(doc.grid_changed):
        doc.open_image(str(studio_png))
    assert doc.has_seeds
    assert (doc.grid_rows, doc.grid_cols) == (2, 3)
    assert doc.grid_seeds.seed_at(1, 2) == 23
    with pytest.raises(BadInput, match="seeds"):
        doc.set_grid(4, 4)  # a generated image's grid is fixed by its seeds
    assert (doc.grid_rows, doc.grid_cols) == (2, 3)


def test_grid_from_the_grid_key_wins(doc, tmp_path):
    """Resample results record the grid under "grid" next to the request."""
    path = tmp_path / "resampled.png"
    request = GenerateRequest(prompt="x", output_dir=str(tmp_path))
    save_png(Image.fromarray(gradient(64, 64)), path, request, "x",
             extra={"grid": GridSeeds(3, 2, (1, 2, 3, 4, 5, 6)).to_json()})
    doc.open_image(str(path))
    assert doc.has_seeds and (doc.grid_rows, doc.grid_cols) == (3, 2)


def test_a_file_decoded_on_a_worker_thread_opens_the_same(doc, studio_png):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        loaded = pool.submit(load_image, str(studio_png)).result()
    doc.open_image(loaded)
    assert doc.path == str(studio_png) and doc.has_seeds and (doc.grid_rows, doc.grid_cols) == (2, 3)
    assert doc.undo_stack.undoText() == "Open generated.png"


def test_damaged_metadata_is_treated_as_imported(doc, tmp_path):
    from PIL.PngImagePlugin import PngInfo

    path = tmp_path / "damaged.png"
    info = PngInfo()
    info.add_text(STUDIO_KEY, "{not json")
    Image.fromarray(gradient(32, 32)).save(path, pnginfo=info)
    doc.open_image(str(path))
    assert not doc.has_seeds and (doc.grid_rows, doc.grid_cols) == (4, 4)


@pytest.mark.parametrize("kind", ["16-bit", "palette+alpha", "cmyk-jpeg", "greyscale+alpha"])
def test_odd_modes_open_as_rgb(doc, tmp_path, kind):
    if kind == "16-bit":
        path = tmp_path / "deep.png"
        array = (np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
        Image.fromarray(array).save(path)
        assert Image.open(path).mode.startswith("I")
    elif kind == "palette+alpha":
        path = tmp_path / "palette.png"
        image = Image.fromarray(gradient(40, 30)).convert("P", palette=Image.ADAPTIVE, colors=16)
        image.info["transparency"] = 0
        image.save(path, transparency=0)
        assert Image.open(path).mode == "P"
    elif kind == "cmyk-jpeg":
        path = tmp_path / "print.jpg"
        Image.fromarray(gradient(40, 30)).convert("CMYK").save(path, quality=95)
        assert Image.open(path).mode == "CMYK"
    else:
        path = tmp_path / "la.png"
        Image.fromarray(gradient(40, 30)).convert("LA").save(path)
    doc.open_image(str(path))
    assert doc.image.format() == QImage.Format_RGB888
    assert (doc.image.width(), doc.image.height()) == (40, 30)
    assert doc.mask.size() == doc.image.size()


def test_corrupt_file_raises_and_changes_nothing(doc, png, tmp_path):
    doc.open_image(str(png))
    before = (doc.path, doc.image.cacheKey(), doc.undo_stack.count())
    broken = tmp_path / "broken.png"
    broken.write_bytes(png.read_bytes()[:60])
    for bad in (broken, tmp_path / "missing.png", tmp_path):
        with pytest.raises(BadInput):
            doc.open_image(str(bad))
        with pytest.raises(BadInput):
            doc.replace_image(str(bad))
    assert (doc.path, doc.image.cacheKey(), doc.undo_stack.count()) == before


def test_undo_redo_replace_image(doc, png, studio_png):
    doc.open_image(str(png))
    doc.set_grid(3, 3)
    doc.replace_image(str(studio_png))
    assert doc.path == str(studio_png) and doc.has_seeds and (doc.grid_rows, doc.grid_cols) == (2, 3)
    assert doc.undo_stack.undoText() == "Keep result"
    doc.undo_stack.undo()
    assert doc.path == str(png) and not doc.has_seeds and (doc.grid_rows, doc.grid_cols) == (3, 3)
    assert (doc.image.width(), doc.image.height()) == (64, 48)
    doc.undo_stack.redo()
    assert doc.path == str(studio_png) and (doc.image.width(), doc.image.height()) == (96, 64)
    doc.undo_stack.undo()
    doc.undo_stack.undo()  # the grid change
    doc.undo_stack.undo()  # the open
    assert doc.path is None and doc.image.isNull()


def test_replace_keeps_mask_and_selection_of_the_same_size(doc, png, tmp_path):
    doc.open_image(str(png))
    doc.select_cell(1, 2)
    paint(doc, [(10, 10)], radius=4)
    other = tmp_path / "result.png"
    Image.fromarray(255 - gradient(64, 48)).save(other)
    doc.replace_image(str(other))
    assert doc.selected_cell == (1, 2)
    assert not doc.mask_is_empty()
    doc.open_image(str(other))  # opening is a new start: blank mask, no selection
    assert doc.selected_cell is None and doc.mask_is_empty()
    doc.undo_stack.undo()
    assert not doc.mask_is_empty()


def test_undo_redo_grid(doc, png, qtbot):
    doc.open_image(str(png))
    doc.select_cell(3, 3)
    with qtbot.waitSignal(doc.grid_changed):
        doc.set_grid(2, 5)
    assert (doc.grid_rows, doc.grid_cols) == (2, 5)
    assert doc.selected_cell is None  # (3, 3) is outside the new grid
    doc.set_grid(2, 5)  # no change, no undo step
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert (doc.grid_rows, doc.grid_cols) == (4, 4)
    doc.undo_stack.redo()
    assert (doc.grid_rows, doc.grid_cols) == (2, 5)
    with pytest.raises(BadInput, match="finer"):
        doc.set_grid(7, 7)  # 48x64 px at factor 8 is a 6x8 latent
    with pytest.raises(BadInput):
        doc.set_grid(0, 2)


def test_selection_is_not_undoable(doc, png, qtbot):
    doc.open_image(str(png))
    count = doc.undo_stack.count()
    with qtbot.waitSignal(doc.selection_changed):
        doc.select_cell(1, 1)
    assert doc.selected_cell == (1, 1) and doc.undo_stack.count() == count
    with pytest.raises(IndexError):
        doc.select_cell(4, 0)
    with qtbot.waitSignal(doc.selection_changed):
        doc.clear_selection()
    assert doc.selected_cell is None


def test_cells_agree_with_the_engine(doc, tmp_path):
    path = tmp_path / "square.png"
    Image.fromarray(gradient(64, 64)).save(path)
    doc.open_image(str(path))
    doc.vae_factor = 4
    doc.set_grid(3, 3)
    latent = 64 // 4
    seen = np.zeros((64, 64), dtype=int)
    for row in range(3):
        for col in range(3):
            top, bottom, left, right = locate_block(3, 3, row, col, latent, latent, 4).pixel_box
            assert doc.cell_rect(row, col) == QRect(left, top, right - left, bottom - top)
            seen[top:bottom, left:right] += 1
            for x, y in ((left, top), (right - 1, bottom - 1), ((left + right) / 2, (top + bottom) / 2)):
                assert doc.cell_at(x, y) == (row, col)
            assert doc.cell_at(right - 0.01, top) == (row, col)
    assert (seen == 1).all()  # cells tile the image exactly
    # 16 latent pixels in 3 parts: rounded edges 0, 5, 11, 16
    assert [doc.cell_rect(0, c).left() for c in range(3)] == [0, 20, 44]
    assert doc.cell_at(-1, 5) is None and doc.cell_at(64, 5) is None and doc.cell_at(5, 64) is None
    with pytest.raises(IndexError):
        doc.cell_rect(3, 0)


def test_size_not_divisible_by_the_vae_factor(doc, tmp_path):
    path = tmp_path / "odd.png"
    Image.fromarray(gradient(70, 50)).save(path)
    doc.open_image(str(path))
    assert doc.latent_size() == (6, 8)
    assert doc.cell_rect(3, 3).bottomRight() == QRect(0, 0, 64, 48).bottomRight()
    assert doc.cell_at(66, 10) is None  # the 6 px edge past the last whole latent pixel
    doc.vae_factor = 16  # a 3x4 latent: a 4x4 grid no longer fits
    assert not doc.grid_fits() and doc.cell_rect(0, 0).isEmpty() and doc.cell_at(1, 1) is None


def paint(doc: ImageDocument, points, radius=3.0, erase=False):
    doc.begin_stroke(erase=erase, radius=radius)
    for x, y in points:
        doc.stroke_to(QPointF(x, y))
    doc.end_stroke()


def test_multi_segment_stroke_is_one_undo_step(doc, png, qtbot):
    doc.open_image(str(png))
    base = doc.undo_stack.count()
    with qtbot.waitSignal(doc.mask_changed):
        paint(doc, [(5, 5), (30, 5), (30, 40), (50, 40)], radius=3)
    mask = doc.mask_array()
    assert set(np.unique(doc.mask_array().astype(np.uint8) * 255)) == {0, 255}
    raw = np.frombuffer(doc.mask.constBits(), np.uint8, count=doc.mask.sizeInBytes())
    assert set(np.unique(raw.reshape(48, -1)[:, :64])) == {0, 255}  # binary: antialiasing is off
    assert mask[5, 5] and mask[5, 20] and mask[20, 30] and mask[40, 45]
    assert not mask[25, 10] and not mask[45, 5]
    assert doc.undo_stack.count() == base + 1
    command = doc.undo_stack.command(doc.undo_stack.count() - 1)
    assert isinstance(command, MaskStrokeCommand)
    # only the touched rectangle is kept, not the whole mask
    assert command.rect.contains(QRect(5, 5, 46, 36))
    assert command.before.size() == command.rect.size() and command.rect != doc.mask.rect()
    doc.undo_stack.undo()
    assert doc.mask_is_empty()
    doc.undo_stack.redo()
    np.testing.assert_array_equal(doc.mask_array(), mask)


def test_separate_strokes_and_eraser_are_separate_steps(doc, png):
    doc.open_image(str(png))
    base = doc.undo_stack.count()
    paint(doc, [(10, 10), (50, 10)], radius=4)
    first = doc.mask_array()
    paint(doc, [(10, 30)], radius=4)  # a single click paints a dot
    second = doc.mask_array()
    assert second[30, 10] and not first[30, 10]
    paint(doc, [(30, 0), (30, 20)], radius=5, erase=True)
    erased = doc.mask_array()
    assert not erased[10, 30] and erased[10, 12] and erased[30, 10]
    assert doc.undo_stack.count() == base + 3
    assert doc.undo_stack.undoText() == "Erase mask"
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.mask_array(), second)
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.mask_array(), first)
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    np.testing.assert_array_equal(doc.mask_array(), erased)


def test_overlapping_segments_undo_exactly(doc, png):
    doc.open_image(str(png))
    paint(doc, [(20, 20)], radius=6)
    before = doc.mask_array()
    paint(doc, [(5, 20), (35, 20), (5, 22), (40, 40)], radius=4, erase=True)
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.mask_array(), before)


def test_clear_mask_is_undoable(doc, png):
    doc.open_image(str(png))
    base = doc.undo_stack.count()
    doc.clear_mask()  # nothing to clear: no undo step
    assert doc.undo_stack.count() == base
    paint(doc, [(8, 8), (20, 30)], radius=3)
    painted = doc.mask_array()
    assert doc.mask_bounds().contains(QRect(8, 8, 12, 22))
    doc.clear_mask()
    assert doc.mask_is_empty()
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.mask_array(), painted)


def test_save_mask_and_png(doc, studio_png, tmp_path):
    doc.open_image(str(studio_png))
    paint(doc, [(10, 10), (40, 10)], radius=3)
    mask_path = write_mask(doc.mask, tmp_path / "out" / "mask.png")
    with Image.open(mask_path) as saved:
        assert saved.mode == "L" and saved.size == (96, 64)
        np.testing.assert_array_equal(np.asarray(saved) >= 128, doc.mask_array())
    copy = save_png_copy(*doc.png_snapshot(), tmp_path / "copy.png")
    assert copy.read_bytes() == studio_png.read_bytes()  # metadata and all
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_png_of_an_imported_jpeg_writes_pixels(doc, tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray(gradient(40, 30)).convert("CMYK").save(path, quality=95)
    doc.open_image(str(path))
    target = save_png_copy(*doc.png_snapshot(), tmp_path / "photo.png")
    with Image.open(target) as saved:
        assert saved.format == "PNG" and saved.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(saved), pixels(doc.image))


def test_save_without_an_image_says_so(doc, tmp_path):
    with pytest.raises(BadInput):
        doc.png_snapshot()
    with pytest.raises(BadInput):
        write_mask(doc.mask, tmp_path / "m.png")

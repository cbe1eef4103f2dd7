"""Robust reading of real-world images: digits found on lit paper, edge-touching ink kept, lines ignored, rows split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_toolkit.reading.prepare import ImageError, prepare_bytes, prepare_number_bytes

from helpers import png


@pytest.fixture(scope="module")
def digits(mnist_test) -> np.ndarray:
    return mnist_test.images[:10]


def paper(height: int, width: int, gradient: float = 0.35, ruled: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    page = 235 * (1 - gradient * xx / width) * (1 - 0.5 * gradient * yy / height)
    if ruled:
        page[height // 20 :: height // 12] *= 0.85  # faint ruled lines across the page
    return page


def put(page: np.ndarray, digit: np.ndarray, top: int, left: int, size: int) -> None:
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.BICUBIC), dtype=np.float64).clip(0, 255) / 255
    page[top : top + size, left : left + size] *= 1 - 0.85 * ink


def aligned_correlation(image: np.ndarray, reference: np.ndarray, reach: int = 2) -> float:
    """Best correlation over whole-pixel shifts up to `reach`: the same digit, centred a pixel apart, scores high."""
    return max(
        np.corrcoef(np.roll(image, (dy, dx), (0, 1)).ravel(), reference.ravel())[0, 1]
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
    )


@settings(max_examples=12, deadline=None)
@given(st.floats(0.05, 0.9), st.floats(0.05, 0.9), st.integers(0, 9))
def test_digit_anywhere_on_lit_paper_is_found(digits, fy, fx, which):
    page = paper(600, 800)
    top, left = int(fy * (600 - 90)), int(fx * (800 - 90))
    put(page, digits[which], top, left, 90)
    prepared = prepare_bytes(png(page))
    box_left, box_top, box_right, box_bottom = prepared.box
    assert left - 2 <= box_left and box_right <= left + 92 and top - 2 <= box_top and box_bottom <= top + 92
    assert prepared.inverted and prepared.image.max() >= 200
    assert aligned_correlation(prepared.image.astype(float), digits[which].astype(float)) > 0.85


def test_ruled_lines_do_not_move_the_box(digits):
    clean, ruled = paper(600, 800), paper(600, 800, ruled=True)
    for page in (clean, ruled):
        put(page, digits[3], 200, 300, 100)
    assert np.allclose(prepare_bytes(png(clean)).box, prepare_bytes(png(ruled)).box, atol=4)


@pytest.mark.parametrize("dark_ink", [True, False])
@pytest.mark.parametrize("thickness", [0.18, 0.32])
def test_ink_touching_every_edge_is_kept(dark_ink, thickness):
    yy, xx = np.mgrid[0:120, 0:100]
    radius = np.hypot((yy - 59.5) / 66, (xx - 49.5) / 56)  # a thick "0" a little larger than the frame
    ring = (radius <= 1) & (radius >= 1 - thickness)
    page = np.where(ring, 25.0, 230.0) if dark_ink else np.where(ring, 230.0, 25.0)
    prepared = prepare_bytes(png(page))
    assert prepared.inverted == dark_ink
    assert prepared.box == (0, 0, 100, 120)
    assert prepared.image[14, 14] == 0 and prepared.image[:, 4:8].sum() > 0 and prepared.image[:, 20:24].sum() > 0


def test_sticky_note_on_a_darker_desk_is_paper_not_ink(digits):
    desk = paper(600, 800, gradient=0.2) * 0.55
    desk[150:330, 400:570] = 225  # a light note; the digit is written on it
    put(desk, digits[0], 190, 440, 100)
    prepared = prepare_bytes(png(desk))
    left, top, right, bottom = prepared.box
    assert prepared.inverted and 430 <= left and right <= 545 and 180 <= top and bottom <= 295
    assert aligned_correlation(prepared.image.astype(float), digits[0].astype(float)) > 0.85


def test_page_edge_is_not_the_digit(digits):
    page = paper(600, 800)
    page[:, :120] = 30  # the dark desk beyond the page's left edge
    put(page, digits[4], 250, 500, 60)
    prepared = prepare_bytes(png(page))
    left, top, right, bottom = prepared.box
    assert 490 <= left and right <= 565 and 240 <= top and bottom <= 315


@pytest.mark.parametrize("count", [2, 4, 10])
def test_a_row_of_digits_gives_one_box_each_in_order(digits, count):
    page = paper(160, 90 * count + 60, gradient=0.2)
    lefts = [30 + 90 * i for i in range(count)]
    for i, left in enumerate(lefts):
        put(page, digits[i], 30 + (i % 3) * 6, left, 84)
    prepared = prepare_number_bytes(png(page))
    assert len(prepared) == count
    boxes = [p.box for p in prepared]
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    for (box_left, _, box_right, _), left in zip(boxes, lefts):  # each box around its own digit's 84 px square
        assert left - 2 <= box_left < box_right <= left + 86, (boxes, lefts)


@pytest.mark.parametrize("kind", ["blank", "lines-only", "specks"])
def test_no_digit_is_an_error(kind):
    page = paper(400, 600, gradient=0.25, ruled=kind == "lines-only")
    if kind == "specks":
        rng = np.random.default_rng(0)
        for y, x in rng.integers(10, 390, size=(100, 2)):
            page[y : y + 2, x : x + 2] = 40
    with pytest.raises(ImageError, match="no digit found"):
        prepare_number_bytes(png(page))


def test_an_upright_one_in_a_row_is_a_digit_not_a_margin_line(digits):
    """A straight "1" spanning half of a short row's height is ink, not a ruled margin (those span the page)."""
    page = paper(170, 420, gradient=0.2)
    put(page, digits[1], 40, 30, 84)  # a 2
    page[40:124, 196:204] *= 0.15  # an upright 1: a straight stroke, 84 px of the 170
    put(page, digits[4], 40, 300, 84)  # a 4
    prepared = prepare_number_bytes(png(page))
    assert len(prepared) == 3
    assert 190 <= prepared[1].box[0] <= 198 and 202 <= prepared[1].box[2] <= 212


def test_a_fives_detached_bar_stays_with_the_five(digits):
    """A 5 whose bar is lifted off to the upper right (it overlaps the body's width by a quarter and is
    too large for a "small part") keeps its bar: dropped, the 5 reads as a 3."""
    from PIL import ImageDraw

    ink = Image.new("L", (360, 170), 0)
    draw = ImageDraw.Draw(ink)
    draw.line([(40, 62), (36, 100)], fill=255, width=9)  # the 5's upright
    draw.arc([(30, 84), (96, 146)], start=-150, end=150, fill=255, width=9)  # its bowl
    draw.line([(78, 50), (136, 46)], fill=255, width=9)  # its bar, lifted off to the right
    draw.ellipse([(200, 52), (256, 146)], outline=255, width=9)  # a 0
    page = paper(170, 360, gradient=0.2) * (1 - 0.85 * np.asarray(ink, dtype=np.float64) / 255)
    prepared = prepare_number_bytes(png(page))
    assert len(prepared) == 2
    left, top, right, _ = prepared[0].box
    assert left <= 34 and top <= 44 and right >= 138  # the bar is part of the 5
    assert prepared[1].box[0] >= 190

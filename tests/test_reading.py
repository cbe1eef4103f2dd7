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


def _row_314(height: int = 250, margin_at: int | None = None) -> np.ndarray:
    """A 1000 x `height` drawing of "314" with a thick pen, the 1 a straight 160 px upright (optionally a
    thin margin line spanning the frame at x = `margin_at`)."""
    from PIL import ImageDraw

    ink = Image.new("L", (1000, height), 0)
    draw = ImageDraw.Draw(ink)
    top = (height - 160) // 2
    draw.arc([(300, top), (400, top + 80)], start=-150, end=90, fill=255, width=14)  # the 3's upper bowl
    draw.arc([(300, top + 80), (400, top + 160)], start=-90, end=150, fill=255, width=14)  # its lower bowl
    draw.line([(500, top), (500, top + 160)], fill=255, width=14)  # the 1: a straight upright
    draw.line([(650, top), (610, top + 110), (700, top + 110)], fill=255, width=14)  # the 4's arm and bar
    draw.line([(680, top + 60), (680, top + 160)], fill=255, width=14)  # its stem
    if margin_at is not None:
        draw.line([(margin_at, 0), (margin_at, height)], fill=255, width=4)
    return 245 * (1 - 0.9 * np.asarray(ink, dtype=np.float64) / 255)


@pytest.mark.parametrize("height", [250, 400])
def test_an_upright_one_in_a_short_row_is_a_digit(height):
    """The 1 spans 0.64 of a 250 px frame, more than a margin line's minimum share (0.6), yet sits in a row
    of digits as tall as it: it is a digit, as it is on a taller canvas."""
    prepared = prepare_number_bytes(png(_row_314(height)))
    assert len(prepared) == 3
    left, _, right, _ = prepared[1].box
    assert 485 <= left <= 495 and 505 <= right <= 515


def test_a_margin_line_beside_a_row_of_digits_is_still_removed():
    prepared = prepare_number_bytes(png(_row_314(margin_at=120)))
    assert len(prepared) == 3 and prepared[0].box[0] >= 290


def test_two_upright_ones_in_a_short_row_are_digits():
    page = np.full((250, 600), 240.0)
    page[45:205, 200:208] = 30  # "11", each 160 px of the 250, a thin pen (8 px)
    page[45:205, 380:388] = 30
    prepared = prepare_number_bytes(png(page))
    assert [p.box[0] < 300 for p in prepared] == [True, False]


def _touching(text: str, overlap: int = 6, size: int = 120) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """`text` in PIL's own bold-ish font (a stroked outline), each glyph overlapping the previous one by
    `overlap` pixels so that all their ink is one component; also each glyph's (left, right)."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    ink = np.zeros((2 * size, 80 + 2 * size * len(text)), np.uint8)
    x, spans = 40, []
    for char in text:
        canvas = Image.new("L", (2 * size, 2 * size), 0)
        ImageDraw.Draw(canvas).text((size // 2, size // 2), char, font=font, fill=255, stroke_width=3, stroke_fill=255)
        glyph = np.asarray(canvas)
        rows, cols = np.flatnonzero(glyph.any(axis=1)), np.flatnonzero(glyph.any(axis=0))
        glyph = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        top = rows[0] - size // 4
        ink[top : top + glyph.shape[0], x : x + glyph.shape[1]] |= glyph
        spans.append((x, x + glyph.shape[1]))
        x += glyph.shape[1] - overlap
    ink = ink[:, : x + overlap + 40]
    return 240 * (1 - 0.9 * ink.astype(np.float64) / 255), spans


@pytest.mark.parametrize("overlap", [4, 8])
def test_touching_digits_are_cut_into_one_input_each(overlap):
    """ "2025" with touching glyphs is one ink component; it is cut into four digits, each around its glyph,
    each saying it was cut from touching ink, instead of one squeezed 28x28."""
    from mnist_toolkit.reading.ink import find_ink
    from mnist_toolkit.reading.prepare import to_gray
    from mnist_toolkit.reading.segment import components

    page, spans = _touching("2025", overlap)
    found = find_ink(to_gray(Image.fromarray(page.astype(np.uint8))))
    assert len(components(found.mask, found.contrast)[1]) == 1  # the glyphs do touch
    prepared = prepare_number_bytes(png(page))
    assert len(prepared) == 4 and all(p.cut_from == 4 for p in prepared)
    for p, (left, right) in zip(prepared, spans):
        centre = (p.box[0] + p.box[2]) / 2
        assert left < centre < right, ([p.box for p in prepared], spans)
    assert prepare_bytes(png(page)).digits_seen == 4  # read as one digit, the reading can warn


def _wide_digit(kind: str, width: int) -> np.ndarray:
    """A single digit drawn far wider than usual: a 0 (an ellipse) or a 4, 100 px tall and `width` wide."""
    from PIL import ImageDraw

    ink = Image.new("L", (width + 160, 260), 0)
    draw = ImageDraw.Draw(ink)
    left, top = 80, 80
    if kind == "0":
        draw.ellipse([(left, top), (left + width, top + 100)], outline=255, width=10)
    else:
        draw.line([(left + 0.6 * width, top), (left, top + 65), (left + width, top + 65)], fill=255, width=10)
        draw.line([(left + 0.75 * width, top + 25), (left + 0.75 * width, top + 100)], fill=255, width=10)
    return 240 * (1 - 0.9 * np.asarray(ink, dtype=np.float64) / 255)


@pytest.mark.parametrize("kind, width", [("0", 190), ("4", 170)])
def test_a_single_wide_digit_is_not_cut(kind, width):
    page = _wide_digit(kind, width)
    (prepared,) = prepare_number_bytes(png(page))
    assert prepared.cut_from == 1 and prepare_bytes(png(page)).digits_seen == 1


def test_a_wide_zero_in_a_row_is_not_cut():
    """The row's height, not the group's own, measures how wide a digit may be: a flat 0, 2.3 times as wide
    as it is tall (alone it would be cut), beside a taller 1 stays one digit."""
    page = _wide_digit("0", 240)
    page[50:210, 20:34] = 24  # a 1, 160 px tall, left of the 0
    prepared = prepare_number_bytes(png(page))
    assert len(prepared) == 2 and all(p.cut_from == 1 for p in prepared)


def test_predict_number_warns_when_touching_digits_were_cut(cli, tmp_path):
    """`mnist predict --number` says when it cut touching digits apart, and its table is a number table.

    The glyphs are printed and overlap, so each cut piece holds a sliver of its neighbour: the "not a
    digit" detector may refuse such a piece, which makes the whole number an error row (the eighth
    build refused the 2 and the 0 of this "2025", 0.002 and 0.00002; the shipped ninth, which learned
    printed digits, scores them 0.18 and 0.04, over its 0.0056). The cut and its warning are the subject
    here, so the check is off and the test holds whatever the detector; `--no-digit-check` is the way past.
    """
    page, _ = _touching("2025", 6)
    image = tmp_path / "year.png"
    image.write_bytes(png(page))
    result = cli("predict", "--run", "pretrained", "--number", "--no-digit-check", image)
    assert result.exit_code == 0, result.stderr
    assert "touching digits were cut apart" in result.stderr and "year.png" in result.stderr
    assert "number" in result.stdout and "top-k" not in result.stdout
    plain = cli("predict", "--run", "pretrained", "--number", tmp_path / "missing.png")
    assert plain.exit_code == 1 and "number" in plain.stdout and "top-k" not in plain.stdout  # all failed: still a number table


def _form_box(digit: np.ndarray, dark_ink: bool, thickness: int = 12, scan: int = 18) -> np.ndarray:
    """A thick digit cropped to its ink (it touches every edge), scanned at `scan` px high and enlarged to 64."""
    from scipy import ndimage

    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.BICUBIC), np.float64) > 100
    thick = ndimage.binary_dilation(big, np.hypot(*np.mgrid[-thickness:thickness + 1, -thickness:thickness + 1]) <= thickness)
    rows, cols = np.flatnonzero(thick.any(1)), np.flatnonzero(thick.any(0))
    crop = thick[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    width = max(4, round(scan * crop.shape[1] / crop.shape[0]))
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize((width, scan), Image.BOX)
    ink = np.asarray(small.resize((round(64 * width / scan), 64), Image.BILINEAR), np.float64) / 255
    return 230 - 200 * ink if dark_ink else 25 + 200 * ink


@pytest.mark.parametrize("dark_ink", [True, False])
@pytest.mark.parametrize(("digit", "nth"), [(3, 0), (5, 1), (5, 2)])
def test_a_thick_digit_filling_its_box_keeps_its_polarity(mnist_test, dark_ink, digit, nth):
    """Ink covering about half the box, its border and corners (the grey-level vote alone took these for
    light ink on a dark ground): the ink is the class in one piece, the paper is cut into several."""
    from mnist_toolkit.reading.ink import decide_polarity

    page = _form_box(mnist_test.images[np.flatnonzero(mnist_test.labels == digit)[nth]], dark_ink, thickness=26)
    assert decide_polarity(page / 255).dark_ink == dark_ink
    assert prepare_bytes(png(page)).inverted == dark_ink


@pytest.mark.parametrize("dark_ink", [True, False])
@pytest.mark.parametrize(("digit", "nth", "thickness"), [(3, 0, 34), (8, 0, 36), (9, 4, 38)])
def test_a_digit_whose_ink_is_most_of_its_box_keeps_its_polarity(mnist_test, dark_ink, digit, nth, thickness):
    """Thicker still: the ink holds about two thirds of the box, so the grey-level vote leans a third of
    the way to the wrong side (0.32-0.35; it was read inverted, as a blob); the pieces still decide."""
    from mnist_toolkit.reading.ink import CORNER_VOTES, UNSURE_VOTE, _border, _corners, decide_polarity, otsu_threshold

    page = _form_box(mnist_test.images[np.flatnonzero(mnist_test.labels == digit)[nth]], dark_ink, thickness=thickness) / 255
    ink = page < otsu_threshold(page)[0] if dark_ink else page > otsu_threshold(page)[0]
    vote = (ink.mean() + _border(ink).mean() + CORNER_VOTES * _corners(ink).mean()) / (2 + CORNER_VOTES)
    assert 0.15 < vote - 0.5 <= UNSURE_VOTE  # the ink holds the larger share of the vote, beyond the old band (0.15)
    assert decide_polarity(page).dark_ink == dark_ink
    assert prepare_bytes(png(page * 255)).inverted == dark_ink


def test_the_pieces_decide_only_near_a_tie():
    """A frame mostly of one grey with the other in several pieces: the vote stands (a photo's texture)."""
    from mnist_toolkit.reading.ink import decide_polarity

    page = np.full((90, 120), 0.9)
    page[30:60, 10:110] = 0.1  # a broad dark bar: a third of the frame, in one piece
    page[5:12, 5:20] = page[78:85, 90:110] = 0.1
    assert decide_polarity(page).dark_ink


def _page_on_a_desk(shadow: float = 0.28) -> np.ndarray:
    """A sheet of paper filling a photo (0.78, a soft shadow over one side), the desk along its top
    (0.22), and a small dark ring of ink, a 0 about 5 % of the frame tall, at (330, 420)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:600, 0:800].astype(np.float32)
    page = 0.78 - shadow * np.exp(-(((x - 150) / 260) ** 2 + ((y - 450) / 220) ** 2))
    page[:60] = 0.22
    page[np.abs(np.hypot(y - 330, x - 420) - 14) < 2.0] -= 0.35
    return np.clip(page + rng.normal(0, 0.01, page.shape), 0, 1).astype(np.float32)


def test_a_page_with_the_desk_along_a_side_has_dark_ink(monkeypatch):
    """The grey levels split fairly cleanly (0.76, under the two-class 0.8) and the tails took the sheet,
    brighter than its blurred surroundings at the desk's edge, for light ink: the sheet was read (as an
    8, confidently). A light class in one piece holding most of the vote is the paper."""
    from mnist_toolkit.reading import ink

    page = _page_on_a_desk()
    threshold, separability = ink.otsu_threshold(page)
    assert ink.PAGE_SEPARABILITY <= separability < ink.TWO_CLASS_SEPARABILITY
    assert ink._light_vote(page > threshold) >= ink.PAGE_LIGHT_SHARE
    assert ink.decide_polarity(page).dark_ink
    found = ink.find_ink(page)
    rows, columns = np.nonzero(found.mask)
    assert found.dark_ink and {(r, c) for r, c in zip(rows, columns)} >= {(330, 406), (316, 420)}  # the ring is ink
    prepared = prepare_bytes(png(page * 255))
    assert prepared.image[14, 14] < 60 and prepared.image.max() > 200  # a ring with its hole, not a filled square

    monkeypatch.setattr(ink, "PAGE_SEPARABILITY", 1.1)  # without the rule: the tails' answer, the sheet as light ink
    assert not ink.decide_polarity(page).dark_ink


def test_a_thick_tight_zero_is_read_as_zero(mnist_test):
    """The issue's case: a thick, blurred 0 filling a 64x64 box (it came out as a filled blob or a 1)."""
    from scipy import ndimage

    import mnist_toolkit as mt

    model = mt.load_model("pretrained")
    zeros = mnist_test.images[np.flatnonzero(mnist_test.labels == 0)[:5]]
    for zero in zeros:
        page = _form_box(zero, dark_ink=True, thickness=9)
        prepared = prepare_bytes(png(page))
        ink = prepared.image > 128
        assert ndimage.binary_fill_holes(ink).sum() - ink.sum() >= 3  # the hole stays a hole, not a filled blob
        assert model.read(png(page)).digit == 0

"""Robust reading of real-world images: digits found on lit paper, edge-touching ink kept, lines ignored, rows split."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_toolkit.data import load_split, resolve_source
from mnist_toolkit.preprocess import ImageError, prepare_bytes, prepare_number_bytes


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_split(resolve_source(), "test").images[:10]


def png(gray: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gray.clip(0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def paper(height: int, width: int, gradient: float = 0.35, ruled: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    page = 235 * (1 - gradient * xx / width) * (1 - 0.5 * gradient * yy / height)
    if ruled:
        page[height // 20 :: height // 12] *= 0.85  # faint ruled lines across the page
    return page


def put(page: np.ndarray, digit: np.ndarray, top: int, left: int, size: int) -> None:
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.BICUBIC), dtype=np.float64).clip(0, 255) / 255
    page[top : top + size, left : left + size] *= 1 - 0.85 * ink


@pytest.mark.xfail(strict=True, reason="open (issue 10): some placements on a noiseless gradient are not yet found exactly")
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
    original = np.asarray(Image.fromarray(digits[which]), dtype=float)
    assert np.corrcoef(prepared.image.ravel().astype(float), original.ravel())[0, 1] > 0.6


def test_ruled_lines_do_not_move_the_box(digits):
    clean, ruled = paper(600, 800), paper(600, 800, ruled=True)
    for page in (clean, ruled):
        put(page, digits[3], 200, 300, 100)
    assert np.allclose(prepare_bytes(png(clean)).box, prepare_bytes(png(ruled)).box, atol=4)


@pytest.mark.xfail(strict=True, reason="open (issue 10): a frame-filling square ring is more ink than paper; polarity flips")
def test_ink_touching_every_edge_is_kept():
    page = np.full((120, 100), 230.0)
    page[:, :18] = page[:, -18:] = page[:18, :] = page[-18:, :] = 25  # a thick square "0" cut by the frame
    prepared = prepare_bytes(png(page))
    assert prepared.inverted
    assert prepared.image[4:24, 4:24].sum() > 0 and prepared.image[14, 14] == 0


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


@pytest.mark.parametrize("kind", [pytest.param("blank", marks=pytest.mark.xfail(strict=True, reason="open (issue 10): a noiseless strong gradient leaves residual 'ink' in the corners")), "lines-only", "specks"])
def test_no_digit_is_an_error(kind):
    page = paper(400, 600, gradient=0.25, ruled=kind == "lines-only")
    if kind == "specks":
        rng = np.random.default_rng(0)
        for y, x in rng.integers(10, 390, size=(100, 2)):
            page[y : y + 2, x : x + 2] = 40
    with pytest.raises(ImageError, match="no digit found"):
        prepare_number_bytes(png(page))

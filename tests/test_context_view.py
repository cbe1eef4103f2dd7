"""The context view (reading/context.py): what the "not a digit" detector sees around the chosen ink,
and a detector that reads it gets it from every front-end (or makes one for a bare 28x28 input)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mnist_toolkit.reading.context import SIDE, context_of_inputs, context_view
from mnist_toolkit.reading.prepare import prepare, prepare_number


def _page(height: int = 200, width: int = 300) -> np.ndarray:
    return np.full((height, width), 230, np.uint8)


def _view(page: np.ndarray, box, dark_ink: bool = True) -> np.ndarray:
    return context_view(page.astype(np.float32) / 255, box, dark_ink)


def test_dark_ink_on_paper_is_bright_in_the_middle_of_a_dark_view():
    page = _page()
    page[80:120, 140:160] = 25  # the ink: 20 x 40 px
    view = _view(page, (140, 80, 160, 120))
    assert view.shape == (SIDE, SIDE) and view.dtype == np.uint8
    middle = view[SIDE // 2 - 3 : SIDE // 2 + 3, SIDE // 2 - 2 : SIDE // 2 + 2]
    assert middle.min() > 200 and view[:4].max() < 30 and view[:, :4].max() < 30  # the box is the middle third
    light = _view(255 - page, (140, 80, 160, 120), dark_ink=False)
    np.testing.assert_allclose(light, view, atol=1)  # light ink on a board: the same view


def test_what_lies_around_the_ink_shows_in_the_view():
    page = _page()
    page[80:120, 140:160] = 25
    busy = page.copy()
    busy[45:75, 110:190] = np.random.default_rng(0).integers(50, 230, (30, 80))  # a patterned thing above the ink
    plain, cluttered = (_view(p, (140, 80, 160, 120)) for p in (page, busy))
    assert plain[: SIDE // 3].std() < 5 < cluttered[: SIDE // 3].std()


def test_a_box_at_the_edge_repeats_the_edge_and_a_tiny_box_still_gives_a_view():
    page = _page()
    page[0:30, 0:20] = 25
    view = _view(page, (0, 0, 20, 30))
    assert view.shape == (SIDE, SIDE) and view[:6, :6].min() > 200  # the ink reaches past the image's corner
    assert _view(page, (5, 5, 6, 6)).shape == (SIDE, SIDE)


def test_a_large_window_is_reduced_by_block_means():
    page = _page(3000, 3000)
    page[1000:2000, 1200:1800] = 25
    view = _view(page, (1200, 1000, 1800, 2000))
    small = _view(page[::6, ::6], (200, 167, 300, 334))  # the same page at a sixth of the size
    assert view.shape == (SIDE, SIDE) and np.abs(view.astype(int) - small).mean() < 8
    noise = np.random.default_rng(1).integers(0, 255, (3000, 3000), dtype=np.uint8)
    assert 60 < _view(noise, (1000, 1000, 2000, 2000)).mean() < 200  # noise stays grey on average


@pytest.mark.parametrize("mode", ["RGBA", "I;16", "F", "LAB"])
def test_transparent_deep_and_other_colour_images_get_a_view_of_their_ink(mode):
    """The view is made from the reading's luminance: ink only in the alpha channel, 16-bit and float
    images are seen as ink on a ground, not as a blank (which the detector would take for paper)."""
    page = np.zeros((120, 160), np.float32)
    page[40:80, 70:90] = 1.0  # the ink's strength
    if mode == "RGBA":
        rgba = np.zeros((120, 160, 4), np.uint8)
        rgba[..., 3] = (page * 255).astype(np.uint8)  # black strokes on a transparent canvas
        image = Image.fromarray(rgba, "RGBA")
    elif mode == "I;16":
        image = Image.fromarray((1000 + 20000 * (1 - page)).astype(np.uint16))
    elif mode == "F":
        image = Image.fromarray(1 - page, "F")
    else:
        image = Image.fromarray((255 * (1 - page)).astype(np.uint8)).convert("RGB").convert("LAB")
    prepared = prepare(image)
    middle = prepared.context[SIDE // 2 - 3 : SIDE // 2 + 3, SIDE // 2 - 2 : SIDE // 2 + 2]
    assert middle.min() > 200 and prepared.context[:4].max() < 30


def test_every_prepared_digit_has_its_view(mnist_test):
    page = np.full((120, 260), 235, np.uint8)
    for i, index in enumerate((0, 1, 2)):
        digit = 255 - mnist_test.images[index]
        page[40:68, 40 + 70 * i : 68 + 70 * i] = np.minimum(page[40:68, 40 + 70 * i : 68 + 70 * i], digit)
    parts = prepare_number(Image.fromarray(page))
    assert len(parts) == 3 and all(p.context is not None and p.context.shape == (SIDE, SIDE) for p in parts)
    assert not np.array_equal(parts[0].context, parts[2].context)
    passed = prepare(Image.fromarray(mnist_test.images[0]))
    assert passed.passthrough
    np.testing.assert_array_equal(passed.context, context_of_inputs(mnist_test.images[:1])[0])


class ReadsTheView:
    """Stands in for the ONNX session of a detector with a context input: digit where the view's top
    third is plain."""

    def __init__(self):
        self.fed = []

    def get_inputs(self):
        return []

    def run(self, _, feeds):
        self.fed.append(feeds)
        views = feeds["context"]
        return [np.where(views[:, : SIDE // 3].std(axis=(1, 2)) < 5, 0.9, 0.1).astype(np.float32)]


@pytest.fixture
def context_detector():
    from mnist_toolkit.inference.digitness import DigitnessDetector

    detector = DigitnessDetector.__new__(DigitnessDetector)
    detector.threshold, detector.card, detector.input_name, detector.reads_context = 0.5, {}, "images", True
    detector.session = ReadsTheView()
    return detector


def test_a_detector_that_reads_the_view_gets_it_from_the_reading_or_makes_one(context_detector, mnist_test):
    import mnist_toolkit as mt

    model = mt.load_model("pretrained")
    model.detector = context_detector
    page = np.full((200, 300), 255, np.uint8)
    page[80:108, 136:164] = 255 - mnist_test.images[0]
    assert model.read(Image.fromarray(page)).is_digit
    busy = page.copy()
    busy[55:80, 100:200] = np.random.default_rng(0).integers(170, 255, (25, 100))  # a light pattern just above the ink
    with pytest.raises(mt.NotADigit) as refused:
        model.read(Image.fromarray(busy))
    assert refused.value.reading.box[1] >= 80  # the same digit was read: only what lies around it differs
    fed = context_detector.session.fed[-1]
    assert fed["context"].shape == (1, SIDE, SIDE) and fed["images"].shape == (1, 28, 28)
    # a bare 28x28 input: its own view, as the reading gives an MNIST-style image
    found = model.readings(mnist_test.images[:2])
    assert all(r.is_digit for r in found)
    np.testing.assert_array_equal(context_detector.session.fed[-1]["context"], context_of_inputs(mnist_test.images[:2]))
    # a list with a missing view: that input alone gets its own
    context_detector.scores(mnist_test.images[:2], [None, np.zeros((SIDE, SIDE), np.uint8)])
    np.testing.assert_array_equal(context_detector.session.fed[-1]["context"][0], context_of_inputs(mnist_test.images[:1])[0])

"""MNIST-style preprocessing of real-world images: properties on generated images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mnist_toolkit.data.source import load_split, resolve_source
from mnist_toolkit.reading.prepare import ImageError, center_of_mass, decode, prepare, prepare_bytes
from mnist_toolkit.reading.synthetic import STYLES


@pytest.fixture(scope="module")
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    test = load_split(resolve_source(), "test")
    return test.images[:12], test.labels[:12]


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def assert_mnist_like(image: np.ndarray) -> None:
    assert image.shape == (28, 28) and image.dtype == np.uint8
    rows, cols = np.nonzero(image)
    assert rows.size, "no ink in the result"
    assert rows.max() - rows.min() + 1 <= 20 and cols.max() - cols.min() + 1 <= 20
    com_row, com_col = center_of_mass(image.astype(np.float64))
    assert abs(com_row - 14) <= 0.5 and abs(com_col - 14) <= 0.5
    assert image.max() >= 200  # contrast normalised
    assert image[0].max() == image[-1].max() == image[:, 0].max() == image[:, -1].max() == 0  # black background


def disc(size: int = 200, ink_dark: bool = True, radius: int = 40, center=(70, 120)) -> np.ndarray:
    """A ring (a zero) drawn off-centre: dark on light, or light on dark."""
    yy, xx = np.mgrid[0:size, 0:size]
    distance = np.hypot(yy - center[0], xx - center[1])
    ring = (np.abs(distance - radius) < 8).astype(np.float64)
    return (230 - 200 * ring if ink_dark else 20 + 220 * ring).astype(np.uint8)


@pytest.mark.parametrize("dark_ink", [True, False], ids=["dark-on-light", "light-on-dark"])
def test_both_polarities_give_white_ink_on_black(dark_ink):
    prepared = prepare_bytes(encode(Image.fromarray(disc(ink_dark=dark_ink))), "ring.png")
    assert prepared.inverted is dark_ink
    assert_mnist_like(prepared.image)
    assert prepared.image[14, 14] == 0  # the hole of the zero stays background


@pytest.mark.parametrize("style", list(STYLES))
def test_rendered_digits_are_mnist_like_and_resemble_the_original(mnist_digits, style):
    images, _ = mnist_digits
    rng = np.random.default_rng(1)
    similarities = []
    for digit in images:
        prepared = prepare_bytes(STYLES[style](digit, rng), style)
        assert_mnist_like(prepared.image)
        similarities.append(np.corrcoef(prepared.image.ravel().astype(float), digit.ravel().astype(float))[0, 1])
    assert np.median(similarities) > 0.6, similarities


def test_ink_only_in_the_alpha_channel_is_ink():
    alpha = disc(ink_dark=False)
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)
    rgba[..., 3] = alpha  # RGB black everywhere: only alpha says where the strokes are
    prepared = prepare_bytes(encode(Image.fromarray(rgba, "RGBA")), "canvas.png")
    assert_mnist_like(prepared.image)
    white_strokes = rgba.copy()
    white_strokes[..., :3] = 255
    assert_mnist_like(prepare_bytes(encode(Image.fromarray(white_strokes, "RGBA")), "white.png").image)


def _in_mode(mode: str) -> Image.Image:
    base = Image.fromarray(disc())
    if mode == "I;16":
        return Image.fromarray(np.asarray(base).astype(np.uint16) * 257)  # mode I;16
    if mode == "LA":
        return Image.merge("LA", (base, Image.new("L", base.size, 255)))
    if mode == "P":
        return base.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=16)
    return base.convert(mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "I;16", "CMYK", "1"])
def test_every_mode(mode):
    image = _in_mode(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    prepared = prepare_bytes(encode(image, fmt), f"ring.{fmt.lower()}")
    assert_mnist_like(prepared.image)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_every_format(fmt):
    image = Image.fromarray(disc()).convert("RGB" if fmt == "JPEG" else "L")
    assert_mnist_like(prepare_bytes(encode(image, fmt), f"ring.{fmt.lower()}").image)


def test_gif_uses_the_first_frame():
    first, second = Image.fromarray(disc()), Image.fromarray(np.full((200, 200), 230, np.uint8))
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second])
    assert_mnist_like(prepare_bytes(buffer.getvalue(), "anim.gif").image)


def test_exif_orientation_is_honoured():
    upright = np.full((120, 200), 230, dtype=np.uint8)
    upright[20:100, 30:50] = 20  # a tall bar: a "1"
    straight = prepare_bytes(encode(Image.fromarray(upright)), "one.png").image
    rotated = Image.fromarray(np.rot90(upright, k=-1).copy())  # stored lying on its side
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 CW to view": undoes the storage rotation
    turned = prepare_bytes(encode(rotated, "JPEG", exif=exif.tobytes()), "one.jpg").image
    rows, cols = np.nonzero(turned > 100)
    assert rows.max() - rows.min() > cols.max() - cols.min()  # upright again: taller than wide
    # A 5-px-wide bar's centre of mass sits on a pixel boundary: JPEG noise may tip it one pixel either way.
    best = max(np.corrcoef(np.roll(turned, shift, axis=1).ravel(), straight.ravel())[0, 1] for shift in (-1, 0, 1))
    assert best > 0.8


def test_mnist_digit_passes_through_unchanged(mnist_digits):
    images, _ = mnist_digits
    for digit in images:
        prepared = prepare_bytes(encode(Image.fromarray(digit)), "mnist.png")
        assert prepared.passthrough and np.array_equal(prepared.image, digit)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        (encode(Image.new("L", (64, 64), 255)), "no digit found"),
        (encode(Image.new("L", (64, 64), 0)), "no digit found"),
        (encode(Image.new("RGBA", (64, 64), (0, 0, 0, 0))), "transparent"),
    ],
    ids=["empty", "not-an-image", "blank-white", "blank-black", "transparent"],
)
def test_bad_images_raise_image_error(payload, message):
    with pytest.raises(ImageError, match=message):
        prepare_bytes(payload, "bad")


def test_truncated_image_is_an_image_error():
    data = encode(Image.fromarray(disc()), "PNG")
    with pytest.raises(ImageError, match=r"^cut\.png: truncated or damaged image \("):
        prepare_bytes(data[: len(data) // 2], "cut.png")


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    import mnist_toolkit.reading.prepare as preprocess

    monkeypatch.setattr(preprocess, "MAX_PIXELS", 10_000)
    big = encode(Image.new("L", (2000, 2000), 0), "PNG")  # 4 Mpixel, a few KB compressed
    with pytest.raises(ImageError, match="decompression bomb"):
        decode(big, "bomb.png")


def test_prepare_is_pure_and_deterministic():
    image = Image.fromarray(disc())
    assert np.array_equal(prepare(image).image, prepare(image).image)

"""Hostile images (issue 21): reading one image is bounded in time and memory, opens only the
documented formats, and answers a 28x28 digit or an ImageError, never anything else.

Every image is built here, small where it can be; the 40-megapixel one is written row by row.
"""

from __future__ import annotations

import io
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mnist_toolkit.reading import segment
from mnist_toolkit.reading.prepare import (
    FORMATS,
    READ_CHUNK,
    ImageError,
    Prepared,
    UnsupportedImageFormat,
    decode,
    prepare,
    prepare_bytes,
    prepare_number_bytes,
    read_file,
    read_limited,
)

#: Wall-clock bound on answers that took minutes before (170 s for 15,876 dots): generous, since the
#: machines running the tests differ 2-3 times in speed; the point is the quadratic blow-up.
QUICK_SECONDS = 10
#: Peak memory growth allowed for reading a 40-megapixel RGBA PNG (it took 2.4 GB).
MEMORY_BOUND_MB = 400


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@contextmanager
def within(seconds: float):
    """Fail the test when the block runs longer than `seconds` (an alarm, so a blow-up stops at once)."""
    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def dot_grid(per_side: int) -> bytes:
    """per_side x per_side dots of 3x3 pixels, 6 pixels apart: as many separate blobs of ink."""
    pixels = np.full((per_side * 6, per_side * 6), 255, np.uint8)
    for dy in range(3):
        for dx in range(3):
            pixels[dy::6, dx::6] = 0
    return encoded(Image.fromarray(pixels))


def specks(count: int, side: int, size: int, seed: int) -> bytes:
    """`count` black squares of size x size pixels at random on white."""
    rng = np.random.default_rng(seed)
    pixels = np.full((side, side), 255, np.uint8)
    for row, col in rng.integers(0, side - size, size=(count, 2)):
        pixels[row : row + size, col : col + size] = 0
    return encoded(Image.fromarray(pixels))


def assert_one_line(error: ImageError, name: str) -> None:
    message = str(error)
    assert "\n" not in message and name in message and "Traceback" not in message


# 1. Many marks: grouping scales, and more marks than a row of digits has is refused.


@pytest.mark.parametrize("per_side", [64, 126])  # 4,096 and 15,876 blobs
def test_a_grid_of_dots_is_answered_quickly(per_side):
    data = dot_grid(per_side)
    with within(QUICK_SECONDS):
        for read in (prepare_bytes, prepare_number_bytes):
            with pytest.raises(ImageError, match="no digit found: too many separate marks"):
                read(data, "dots.png")


def _merge_pair_by_pair(groups):
    """The merging as it was: largest first, the first pair that passes merges, then start again."""
    groups = sorted(groups, key=lambda g: -g.area)
    merged = True
    while merged:
        merged = False
        for i, first in enumerate(groups):
            for j in range(i + 1, len(groups)):
                second = groups[j]
                size = max(first.height, second.height)
                horizontal, vertical = first.gap_to(second)
                overlapping = first.x_overlap(second) >= segment.MERGE_X_OVERLAP and vertical <= segment.MERGE_Y_GAP * size
                touching = horizontal <= segment.TOUCH_GAP * size and vertical <= segment.TOUCH_GAP * size
                small_part = (second.area < segment.SMALL_PART_AREA * first.area and horizontal <= segment.SMALL_PART_X_GAP * size
                              and vertical <= segment.PART_Y_REACH * size)
                if overlapping or touching or small_part:
                    first.absorb(second)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


def _random_groups(rng, count: int, span: int) -> list[tuple]:
    boxes = []
    for label in range(1, count + 1):
        top, left = (int(v) for v in rng.integers(0, span, 2))
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        boxes.append((top, top + height, left, left + width, int(rng.integers(1, height * width + 1)), float(rng.random()), [label]))
    return boxes


def test_merging_in_numpy_gives_what_merging_pair_by_pair_gave():
    rng = np.random.default_rng(21)
    for _ in range(120):
        boxes = _random_groups(rng, int(rng.integers(1, 50)), int(rng.integers(20, 400)))
        expected = _merge_pair_by_pair([segment.Group(*box) for box in boxes])
        got = segment._merge_parts([segment.Group(*box) for box in boxes])
        assert [(g.top, g.bottom, g.left, g.right, g.area, g.labels) for g in got] == [
            (g.top, g.bottom, g.left, g.right, g.area, g.labels) for g in expected]


def _cut_columns_loop(profile: np.ndarray, height: float) -> list[int]:
    """The touching-digit cuts as they were computed: one part end at a time."""
    width = len(profile)
    parts = max(2, round(width / (segment.DIGIT_ASPECT * height)))
    even = width / parts
    narrowest, widest = max(1, int(segment.MIN_PART_ASPECT * height)), max(2, int(segment.MAX_PART_ASPECT * height))
    ink = np.append(segment.CUT_INK_WEIGHT * np.convolve(profile, np.ones(3) / 3, mode="same") / height, 0.0)
    best = np.full(width + 1, np.inf)
    best[0] = 0.0
    previous = np.zeros((parts + 1, width + 1), dtype=int)
    for part in range(1, parts + 1):
        cost = np.full(width + 1, np.inf)
        for end in range(narrowest, width + 1):
            starts = np.arange(max(0, end - widest), end - narrowest + 1)
            costs = best[starts] + np.log((end - starts) / even) ** 2
            pick = int(np.argmin(costs))
            cost[end] = costs[pick] + ink[end]
            previous[part, end] = starts[pick]
        best = cost
    cuts, end = [], width
    for part in range(parts, 1, -1):
        end = int(previous[part, end])
        cuts.append(end)
    return sorted(cuts)


def test_touching_digits_are_cut_where_the_loop_cut_them():
    rng = np.random.default_rng(21)
    for _ in range(80):
        height = float(rng.uniform(3, 60))
        width = int(rng.integers(2, max(3, int(7.35 * height))))
        profile = rng.integers(0, int(height) + 1, width) * (rng.random(width) < rng.random())
        assert segment._cut_columns(profile, height) == _cut_columns_loop(profile, height)


# 2. Specks never become digits.


@pytest.mark.parametrize("data", [
    specks(200, 200, 1, seed=0),  # single pixels, which used to merge into a "digit"
    specks(500, 500, 3, seed=1),
    specks(500, 1000, 2, seed=0),
    encoded(Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8))),  # used to raise ValueError (max() of nothing)
], ids=["200 pixels", "500 squares of 3", "500 squares of 2", "2x2 checkerboard"])  # fmt: skip
def test_only_specks_is_no_digit(data):
    for read in (prepare_bytes, prepare_number_bytes):
        with pytest.raises(ImageError, match="no digit found: only specks") as caught:
            read(data, "specks.png")
        assert type(caught.value) is ImageError


def test_a_digit_among_specks_is_still_read():
    image = Image.open(io.BytesIO(specks(100, 400, 2, seed=3))).convert("L")
    ImageDraw.Draw(image).line([(200, 80), (200, 320)], fill=0, width=24)
    data = encoded(image)
    assert prepare_bytes(data).image.shape == (28, 28)
    assert len(prepare_number_bytes(data)) == 1


# 3. Memory: a 40-megapixel RGBA PNG, and large images read reduced.


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def transparent_png(side: int) -> bytes:
    """A side x side RGBA PNG, transparent but for a thick black upright stroke (a 1), written row by row."""
    transparent = bytes(4 * side)
    ink = bytearray(transparent)
    left, right = side // 2 - side // 40, side // 2 + side // 40
    ink[4 * left : 4 * right] = b"\x00\x00\x00\xff" * (right - left)
    compressor = zlib.compressobj(1)
    rows = [compressor.compress(b"\x00" + (bytes(ink) if side // 5 <= y < 4 * side // 5 else transparent)) for y in range(side)]
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(rows) + compressor.flush()) + _chunk(b"IEND", b"")


# The peak is read from /proc (VmHWM, this process's own): ru_maxrss would start at the peak of the
# pytest process the child was forked from, and a large one would hide any growth.
MEASURE = textwrap.dedent("""
    import sys, time
    import cv2, numpy
    from PIL import Image, PngImagePlugin
    from mnist_toolkit.reading import ink, prepare, segment
    def peak_kb():
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    data = open(sys.argv[1], "rb").read()
    base = peak_kb()
    started = time.process_time()
    result = prepare.prepare_bytes(data, "big.png")
    cpu = time.process_time() - started
    print((peak_kb() - base) // 1024, cpu, *result.source_size, *result.box)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak memory from /proc")
def test_a_40_megapixel_rgba_png_is_read_in_bounded_memory(tmp_path):
    side = 6320  # 39.9 megapixels, under MAX_PIXELS
    path = tmp_path / "big.png"
    path.write_bytes(transparent_png(side))
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    grown_mb, cpu, width, height, left, top, right, bottom = (float(value) for value in done.stdout.split())
    assert grown_mb <= MEMORY_BOUND_MB, f"peak memory grew {grown_mb:.0f} MB"
    assert cpu < QUICK_SECONDS
    assert (width, height) == (side, side)  # the box is in the original's pixels: around the stroke
    assert left <= side // 2 - side // 40 and right >= side // 2 + side // 40 and top <= side // 5 and bottom >= 4 * side // 5


def test_a_large_image_is_read_reduced_with_its_box_in_the_original():
    side = 4200  # 17.6 megapixels: above FULL_SIZE_MAX_PIXELS
    image = Image.new("L", (side, side), 255)
    ImageDraw.Draw(image).line([(2100, 900), (2100, 3300)], fill=0, width=160)
    read = prepare(image, "large.png")
    left, top, right, bottom = read.box
    assert read.source_size == (side, side) and read.image.shape == (28, 28)
    assert abs(left - 2020) < 60 and abs(right - 2180) < 60 and abs(top - 900) < 90 and abs(bottom - 3300) < 90


def test_a_side_longer_than_any_photo_is_refused_before_decoding():
    data = encoded(Image.new("L", (1, 70_000), 255))
    with pytest.raises(ImageError, match="a side longer than"):
        decode(data, "sliver.png")


# 4. Only the documented formats are opened.


def _digit(mode: str = "L") -> Image.Image:
    image = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(image).line([(32, 10), (32, 54)], fill=0, width=7)
    return image.convert(mode)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_eps_is_refused_before_any_decoder_runs(monkeypatch):
    from PIL import EpsImagePlugin

    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(self))
    with pytest.raises(UnsupportedImageFormat, match=r"drawing.eps: unsupported image format \(EPS"):
        decode(EPS, "drawing.eps")
    assert opened == []


@pytest.mark.parametrize("data, named", [
    (PDF, "PDF"),
    (encoded(_digit("RGBA"), "ICO"), "ICO"),
    (encoded(_digit(), "PPM"), "PPM"),
    (encoded(_digit(), "PCX"), "PCX"),
])  # fmt: skip
def test_other_formats_are_unsupported(data, named):
    for read in (decode, prepare_bytes, prepare_number_bytes):
        with pytest.raises(UnsupportedImageFormat, match=rf"unsupported image format \({named}") as caught:
            read(data, "file")
        assert_one_line(caught.value, "file")


@pytest.mark.parametrize("data", [b"just text, not an image\n" * 20, bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8))])
def test_a_non_image_is_not_an_image(data):
    with pytest.raises(ImageError, match="not an image") as caught:
        decode(data, "file")
    assert_one_line(caught.value, "file")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_documented_formats_are_read(fmt):
    from PIL import Image as PILImage

    PILImage.init()
    assert fmt in PILImage.OPEN  # Pillow's name for it
    image = decode(encoded(_digit("RGB"), fmt), f"digit.{fmt.lower()}")
    assert prepare(image).image.shape == (28, 28)


def test_a_truncated_png_is_one_line():
    data = encoded(_digit())
    for cut in (data[:8], data[:40], data[: len(data) // 2]):
        with pytest.raises(ImageError) as caught:
            prepare_bytes(cut, "cut.png")
        assert_one_line(caught.value, "cut.png")


def test_only_the_first_frame_of_an_animation_is_decoded(monkeypatch):
    from PIL import GifImagePlugin

    frames = [Image.fromarray(np.full((32, 32), 4 * i, np.uint8)) for i in range(60)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    sought = []
    seek = GifImagePlugin.GifImageFile._seek
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_seek", lambda self, frame, *args: (sought.append(frame), seek(self, frame, *args))[1])
    decode(data, "animation.gif")
    assert sought and max(sought) == 0  # not even counted


# 5. Reading files and streams is capped.


class Endless:
    """A binary stream of zeros that never ends and counts what it gave."""

    def __init__(self) -> None:
        self.given = 0

    def read(self, size: int = -1) -> bytes:
        size = READ_CHUNK if size is None or size < 0 else size
        self.given += size
        return bytes(size)


def test_a_stream_over_the_cap_is_refused_after_at_most_one_chunk_more():
    stream, limit = Endless(), 3 * READ_CHUNK + 5
    with pytest.raises(ImageError, match="file too large"):
        read_limited(stream, "stdin", limit)
    assert stream.given <= limit + READ_CHUNK


def test_a_file_at_the_cap_is_read_and_one_byte_more_is_refused(tmp_path):
    path = tmp_path / "image.bin"
    path.write_bytes(b"x" * 1000)
    assert read_file(path, limit=1000) == b"x" * 1000
    with pytest.raises(ImageError, match="file too large"):
        read_file(path, limit=999)


def test_dev_zero_is_refused_quickly():
    from pathlib import Path

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    started = time.perf_counter()
    with pytest.raises(ImageError, match="file too large"):
        read_file("/dev/zero")
    assert time.perf_counter() - started < QUICK_SECONDS


# 6. Any image: a 28x28 digit or an ImageError in one line, quickly.

#: The formats each PIL mode can be saved in (Pillow converts nothing silently here).
SAVABLE = {
    "1": ["PNG", "TIFF", "BMP", "GIF"],
    "L": ["PNG", "TIFF", "BMP", "GIF", "JPEG", "WEBP"],
    "LA": ["PNG", "TIFF", "WEBP"],
    "P": ["PNG", "TIFF", "BMP", "GIF"],
    "P+transparency": ["PNG", "GIF"],
    "RGB": ["PNG", "TIFF", "BMP", "GIF", "JPEG", "WEBP"],
    "RGBA": ["PNG", "TIFF", "WEBP"],
    "CMYK": ["TIFF", "JPEG"],
    "I;16": ["PNG", "TIFF"],
    "I": ["TIFF"],
    "F": ["TIFF"],
}


def _pattern(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """(height, width) uint8 content: noise, stripes, dots, a stroke, blank, or a checkerboard."""
    rows, cols = np.ogrid[:height, :width]
    period = int(rng.integers(1, 9))
    if kind == "noise":
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    if kind == "stripes":
        return (((rows + cols * int(rng.integers(0, 2)) if rng.random() < 0.5 else cols + rows * int(rng.integers(0, 2))) // period) % 2 * 255).astype(np.uint8)
    if kind == "checker":
        return (((rows // period) + (cols // period)) % 2 * 255).astype(np.uint8)
    if kind == "dots":
        spacing = period + 2
        return np.where((rows % spacing < 2) & (cols % spacing < 2), 0, 255).astype(np.uint8)
    if kind == "stroke":
        pixels = np.full((height, width), 255, np.uint8)
        pixels[height // 5 : max(height // 5 + 1, 4 * height // 5), width // 2 : width // 2 + max(1, width // 10)] = 0
        return pixels
    return np.full((height, width), int(rng.integers(0, 256)), np.uint8)


def _image(pixels: np.ndarray, mode: str, rng: np.random.Generator) -> Image.Image:
    gray = Image.fromarray(pixels)
    if mode in ("LA", "RGBA"):
        image = gray.convert(mode)
        image.putalpha(Image.fromarray(255 - pixels) if rng.random() < 0.5 else Image.fromarray(pixels))
        return image
    if mode == "P+transparency":
        image = gray.convert("P")
        image.info["transparency"] = 0
        return image
    if mode == "I;16":
        return Image.fromarray(pixels.astype(np.uint16) * int(rng.integers(1, 257)))
    if mode == "I":
        return Image.fromarray(pixels.astype(np.int32) * int(rng.integers(-70_000, 70_000)), "I")
    if mode == "F":
        values = pixels.astype(np.float32) * np.float32(rng.uniform(-1e6, 1e6))
        if rng.random() < 0.3:
            values.flat[rng.integers(0, values.size, 3)] = [np.nan, np.inf, -np.inf]
        return Image.fromarray(values, "F")
    return gray.convert(mode)


@st.composite
def hostile_images(draw, mode: str) -> bytes:
    """An image in `mode`, 1x1 up to 2 megapixels, of some hostile content, in a format that can hold it."""
    side = st.one_of(st.integers(1, 40), st.integers(41, 1400))
    height, width = draw(side), draw(side)
    if height * width > 2_000_000:
        width = max(1, 2_000_000 // height)
    kind = draw(st.sampled_from(["noise", "stripes", "checker", "dots", "stroke", "blank"]))
    fmt = draw(st.sampled_from(SAVABLE[mode]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = _image(_pattern(kind, height, width, rng), mode, rng)
    options = {"transparency": 0} if mode == "P+transparency" else {}
    return encoded(image, fmt, **options)


@pytest.mark.parametrize("mode", sorted(SAVABLE))
@settings(max_examples=12, deadline=5000, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_property_any_image_is_a_digit_or_an_image_error(mode, data):
    image = data.draw(hostile_images(mode))
    for read in (prepare_bytes, prepare_number_bytes):
        try:
            answer = read(image, "fuzz")
        except ImageError as exc:
            assert_one_line(exc, "fuzz")
            continue
        for one in answer if isinstance(answer, list) else [answer]:
            assert isinstance(one, Prepared) and one.image.shape == (28, 28) and one.image.dtype == np.uint8


def test_a_float_image_with_nan_is_an_image_error_or_a_digit():
    values = np.full((60, 60), 1.0, np.float32)
    values[10:50, 28:32] = 0.0
    values[0, 0], values[0, 1], values[1, 0] = np.nan, np.inf, -np.inf
    data = encoded(Image.fromarray(values, "F"), "TIFF")
    assert math.isfinite(float(prepare_bytes(data, "nan.tif").image.sum()))

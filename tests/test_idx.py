"""The IDX layer and data resolution: round trips, every error path, fuzzing, the embedded copy."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import re
import shutil
import struct
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mnist_toolkit.data.idx as idx_module
from mnist_toolkit.data.source import DATA_DIR_ENV, DataSource, check_digit_pair, load_pair, load_split, resolve_source
from mnist_toolkit.errors import ChecksumMismatch, DatasetNotFound, IdxFormatError
from mnist_toolkit.data.idx import (
    TYPE_CODES,
    parse_idx,
    read_idx,
    read_idx_header,
    to_idx_bytes,
    write_idx,
)
from mnist_toolkit.data.resources import DEFAULT_DATA_DIR, EMBEDDED_DIR, RESOURCES

try:
    import resource
except ImportError:  # not on Windows: the fuzz tests then run without a memory ceiling
    resource = None

GZIP_MAGIC = b"\x1f\x8b"
#: Native-endian dtype of each IDX type code.
NATIVE = {code: dtype.newbyteorder("=") for code, dtype in TYPE_CODES.items()}
SHAPES = {1: (11,), 2: (3, 4), 3: (2, 3, 4), 4: (2, 1, 3, 5)}
TERABYTES = (2**32 - 1, 2**32 - 1, 255)
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------- helpers


def header(type_code: int, dims: tuple[int, ...] | list[int], *, ndim: int | None = None) -> bytes:
    """An IDX header; `ndim` overrides the dimension count written in the magic."""
    count = len(dims) if ndim is None else ndim
    return bytes([0, 0, type_code, count]) + struct.pack(f">{len(dims)}I", *dims)


def extremes(type_code: int, shape: tuple[int, ...]) -> np.ndarray:
    """An array of `shape` cycling through the dtype's extreme and special values."""
    dtype = NATIVE[type_code]
    if dtype.kind == "f":
        info = np.finfo(dtype)
        values = [info.min, info.max, info.tiny, info.smallest_subnormal, -0.0, 0.0, np.inf, -np.inf, np.nan, info.eps]
    else:
        info = np.iinfo(dtype)
        values = [info.min, info.max, 0, 1, -1 if info.min < 0 else 2, info.min + 1, info.max - 1]
    return np.resize(np.array(values, dtype=dtype), shape)


def native_bytes(array: np.ndarray) -> bytes:
    """The array's content in native byte order (bit-exact, so NaN and -0.0 compare too)."""
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("=")).tobytes()


def assert_same_array(result: np.ndarray, original: np.ndarray) -> None:
    assert result.dtype == original.dtype.newbyteorder("=")
    assert result.dtype.isnative
    assert result.flags.writeable
    assert result.shape == original.shape
    assert result.tobytes() == native_bytes(original)


def write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def idx_file(array: np.ndarray, name: str = "<test>"):
    """An in-memory IdxFile holding `array`."""
    return parse_idx(to_idx_bytes(array), name=name)


def flip_middle(blob: bytes, count: int = 4) -> bytes:
    damaged = bytearray(blob)
    for i in range(len(blob) // 2, len(blob) // 2 + count):
        damaged[i] ^= 0xFF
    return bytes(damaged)


@contextlib.contextmanager
def memory_ceiling(extra: int = 1 << 30) -> Iterator[None]:
    """Cap the address space at its current size + `extra` (Linux).

    Fuzzed headers declare any size; should the reader regress into allocating what a header declares,
    it then fails with MemoryError instead of exhausting the machine's memory.
    """
    try:
        with open("/proc/self/status") as status:
            in_use = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        in_use = None
    if resource is None or in_use is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = in_use + extra if hard == resource.RLIM_INFINITY else min(hard, in_use + extra)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ------------------------------------------------------------------------------------------ round trips

STORAGE = {
    # id -> (file name, whether to gzip the content): compression is detected by content, not name
    "raw": ("data.idx", False),
    "gzip": ("data.idx.gz", True),
    "gzip-named-idx": ("data.idx", True),
    "raw-named-gz": ("data.gz", False),
}


@pytest.mark.parametrize("storage", STORAGE)
@pytest.mark.parametrize("ndim", SHAPES)
@pytest.mark.parametrize("type_code", TYPE_CODES, ids=lambda code: f"0x{code:02X}")
def test_round_trip_every_type_and_rank(tmp_path: Path, type_code: int, ndim: int, storage: str) -> None:
    name, compress = STORAGE[storage]
    original = extremes(type_code, SHAPES[ndim])
    path = write_idx(tmp_path / name, original, compress=compress)
    assert (path.read_bytes()[:2] == GZIP_MAGIC) is compress

    parsed = read_idx(path)
    assert_same_array(parsed.data, original)
    assert parsed.header.type_code == type_code
    assert parsed.header.shape == original.shape
    assert parsed.gzipped is compress
    assert parsed.file_bytes == path.stat().st_size
    assert parsed.sha256 == hashlib.sha256(to_idx_bytes(original)).hexdigest()
    assert read_idx_header(path) == parsed.header
    assert_same_array(parse_idx(path.read_bytes()).data, original)


@pytest.mark.parametrize("code", [0x0B, 0x0C, 0x0D, 0x0E], ids=lambda code: f"0x{code:02X}")
def test_big_endian_input_is_written_by_value(code: int) -> None:
    original = extremes(code, (2, 5))
    swapped = original.astype(original.dtype.newbyteorder(">"))
    assert to_idx_bytes(swapped) == to_idx_bytes(original)
    assert_same_array(parse_idx(to_idx_bytes(swapped)).data, original)


@pytest.mark.parametrize(("name", "gzipped"), [("x.gz", True), ("x.idx", False), ("x-ubyte", False)])
def test_write_idx_compresses_by_suffix_by_default(tmp_path: Path, name: str, gzipped: bool) -> None:
    path = write_idx(tmp_path / name, np.arange(6, dtype=np.uint8))
    assert (path.read_bytes()[:2] == GZIP_MAGIC) is gzipped
    assert read_idx(path).gzipped is gzipped


def test_raw_layout_is_big_endian_idx() -> None:
    payload = to_idx_bytes(np.array([[1, -2]], dtype=np.int16))
    assert payload == bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 1, 2) + struct.pack(">hh", 1, -2)


# -------------------------------------------------------------------------------------------- errors

VALID = to_idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))  # 16 header + 24 data bytes

#: Content errors: id -> (file content, fragments the message must contain).
CONTENT_ERRORS = {
    "empty": (b"", ["header too short", "expected at least 4 bytes", "found an empty file"]),
    "1-byte": (b"\0", ["expected at least 4 bytes", "found only 1 byte"]),
    "3-bytes": (b"\0\0\x08", ["expected at least 4 bytes", "found only 3 byte"]),
    "cut-in-dims": (VALID[:9], ["header too short", "3 dimensions need 16 header bytes", "found 9"]),
    "no-dims": (VALID[:4], ["3 dimensions need 16 header bytes", "found 4"]),
    "bad-magic": (b"\x08\x03" + VALID[2:], ["bad magic number", "expected", "0x00 0x00", "found 0x08 0x03"]),
    "bad-magic-2nd": (b"\x00\x01" + VALID[2:], ["bad magic number", "found 0x00 0x01"]),
    "unknown-type": (b"\0\0\x0A\x03" + VALID[4:], ["unknown type code 0x0A", "expected one of", "0x08 (uint8)"]),
    "zero-dims": (header(0x08, ()), ["number of dimensions 0", "expected 1 to 32"]),
    "33-dims": (header(0x08, (1,) * 33), ["number of dimensions 33", "expected 1 to 32"]),
    "255-dims": (header(0x08, (), ndim=255), ["number of dimensions 255", "expected 1 to 32"]),
    "truncated-data": (VALID[:-1], ["truncated", "shape (2, 3, 4)", "24 data bytes", "found 23"]),
    "no-data": (VALID[:16], ["truncated", "24 data bytes", "found 0"]),
    "trailing-bytes": (VALID + b"\0\0", ["trailing bytes", "header declares", "24 data bytes", "found"]),
    "float64-truncated": (header(0x0E, (3,)) + b"\0" * 23, ["truncated", "24 data bytes", "found 23"]),
}


def check_error(exc_info, path_name: str, fragments: list[str]) -> None:
    message = str(exc_info.value)
    assert message.startswith(path_name), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert exc_info.value.hint


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", CONTENT_ERRORS)
def test_content_errors_name_the_file_and_what_is_wrong(tmp_path: Path, case: str, compress: bool) -> None:
    content, fragments = CONTENT_ERRORS[case]
    path = write_bytes(tmp_path / "bad.idx", gzip.compress(content) if compress else content)
    with pytest.raises(IdxFormatError) as exc_info:
        read_idx(path)
    check_error(exc_info, str(path), fragments)
    with pytest.raises(IdxFormatError) as exc_info:
        parse_idx(path.read_bytes(), name="in-memory.idx")
    check_error(exc_info, "in-memory.idx", fragments)


DATA_ERRORS = {"truncated-data", "no-data", "trailing-bytes", "float64-truncated"}
HEADER_ERRORS = [case for case in CONTENT_ERRORS if case not in DATA_ERRORS]


@pytest.mark.parametrize("case", HEADER_ERRORS)
def test_read_idx_header_refuses_bad_headers(tmp_path: Path, case: str) -> None:
    content, fragments = CONTENT_ERRORS[case]
    path = write_bytes(tmp_path / "bad.idx", content)
    with pytest.raises(IdxFormatError) as exc_info:
        read_idx_header(path)
    check_error(exc_info, str(path), fragments)


def _gzip_sample() -> bytes:
    images = np.random.default_rng(0).integers(0, 256, size=(16, 28, 28), dtype=np.uint8)
    return to_idx_bytes(images, compress=True)


GZIP_SAMPLE = _gzip_sample()
GZIP_ERRORS = {
    "flipped-middle": flip_middle(GZIP_SAMPLE),
    "flipped-crc": GZIP_SAMPLE[:-8] + bytes(b ^ 0xFF for b in GZIP_SAMPLE[-8:-4]) + GZIP_SAMPLE[-4:],
    "flipped-deflate-start": GZIP_SAMPLE[:10] + bytes([GZIP_SAMPLE[10] ^ 0x06]) + GZIP_SAMPLE[11:],
    "truncated-half": GZIP_SAMPLE[: len(GZIP_SAMPLE) // 2],
    "truncated-trailer": GZIP_SAMPLE[:-4],
    "truncated-in-header": GZIP_SAMPLE[:6],
    "magic-only": GZIP_MAGIC,
    "bad-method": GZIP_MAGIC + b"\x07" + GZIP_SAMPLE[3:],
    "trailing-garbage": GZIP_SAMPLE + b"junk",
}


@pytest.mark.parametrize("case", GZIP_ERRORS)
def test_corrupt_gzip_stream(tmp_path: Path, case: str) -> None:
    path = write_bytes(tmp_path / "images.gz", GZIP_ERRORS[case])
    with pytest.raises(IdxFormatError) as exc_info:
        read_idx(path)
    check_error(exc_info, str(path), ["corrupt gzip stream"])


@pytest.mark.parametrize("shape", [TERABYTES, (200, 1024, 1024)], ids=["terabytes", "200MB"])
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_huge_declared_size_fails_fast_without_allocating(tmp_path: Path, shape, compress: bool) -> None:
    content = header(0x08, shape) + bytes(range(64))
    path = write_bytes(tmp_path / "huge.idx", gzip.compress(content) if compress else content)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(IdxFormatError) as exc_info:
            read_idx(path)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check_error(exc_info, str(path), [f"header declares shape {shape}", f"{math.prod(shape):,} data bytes"])
    assert peak < 4 * 2**20, f"peak allocation {peak:,} bytes"
    assert elapsed < 1.0


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    for reader in (read_idx, read_idx_header):
        with pytest.raises(DatasetNotFound) as exc_info:
            reader(tmp_path)
        check_error(exc_info, str(tmp_path), ["is a directory", "expected an IDX file"])


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "train-images-idx3-ubyte"
    for reader in (read_idx, read_idx_header):
        with pytest.raises(DatasetNotFound) as exc_info:
            reader(missing)
        check_error(exc_info, str(missing), ["no such file"])


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "locked.idx", np.arange(4, dtype=np.uint8))
    path.chmod(0)
    try:
        with pytest.raises(DatasetNotFound) as exc_info:
            read_idx(path)
    finally:
        path.chmod(0o644)
    check_error(exc_info, str(path), ["permission denied"])


def test_permission_error_becomes_dataset_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path as `test_unreadable_file`, reachable when the tests run as root."""
    path = write_idx(tmp_path / "locked.idx", np.arange(4, dtype=np.uint8))

    def refuse(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(idx_module, "open", refuse, raising=False)
    with pytest.raises(DatasetNotFound) as exc_info:
        read_idx(path)
    check_error(exc_info, str(path), ["permission denied"])


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_empty_shape_with_huge_dims_is_a_format_error(compress: bool) -> None:
    content = header(0x08, (0, 2**32 - 1, 2**32 - 1))
    with pytest.raises(IdxFormatError, match="fuzz.idx"):
        parse_idx(gzip.compress(content) if compress else content, name="fuzz.idx")


def image_bytes(kind: str) -> bytes:
    """A tiny real image file of `kind`, as Pillow writes it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (28, 28), 255).save(buffer, format=kind)
    return buffer.getvalue()


IMAGE_KINDS = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "BMP": "BMP", "TIFF": "TIFF", "WebP": "WEBP"}  # shown -> Pillow's name


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_an_image_file_is_named_as_an_image_not_a_damaged_idx_file(tmp_path: Path, kind: str) -> None:
    path = write_bytes(tmp_path / "four thick.img", image_bytes(IMAGE_KINDS[kind]))
    for reader in (read_idx, read_idx_header, lambda p: parse_idx(p.read_bytes(), name=str(p))):
        with pytest.raises(IdxFormatError) as exc_info:
            reader(path)
        assert str(exc_info.value) == f"{path}: is a {kind} image, not an IDX file"
        assert exc_info.value.hint == f"to read the digit in it, use `mnist predict '{path}'`"  # quoted: a space


@pytest.mark.parametrize("content", [b"BMW is not a bitmap", b"RIFF\0\0\0\0WAVEfmt ", b"GIF8 almost", b"\xff\xd8"], ids=["BM-text", "RIFF-wave", "GIF8", "2-byte-jpeg"])
def test_near_misses_of_image_signatures_keep_the_idx_message(tmp_path: Path, content: bytes) -> None:
    path = write_bytes(tmp_path / "odd.bin", content)
    with pytest.raises(IdxFormatError, match="bad magic number|header too short"):
        read_idx(path)


@pytest.mark.parametrize(
    ("name", "fragment", "absent"),
    [
        ("train-images-idx3-ubyte.gz", "`mnist download --force --data-dir", None),
        ("t10k-labels.idx1-ubyte", "`mnist download --force --data-dir", None),
        ("my-digits.idx", "check that the file is an IDX file (raw or gzip) and is complete", "mnist download"),
    ],
)
def test_a_damaged_file_gets_the_hint_that_fits_it(tmp_path: Path, name: str, fragment: str, absent: str | None) -> None:
    """Re-downloading helps an MNIST file, into its own folder; it does nothing for the user's own file."""
    path = write_bytes(tmp_path / name, b"\x12\x34" + VALID[2:])
    with pytest.raises(IdxFormatError, match="bad magic number") as exc_info:
        read_idx(path)
    hint = exc_info.value.hint
    assert fragment in hint, hint
    if absent is None:
        assert str(tmp_path) in hint
    else:
        assert absent not in hint


def test_damaged_file_in_the_download_folder_is_fetched_again_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    DEFAULT_DATA_DIR.mkdir(parents=True)
    path = write_bytes(DEFAULT_DATA_DIR / "train-labels-idx1-ubyte", b"\x12\x34" + VALID[2:])
    with pytest.raises(IdxFormatError) as exc_info:
        read_idx(path)
    assert exc_info.value.hint.endswith("fetch it again with `mnist download --force`")


@pytest.mark.parametrize(("name", "mentions_download"), [("train-images-idx3-ubyte.gz", True), ("scan.idx", False)])
def test_a_missing_file_is_told_to_download_only_if_it_is_mnist(tmp_path: Path, name: str, mentions_download: bool) -> None:
    with pytest.raises(DatasetNotFound) as exc_info:
        read_idx(tmp_path / name)
    assert ("mnist download" in exc_info.value.hint) is mentions_download, exc_info.value.hint


# -------------------------------------------------------------------------------------- digit pairs


def digits(count: int, side: tuple[int, int] = (28, 28), dtype=np.uint8) -> np.ndarray:
    return np.zeros((count, *side), dtype=dtype)


PAIR_ERRORS = {
    "counts-disagree": (digits(3), np.zeros(4, np.uint8), ["3 images", "4 labels", "expected the same count"]),
    "label-10": (digits(3), np.array([1, 2, 10], np.uint8), ["digits 0-9", "found 10 at index 2"]),
    "label-255": (digits(3), np.array([255, 2, 3], np.uint8), ["digits 0-9", "found 255 at index 0"]),
    "label-minus-1": (digits(2), np.array([0, -1], np.int8), ["digits 0-9", "found -1 at index 1"]),
    "not-28-wide": (digits(3, (28, 27)), np.zeros(3, np.uint8), ["expected uint8 images of shape (N, 28, 28)", "(3, 28, 27)"]),
    "not-28-high": (digits(3, (14, 28)), np.zeros(3, np.uint8), ["(N, 28, 28)", "(3, 14, 28)"]),
    "flat-images": (np.zeros((3, 784), np.uint8), np.zeros(3, np.uint8), ["(N, 28, 28)", "(3, 784)"]),
    "float-images": (digits(3, dtype=np.float32), np.zeros(3, np.uint8), ["found float32 of shape (3, 28, 28)"]),
    "2d-labels": (digits(3), np.zeros((3, 1), np.uint8), ["1-dimensional integer labels", "(3, 1)"]),
    "float-labels": (digits(3), np.zeros(3, np.float32), ["integer labels file", "found float32"]),
}


@pytest.mark.parametrize("case", PAIR_ERRORS)
def test_check_digit_pair_refuses(case: str) -> None:
    images, labels, fragments = PAIR_ERRORS[case]
    with pytest.raises(IdxFormatError) as exc_info:
        check_digit_pair(idx_file(images, "imgs.idx"), idx_file(labels, "lbls.idx"))
    message = str(exc_info.value)
    assert "imgs.idx" in message or "lbls.idx" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_check_digit_pair_accepts_a_valid_pair(digit_pair) -> None:
    images_path, labels_path = digit_pair
    pair = load_pair(images_path, labels_path)
    assert len(pair) == 16
    assert pair.images.shape == (16, 28, 28) and pair.images.dtype == np.uint8
    assert pair.labels.dtype == np.uint8 and pair.labels.max() <= 9
    assert (pair.images_file, pair.labels_file) == (str(images_path), str(labels_path))
    int_labels = check_digit_pair(idx_file(digits(2)), idx_file(np.array([0, 9], np.int32)))
    assert int_labels.labels.dtype == np.uint8 and int_labels.labels.tolist() == [0, 9]


# ------------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (np.array([True, False]), "cannot write dtype bool"),
        (np.arange(3, dtype=np.uint16), "cannot write dtype uint16"),
        (np.arange(3, dtype=np.int64), "cannot write dtype int64"),
        (np.arange(3, dtype=np.float16), "cannot write dtype float16"),
        (np.array(7, dtype=np.uint8), "0-dimensional"),
        (np.zeros((1,) * 33, dtype=np.uint8), "33-dimensional"),
    ],
    ids=["bool", "uint16", "int64", "float16", "0-d", "33-d"],
)
def test_writer_refuses(tmp_path: Path, array: np.ndarray, fragment: str) -> None:
    for compress in (False, True):
        with pytest.raises(IdxFormatError, match=fragment):
            to_idx_bytes(array, compress=compress)
    with pytest.raises(IdxFormatError, match=fragment):
        write_idx(tmp_path / "out.idx", array)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    path = write_idx(tmp_path / "labels.idx", np.arange(5, dtype=np.uint8))
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="No space left"):
        write_idx(path, np.arange(500, dtype=np.int32))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_idx(path).data.tolist() == [0, 1, 2, 3, 4]
    assert sorted(os.listdir(tmp_path)) == ["labels.idx"]  # in particular no .labels.idx.*.part


# ------------------------------------------------------------------------------------------ properties

SUPPORTED = [np.dtype(name) for name in ("u1", "i1", "i2", "i4", "f4", "f8")]
ANY_ORDER = SUPPORTED + [dtype.newbyteorder(">") for dtype in SUPPORTED if dtype.itemsize > 1]


def arrays(max_side: int) -> st.SearchStrategy[np.ndarray]:
    shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=max_side)
    return st.sampled_from(ANY_ORDER).flatmap(lambda dtype: hnp.arrays(dtype, shapes))


@PROPERTY
@given(array=arrays(max_side=6))
def test_property_any_array_round_trips(array: np.ndarray) -> None:
    for compress in (False, True):
        blob = to_idx_bytes(array, compress=compress)
        assert (blob[:2] == GZIP_MAGIC) is compress
        parsed = parse_idx(blob)
        assert_same_array(parsed.data, array)
        assert parsed.gzipped is compress


def assert_parses_or_refuses(blob: bytes) -> None:
    """parse_idx either returns a consistent file or raises IdxFormatError naming it; quickly."""
    start = time.perf_counter()
    try:
        with memory_ceiling():
            parsed = parse_idx(blob, name="fuzz.idx")
    except IdxFormatError as exc:
        assert str(exc).startswith("fuzz.idx: ")
        reason = str(exc).split(": ")[1].split(" (")[0]
        event(f"refused: {re.sub(r'0x[0-9A-F]+|[0-9]+', 'N', reason)}")
    else:
        event("parsed")
        assert parsed.data.shape == parsed.header.shape
        assert parsed.data.nbytes == parsed.header.data_bytes
        assert parsed.data.dtype.isnative
    assert time.perf_counter() - start < 1.0


#: Bytes that often start like IDX: the right magic, any type code, a small dimension count.
idx_like_bytes = st.builds(
    lambda code, ndim, rest: bytes([0, 0, code, ndim]) + rest,
    st.sampled_from([*TYPE_CODES, 0x00, 0x0A, 0xFF]),
    st.integers(0, 6),
    st.binary(max_size=64),
)


@PROPERTY
@given(blob=st.one_of(st.binary(max_size=96), idx_like_bytes, st.binary(max_size=64).map(GZIP_MAGIC.__add__)))
def test_property_arbitrary_bytes_parse_or_raise_idx_format_error(blob: bytes) -> None:
    assert_parses_or_refuses(blob)


dims_values = st.one_of(st.integers(0, 8), st.sampled_from([2**31, 2**32 - 1]), st.integers(0, 2**32 - 1))


@st.composite
def mutate(draw, blob: bytes) -> bytes:
    """One mutation of `blob`: truncate, flip bits, overwrite, append."""
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "append"]))
    if kind == "append":
        return blob + draw(st.binary(min_size=1, max_size=16))
    if kind == "truncate" or not blob:
        return blob[: draw(st.integers(0, max(0, len(blob) - 1)))]
    damaged = bytearray(blob)
    at = draw(st.integers(0, len(blob) - 1))
    if kind == "flip":
        damaged[at] ^= draw(st.integers(1, 255))
    else:
        damaged[at] = draw(st.integers(0, 255))
    return bytes(damaged)


@st.composite
def damaged_files(draw) -> bytes:
    """A valid file, changed before compression (new dims or any mutation), after it, or both."""
    array = draw(arrays(max_side=4))
    payload = to_idx_bytes(array)
    if draw(st.booleans()):
        dims = draw(st.lists(dims_values, min_size=1, max_size=5))
        ndim = draw(st.sampled_from([len(dims), array.ndim, 0, 33]))
        payload = header(payload[2], dims, ndim=ndim) + payload[4 + 4 * array.ndim :]
    elif draw(st.booleans()):
        payload = draw(mutate(payload))
    compress = draw(st.booleans())
    blob = gzip.compress(payload, mtime=0) if compress else payload
    if draw(st.booleans()):
        blob = draw(mutate(blob))
    return blob


@PROPERTY
@given(blob=damaged_files())
def test_property_damaged_files_parse_or_raise_idx_format_error(blob: bytes) -> None:
    assert_parses_or_refuses(blob)


# ------------------------------------------------------------------------------- the embedded MNIST

FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_embedded_data_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no data/mnist here
    source = resolve_source()
    assert (source.kind, source.root, source.fallback_reason) == ("embedded", EMBEDDED_DIR, None)
    for split, count, first in (("train", 60_000, FIRST_TRAIN_LABELS), ("test", 10_000, FIRST_TEST_LABELS)):
        pair = load_split(source, split)
        assert len(pair) == count
        assert pair.images.shape == (count, 28, 28) and pair.images.dtype == np.uint8
        assert pair.labels.dtype == np.uint8
        assert pair.labels[:10].tolist() == first
        if split == "train":
            assert np.bincount(pair.labels, minlength=10).tolist() == TRAIN_COUNTS


@pytest.fixture(scope="module")
def embedded_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a byte-for-byte copy of the embedded .gz files (do not modify)."""
    folder = tmp_path_factory.mktemp("mnist-copy")
    for resource in RESOURCES:
        shutil.copy(EMBEDDED_DIR / resource.gz_name, folder / resource.gz_name)
    return folder


def test_data_dir_with_good_copies_is_used(embedded_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {resource.key: embedded_copy / resource.gz_name for resource in RESOURCES}
    given_dir = resolve_source(embedded_copy)
    monkeypatch.setenv(DATA_DIR_ENV, str(embedded_copy))
    for source in (given_dir, resolve_source()):
        assert (source.kind, source.root, source.fallback_reason) == ("data-dir", embedded_copy, None)
        assert source.files == expected
    assert load_split(given_dir, "test").labels[:10].tolist() == FIRST_TEST_LABELS


def copy_folder(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination


@pytest.mark.parametrize("damaged", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_data_dir_with_a_wrong_file_falls_back(embedded_copy: Path, tmp_path: Path, damaged: str) -> None:
    folder = copy_folder(embedded_copy, tmp_path / "mnist")
    write_idx(folder / damaged, np.zeros((2, 28, 28), np.uint8))  # valid IDX, but not MNIST
    source = resolve_source(folder)
    assert source.kind == "embedded" and source.root == EMBEDDED_DIR
    assert str(folder / damaged) in source.fallback_reason
    assert "content is not MNIST" in source.fallback_reason


@pytest.mark.parametrize(
    ("folder_state", "fragment"),
    [("missing-file", "no train-images-idx3-ubyte"), ("no-folder", "no such folder")],
)
def test_data_dir_incomplete_falls_back(embedded_copy: Path, tmp_path: Path, folder_state: str, fragment: str) -> None:
    folder = tmp_path / "mnist"
    if folder_state == "missing-file":
        copy_folder(embedded_copy, folder)
        (folder / "train-images-idx3-ubyte.gz").unlink()
    source = resolve_source(folder)
    assert source.kind == "embedded"
    assert str(folder) in source.fallback_reason and fragment in source.fallback_reason


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no MNIST_DATA_DIR."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tmp_path


def test_the_folder_mnist_download_writes_is_used_without_being_named(embedded_copy: Path, workdir: Path) -> None:
    copy_folder(embedded_copy, workdir / "data" / "mnist")
    source = resolve_source()
    assert (source.kind, source.root, source.fallback_reason) == ("download-dir", DEFAULT_DATA_DIR, None)
    assert source.files == {resource.key: DEFAULT_DATA_DIR / resource.gz_name for resource in RESOURCES}
    assert source.describe()["source"] == "download-dir"
    assert load_split(source, "test").labels[:10].tolist() == FIRST_TEST_LABELS


@pytest.mark.parametrize("named", ["data-dir", "env", "download-dir", "none"])
def test_resolution_order(embedded_copy: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, named: str) -> None:
    """--data-dir, then MNIST_DATA_DIR, then data/mnist, then the embedded copy: each set in turn with
    every later one also valid, so the first one named must win."""
    given, from_env = copy_folder(embedded_copy, workdir / "given"), copy_folder(embedded_copy, workdir / "env")
    copy_folder(embedded_copy, workdir / "data" / "mnist")
    expected = {"data-dir": ("data-dir", given), "env": ("data-dir", from_env), "download-dir": ("download-dir", DEFAULT_DATA_DIR)}
    if named in ("data-dir", "env"):
        monkeypatch.setenv(DATA_DIR_ENV, str(from_env))
    if named == "none":
        shutil.rmtree(workdir / "data")
    source = resolve_source(given if named == "data-dir" else None)
    assert (source.kind, source.root) == expected.get(named, ("embedded", EMBEDDED_DIR))
    assert source.fallback_reason is None


@pytest.mark.parametrize("state", ["absent", "empty", "only-stray-files"])
def test_a_download_folder_without_mnist_files_is_ignored_quietly(workdir: Path, state: str) -> None:
    if state != "absent":
        (workdir / "data" / "mnist").mkdir(parents=True)
    if state == "only-stray-files":
        (workdir / "data" / "mnist" / "README.txt").write_text("not MNIST\n")
    source = resolve_source()
    assert (source.kind, source.fallback_reason) == ("embedded", None)


@pytest.mark.parametrize("damage", ["missing-file", "wrong-file"])
def test_an_incomplete_download_folder_falls_back_and_says_how_to_repair_it(embedded_copy: Path, workdir: Path, damage: str) -> None:
    folder = copy_folder(embedded_copy, workdir / "data" / "mnist")
    if damage == "missing-file":
        (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    else:
        write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    source = resolve_source()
    assert (source.kind, source.root) == ("embedded", EMBEDDED_DIR)
    assert source.fallback_reason.startswith(str(DEFAULT_DATA_DIR))
    assert "t10k-labels-idx1-ubyte" in source.fallback_reason
    assert source.fallback_reason.endswith("`mnist download --offline` repairs it")


def test_an_invalid_named_folder_falls_back_to_the_embedded_copy_not_to_data_mnist(embedded_copy: Path, workdir: Path) -> None:
    """A folder named by --data-dir decides, even when it is not valid: its reason is reported."""
    copy_folder(embedded_copy, workdir / "data" / "mnist")
    source = resolve_source(workdir / "missing")
    assert source.kind == "embedded" and "no such folder" in source.fallback_reason


def tamper_relabel(path: Path) -> None:
    labels = read_idx(path).data.copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(path, labels)  # still valid IDX and valid digits, but not MNIST


TAMPERING = {
    "relabelled": (tamper_relabel, "content is not MNIST"),
    "truncated-gzip": (lambda path: path.write_bytes(path.read_bytes()[:-100]), "corrupt gzip stream"),
    "missing": (Path.unlink, "no such file"),
}


@pytest.mark.parametrize("tampering", TAMPERING)
def test_damaged_embedded_copy_is_a_checksum_mismatch(tmp_path: Path, tampering: str) -> None:
    tamper, fragment = TAMPERING[tampering]
    files = {resource.key: EMBEDDED_DIR / resource.gz_name for resource in RESOURCES}
    damaged = tmp_path / "t10k-labels-idx1-ubyte.gz"
    shutil.copy(files["test-labels"], damaged)
    tamper(damaged)
    source = DataSource("embedded", tmp_path, {**files, "test-labels": damaged})
    with pytest.raises(ChecksumMismatch) as exc_info:
        load_split(source, "test")
    message = str(exc_info.value)
    assert "embedded MNIST copy is damaged" in message
    assert str(damaged) in message and fragment in message

"""The IDX file format: read and write any IDX file, raw or gzip, with typed errors.

IDX (LeCun's format for MNIST) is a big-endian header -- two zero bytes, a type code, the number of
dimensions, then one uint32 per dimension -- followed by the data. Compression is detected by content
(the gzip magic bytes), never by file name. Sizes are checked against the bytes present before any
buffer of the declared size is allocated. An image file (PNG, JPEG, ...) passed by mistake is named as
such rather than reported as a damaged IDX file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import shlex
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DatasetNotFound, IdxFormatError
from ..files import atomic_write_bytes
from .resources import DEFAULT_DATA_DIR, refetch_hint, resource_by_filename

#: IDX type code -> big-endian numpy dtype.
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
TYPE_NAMES: dict[int, str] = {
    0x08: "uint8",
    0x09: "int8",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
#: Most dimensions a header may declare; real files have 1-4.
MAX_DIMENSIONS = 32
#: deflate cannot expand data by more than about 1032:1, so a gzip of N bytes holds at most this x N.
_GZIP_MAX_RATIO = 1100
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _is_bmp(head: bytes) -> bool:
    """"BM", the file size, two reserved words (zero), the pixel offset, then a known DIB header size."""
    return head[:2] == b"BM" and head[6:10] == bytes(4) and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)


#: Image formats passed by mistake, told by their leading bytes (none starts with IDX's 0x00 0x00).
IMAGE_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "PNG": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "JPEG": lambda head: head.startswith(b"\xff\xd8\xff"),
    "GIF": lambda head: head.startswith((b"GIF87a", b"GIF89a")),
    "BMP": _is_bmp,
    "TIFF": lambda head: head.startswith((b"II*\x00", b"MM\x00*")),
    "WebP": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
}
_SIGNATURE_BYTES = 18  # enough for every signature above


def image_format(head: bytes) -> str | None:
    """The image format (`"PNG"`, `"JPEG"`, ...) whose signature `head` starts with, or None."""
    return next((kind for kind, matches in IMAGE_SIGNATURES.items() if matches(head)), None)


def _refuse_image(head: bytes, name: str) -> None:
    kind = image_format(head)
    if kind is not None:
        raise IdxFormatError(
            f"{name}: is a {kind} image, not an IDX file",
            hint=f"to read the digit in it, use `mnist predict {shlex.quote(name)}`",
        )


def _damaged_hint(name: str) -> str:
    """What to do about a damaged file: fetch it again if it is one of the MNIST files, else check it."""
    if resource_by_filename(name) is not None:
        return f"check that the file is complete; {refetch_hint(name)}"
    return "check that the file is an IDX file (raw or gzip) and is complete"


def _missing_hint(name: str) -> str:
    if resource_by_filename(name) is not None:
        return f"check the path, or run `mnist download` to write the four MNIST files to {DEFAULT_DATA_DIR}"
    return "check the path"


@dataclass(frozen=True)
class IdxHeader:
    """The parsed header of an IDX file."""

    type_code: int
    shape: tuple[int, ...]

    @property
    def magic(self) -> int:
        return (self.type_code << 8) | len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return TYPE_CODES[self.type_code]

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type_code]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def header_bytes(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def item_count(self) -> int:
        return self.shape[0]

    @property
    def data_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=object)) * self.dtype.itemsize


@dataclass(frozen=True)
class IdxFile:
    """An IDX file read into memory: header, native-endian data and facts about the file."""

    name: str
    header: IdxHeader
    data: np.ndarray
    sha256: str
    gzipped: bool
    file_bytes: int


def _parse_prefix(prefix: bytes, name: str) -> tuple[int, int]:
    """Check the first four bytes; return (type code, number of dimensions)."""
    if len(prefix) < 4:
        found = "an empty file" if not prefix else f"only {len(prefix)} byte(s)"
        raise IdxFormatError(f"{name}: header too short: expected at least 4 bytes, found {found}")
    if prefix[0] != 0 or prefix[1] != 0:
        raise IdxFormatError(
            f"{name}: bad magic number: expected the first two bytes to be 0x00 0x00, "
            f"found 0x{prefix[0]:02X} 0x{prefix[1]:02X}"
        )
    type_code, ndim = prefix[2], prefix[3]
    if type_code not in TYPE_CODES:
        valid = ", ".join(f"0x{code:02X} ({TYPE_NAMES[code]})" for code in TYPE_CODES)
        raise IdxFormatError(f"{name}: unknown type code 0x{type_code:02X}: expected one of {valid}")
    if ndim == 0 or ndim > MAX_DIMENSIONS:
        raise IdxFormatError(f"{name}: absurd number of dimensions {ndim}: expected 1 to {MAX_DIMENSIONS}")
    return type_code, ndim


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    parts, remaining = [], size
    while remaining > 0:
        chunk = stream.read(min(remaining, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _read_header(stream: BinaryIO, name: str) -> IdxHeader:
    prefix = _read_exact(stream, 4)
    type_code, ndim = _parse_prefix(prefix, name)
    dims_raw = _read_exact(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise IdxFormatError(
            f"{name}: header too short: {ndim} dimensions need {4 + 4 * ndim} header bytes, "
            f"found {4 + len(dims_raw)}"
        )
    header = IdxHeader(type_code, struct.unpack(f">{ndim}I", dims_raw))
    nonzero = math.prod(d for d in header.shape if d) * header.dtype.itemsize
    if 0 in header.shape and nonzero > np.iinfo(np.intp).max:  # empty, yet no array can take that shape
        raise IdxFormatError(
            f"{name}: header declares shape {header.shape}: too large for any array "
            f"({nonzero:,} bytes without its zero dimensions)"
        )
    return header


def _read_body(stream: BinaryIO, header: IdxHeader, name: str) -> bytearray:
    """Read exactly the declared data bytes and make sure nothing follows them."""
    expected = header.data_bytes
    body = bytearray(expected)
    view, filled = memoryview(body), 0
    while filled < expected:
        got = stream.readinto(view[filled : filled + _CHUNK])
        if not got:
            break
        filled += got
    if filled < expected:
        raise IdxFormatError(
            f"{name}: truncated: header declares shape {header.shape} ({expected:,} data bytes), "
            f"found {filled:,}"
        )
    if stream.read(1):
        rest = 1 + len(stream.read(_CHUNK))
        more = "+" if rest > _CHUNK else ""
        raise IdxFormatError(
            f"{name}: trailing bytes: header declares {expected:,} data bytes, found {rest:,}{more} more after them"
        )
    return body


def _check_declared_size(header: IdxHeader, name: str, *, available: int, gzipped: bool) -> None:
    """Refuse a declared size the file cannot hold, before allocating anything."""
    declared = header.data_bytes
    if gzipped:
        limit = available * _GZIP_MAX_RATIO
        if declared > limit:
            raise IdxFormatError(
                f"{name}: header declares shape {header.shape} ({declared:,} data bytes), but a gzip file of "
                f"{available:,} bytes can hold at most about {limit:,}"
            )
    elif declared != available:
        what = "truncated" if declared > available else "trailing bytes"
        raise IdxFormatError(
            f"{name}: {what}: header declares shape {header.shape} ({declared:,} data bytes), "
            f"found {available:,} data bytes"
        )


def _to_array(body: bytearray, header: IdxHeader) -> np.ndarray:
    array = np.frombuffer(body, dtype=header.dtype).reshape(header.shape)
    if header.dtype.itemsize > 1:
        array = array.astype(header.dtype.newbyteorder("="))
    elif header.dtype.kind == "u":
        array = array.view(np.uint8)
    else:
        array = array.view(np.int8)
    return array


def _decode(stream: BinaryIO, name: str, *, size: int, gzipped: bool) -> tuple[IdxHeader, np.ndarray, str]:
    try:
        source: BinaryIO = gzip.GzipFile(fileobj=stream, mode="rb") if gzipped else stream
        header = _read_header(source, name)
        available = size if gzipped else size - header.header_bytes
        _check_declared_size(header, name, available=available, gzipped=gzipped)
        body = _read_body(source, header, name)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise IdxFormatError(f"{name}: corrupt gzip stream: {exc}") from None
    digest = hashlib.sha256()
    digest.update(struct.pack(">BBBB", 0, 0, header.type_code, header.ndim))
    digest.update(struct.pack(f">{header.ndim}I", *header.shape))
    digest.update(body)
    return header, _to_array(body, header), digest.hexdigest()


def parse_idx(raw: bytes, name: str = "<bytes>") -> IdxFile:
    """Parse IDX content held in memory (raw or gzip).

    Args:
        raw: the file's bytes.
        name: how errors refer to the content.

    Returns:
        The parsed file.

    Raises:
        IdxFormatError: the content is not a valid, complete IDX file.
    """
    _refuse_image(raw[:_SIGNATURE_BYTES], name)
    gzipped = raw[:2] == _GZIP_MAGIC
    try:
        header, array, sha = _decode(io.BytesIO(raw), name, size=len(raw), gzipped=gzipped)
    except IdxFormatError as exc:
        exc.hint = _damaged_hint(name)
        raise
    return IdxFile(name, header, array, sha, gzipped, len(raw))


@contextmanager
def _open_idx(path: Path) -> Iterator[tuple[BinaryIO, int, bool]]:
    """Open a file for reading; yield (handle, size, gzipped); map OS errors to DatasetNotFound, refuse
    image files, and give format errors the hint that fits the file."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(_SIGNATURE_BYTES)
            _refuse_image(head, name)
            handle.seek(0)
            try:
                yield handle, size, head[:2] == _GZIP_MAGIC
            except IdxFormatError as exc:
                exc.hint = _damaged_hint(name)
                raise
    except FileNotFoundError:
        raise DatasetNotFound(f"{name}: no such file", hint=_missing_hint(name)) from None
    except IsADirectoryError:
        raise DatasetNotFound(f"{name}: is a directory, expected an IDX file", hint="pass the file itself, not its folder") from None
    except PermissionError:
        raise DatasetNotFound(f"{name}: permission denied", hint="check the file's permissions") from None
    except OSError as exc:
        raise DatasetNotFound(f"{name}: cannot read: {exc.strerror or exc}", hint="check the file and the disk it is on") from None


def read_idx(path: str | os.PathLike[str]) -> IdxFile:
    """Read an IDX file (raw or gzip, detected by content).

    Args:
        path: the file.

    Returns:
        The parsed file with its data as a native-endian numpy array.

    Raises:
        DatasetNotFound: the path does not exist, is a directory or cannot be read.
        IdxFormatError: the file is not a valid, complete IDX file (an image file is named as such).
    """
    path = Path(path)
    with _open_idx(path) as (handle, size, gzipped):
        header, array, sha = _decode(handle, str(path), size=size, gzipped=gzipped)
    return IdxFile(str(path), header, array, sha, gzipped, size)


def read_idx_header(path: str | os.PathLike[str]) -> IdxHeader:
    """Read and validate only the header of an IDX file (raw or gzip)."""
    path = Path(path)
    with _open_idx(path) as (handle, _size, gzipped):
        try:
            return _read_header(gzip.GzipFile(fileobj=handle, mode="rb") if gzipped else handle, str(path))
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise IdxFormatError(f"{path}: corrupt gzip stream: {exc}") from None


def _type_code_for(dtype: np.dtype) -> int:
    native = np.dtype(dtype).newbyteorder("=")
    for code, idx_dtype in TYPE_CODES.items():
        if idx_dtype.newbyteorder("=") == native:
            return code
    valid = ", ".join(TYPE_NAMES.values())
    raise IdxFormatError(f"cannot write dtype {native.name} as IDX: expected one of {valid}", hint="convert the array first")


def to_idx_bytes(array: np.ndarray, *, compress: bool = False) -> bytes:
    """Encode an array as IDX bytes.

    Args:
        array: any array of 1 to 32 dimensions with an IDX dtype.
        compress: gzip the result.

    Raises:
        IdxFormatError: the dtype or the number of dimensions cannot be written.
    """
    array = np.asarray(array)
    code = _type_code_for(array.dtype)
    if not 1 <= array.ndim <= MAX_DIMENSIONS:
        raise IdxFormatError(f"cannot write a {array.ndim}-dimensional array as IDX: expected 1 to {MAX_DIMENSIONS}")
    if any(dim >= 2**32 for dim in array.shape):
        raise IdxFormatError(f"cannot write shape {array.shape} as IDX: dimensions must be below 2**32")
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=TYPE_CODES[code]).tobytes()
    return gzip.compress(payload, compresslevel=6, mtime=0) if compress else payload


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write an array as an IDX file, atomically.

    Args:
        path: destination; written via a temporary file and a rename.
        array: the data.
        compress: gzip the file; by default, when the name ends in `.gz`.

    Returns:
        The path written.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    atomic_write_bytes(path, to_idx_bytes(array, compress=compress))
    return path

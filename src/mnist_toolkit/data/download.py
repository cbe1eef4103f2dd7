"""Obtaining the four MNIST files: from mirrors over HTTP, from a local folder or archive, or from the embedded copy.

Every file is written to a temporary file beside its destination, verified by the SHA-256 of its
decompressed content, and only then renamed into place, so a partial or wrong file never sits under
a final name. Progress is reported through a `DownloadListener`; nothing here prints.
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .source import candidate_names, find_resource_file, verify_file
from ..errors import DatasetNotFound, MnistError
from ..files import atomic_write_bytes
from .idx import parse_idx
from .resources import DEFAULT_MIRRORS, EMBEDDED_DIR, RESOURCES, Resource, resource_by_filename

#: No MNIST file is larger than this, raw (47,040,016 bytes) or gzip; anything bigger is refused.
MAX_FILE_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class DownloadOptions:
    """How to fetch from mirrors."""

    dest: Path  # folder the files go to
    mirrors: tuple[str, ...] = DEFAULT_MIRRORS  # base URLs, tried in order
    force: bool = False  # re-fetch files that are already present and valid
    timeout: float = 30.0  # seconds to connect, and at most between two received chunks
    retries: int = 3  # attempts per mirror for transient faults (5xx, cuts, timeouts)
    backoff: float = 1.0  # seconds before the first retry, doubling each time
    max_seconds: float = 600.0  # wall-clock limit of one attempt (a trickling server)


@dataclass
class FileOutcome:
    """What happened to one file."""

    key: str
    filename: str
    status: str  # "present" | "downloaded" | "imported" | "copied" | "failed"
    path: str | None = None
    source: str | None = None
    failures: list[str] = field(default_factory=list)  # "where: what went wrong", in order

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class DownloadListener:
    """Receives progress; the default ignores it. Reporting code subclasses this."""

    def attempt_started(self, resource: Resource, source: str, total: int | None) -> None:
        """A transfer from `source` begins; `total` bytes if known."""

    def advanced(self, resource: Resource, nbytes: int) -> None:
        """`nbytes` more bytes arrived."""

    def attempt_failed(self, resource: Resource, source: str, reason: str, will_retry: bool) -> None:
        """An attempt failed."""

    def file_finished(self, resource: Resource, outcome: FileOutcome) -> None:
        """A file is settled, one way or the other."""


class _Transient(Exception):
    """A fault worth retrying on the same mirror."""


class _Permanent(Exception):
    """A fault that retrying the same mirror will not cure."""


class _Unreachable(_Permanent):
    """The mirror's host cannot be reached at all (its name does not resolve, or it refuses connections):
    no file will come from it in this download, so the other files skip it too."""


#: How a failed name lookup reads, where only the text tells (Linux, glibc's EAI_AGAIN, macOS, Windows).
_DNS_TEXTS = ("name or service not known", "temporary failure in name resolution", "nodename nor servname",
              "failed to resolve", "getaddrinfo failed", "no address associated with hostname")  # fmt: skip
_REFUSED_TEXTS = ("connection refused", "actively refused")
#: The start of every "the mirror cannot be reached" failure, for `no_mirror_reachable`.
UNREACHABLE = "cannot reach"


def _install(dest: Path, resource: Resource, payload: bytes) -> Path:
    """Validate bytes as `resource`, write them atomically under the right name, drop stale variants."""
    try:
        parsed = parse_idx(payload, resource.filename)
    except MnistError as exc:
        raise _Permanent(f"wrong content: {exc.message}") from None
    if parsed.sha256 != resource.sha256:
        raise _Permanent(f"wrong content: SHA-256 {parsed.sha256[:16]}... is not MNIST {resource.filename}")
    target = dest / (resource.gz_name if parsed.gzipped else resource.filename)
    atomic_write_bytes(target, payload)
    for name in candidate_names(resource):
        stale = dest / name
        if stale != target and stale.is_file():
            stale.unlink()
    return target


def _present(dest: Path, resource: Resource) -> tuple[Path | None, str | None]:
    """An existing valid file for `resource` in `dest`, or why the existing one is not valid."""
    existing = find_resource_file(dest, resource)
    if existing is None:
        return None, None
    try:
        verify_file(existing, resource)
    except MnistError as exc:
        return None, f"{existing}: {exc.message}"
    return existing, None


def _status_fault(status: int, url: str) -> Exception:
    if status in (408, 425, 429) or status >= 500:
        return _Transient(f"HTTP {status}")
    return _Permanent(f"HTTP {status}")


def _fetch(session, url: str, resource: Resource, opts: DownloadOptions, listener: DownloadListener) -> bytes:
    """One attempt to GET a file into memory, bounded in size and time."""
    import requests

    started = time.monotonic()
    try:
        with session.get(url, stream=True, timeout=(opts.timeout, opts.timeout)) as response:
            if response.status_code != 200:
                raise _status_fault(response.status_code, url)
            content_type = response.headers.get("Content-Type", "")
            if "html" in content_type.lower():
                raise _Permanent(f"served an HTML page ({content_type}), not the file")
            declared = response.headers.get("Content-Length")
            total = int(declared) if declared and declared.isdigit() else None
            if total is not None and total > MAX_FILE_BYTES:
                raise _Permanent(f"file too large: {total:,} bytes, at most {MAX_FILE_BYTES:,} expected")
            listener.attempt_started(resource, url, total)
            buffer = io.BytesIO()
            for chunk in response.iter_content(_CHUNK):
                buffer.write(chunk)
                listener.advanced(resource, len(chunk))
                if buffer.tell() > MAX_FILE_BYTES:
                    raise _Permanent(f"file too large: more than {MAX_FILE_BYTES:,} bytes")
                if time.monotonic() - started > opts.max_seconds:
                    raise _Transient(f"too slow: not finished after {opts.max_seconds:g} s")
            received = buffer.tell()
            if total is not None and received < total and "Content-Encoding" not in response.headers:
                raise _Transient(f"connection cut after {received:,} of {total:,} bytes")
            payload = buffer.getvalue()
    except requests.Timeout:
        raise _Transient(f"timed out (no answer within {opts.timeout:g} s)") from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        unreachable = _unreachable(exc, url)
        if unreachable is not None:
            raise unreachable from None
        if "timed out" in str(exc).lower():
            raise _Transient(f"timed out (no data within {opts.timeout:g} s)") from None
        raise _Transient(f"connection failed or cut: {_short(exc)}") from None
    except requests.RequestException as exc:
        raise _Permanent(f"request failed: {_short(exc)}") from None
    head = payload[:64].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml")):
        raise _Permanent("served an HTML/XML page, not the file")
    return payload


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps: requests wraps urllib3's MaxRetryError (in `args`), which holds
    the NameResolutionError or NewConnectionError (`reason`), which holds the socket error (`__cause__`)."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (*current.args, getattr(current, "reason", None), current.__cause__, current.__context__)
        stack.extend(item for item in linked if isinstance(item, BaseException))


def _unreachable(exc: BaseException, url: str) -> _Unreachable | None:
    """A failed name lookup or a refused connection, as a fault of the whole mirror; None for anything else.

    Neither is worth a retry: a lookup that fails means no network (or a wrong host name), and a refused
    connection is the host answering at once that nothing listens there (a wrong port, a proxy that is
    not running); backing off 1 + 2 + 4 s per file changes neither, it only delays the next mirror.
    """
    causes = list(_causes(exc))
    text = " ".join(str(cause) for cause in causes).lower()
    parts = urlsplit(url)
    host = parts.hostname or url
    if any(type(cause).__name__ == "ProxyError" for cause in causes):  # the proxy, not the mirror, is out of reach
        host = f"the proxy for {host}"
    if any(isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError" for cause in causes) or any(
        marker in text for marker in _DNS_TEXTS
    ):
        return _Unreachable(f"{UNREACHABLE} {host}: its name does not resolve (no network, or a wrong mirror URL)")
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes) or any(marker in text for marker in _REFUSED_TEXTS):
        where = f"{host}:{parts.port}" if parts.port and host == parts.hostname else host
        return _Unreachable(f"{UNREACHABLE} {where}: connection refused (nothing listens there)")
    return None


def no_mirror_reachable(outcomes: list[FileOutcome]) -> bool:
    """Whether every failed file failed only because no mirror could be reached (no network, most likely)."""
    failures = [failure for outcome in outcomes if not outcome.ok for failure in outcome.failures]
    return bool(failures) and all(f": {UNREACHABLE} " in failure for failure in failures)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _mirror_url(mirror: str, resource: Resource) -> str:
    return urljoin(mirror if mirror.endswith("/") else mirror + "/", resource.gz_name)


def download(
    opts: DownloadOptions,
    listener: DownloadListener | None = None,
    session=None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FileOutcome]:
    """Fetch the four MNIST files from the mirrors, in order, into `opts.dest`.

    Files already present and valid are skipped unless `opts.force`. Transient faults (5xx, timeouts,
    cut connections) are retried with exponential backoff up to `opts.retries` times per mirror;
    permanent ones (403, 404, an HTML page, wrong content) move on to the next mirror at once. A mirror
    whose host name does not resolve or that refuses the connection is given up for every file.

    Returns:
        One outcome per file; a file no mirror could supply has status "failed" and its failures.
    """
    import requests

    from .._version import __version__

    listener = listener or DownloadListener()
    dest = Path(opts.dest)
    dest.mkdir(parents=True, exist_ok=True)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = f"mnist-toolkit/{__version__}"
    outcomes = []
    unreachable: dict[str, str] = {}  # mirror -> why it cannot be reached, shared by the four files
    for resource in RESOURCES:
        outcome = FileOutcome(resource.key, resource.filename, "failed")
        existing, invalid = (None, None) if opts.force else _present(dest, resource)
        if existing is not None:
            outcome.status, outcome.path, outcome.source = "present", str(existing), str(existing)
        else:
            if invalid:
                outcome.failures.append(f"existing file not valid: {invalid}")
            _fetch_from_mirrors(session, resource, opts, listener, outcome, sleep, unreachable)
        listener.file_finished(resource, outcome)
        outcomes.append(outcome)
    return outcomes


def _fetch_from_mirrors(session, resource, opts, listener, outcome, sleep, unreachable: dict[str, str]) -> None:
    for mirror in opts.mirrors:
        url = _mirror_url(mirror, resource)
        if mirror in unreachable:
            reason = f"{unreachable[mirror]} (not tried again)"
            outcome.failures.append(f"{url}: {reason}")
            listener.attempt_failed(resource, url, reason, False)
            continue
        for attempt in range(1, max(1, opts.retries) + 1):
            try:
                payload = _fetch(session, url, resource, opts, listener)
                target = _install(Path(opts.dest), resource, payload)
            except _Transient as exc:
                will_retry = attempt < opts.retries
                outcome.failures.append(f"{url}: {exc} (attempt {attempt} of {opts.retries})")
                listener.attempt_failed(resource, url, str(exc), will_retry)
                if will_retry:
                    sleep(opts.backoff * 2 ** (attempt - 1))
                    continue
                break
            except _Permanent as exc:
                outcome.failures.append(f"{url}: {exc}")
                listener.attempt_failed(resource, url, str(exc), False)
                if isinstance(exc, _Unreachable):
                    unreachable[mirror] = str(exc)
                break
            outcome.status, outcome.path, outcome.source = "downloaded", str(target), url
            return


def copy_embedded(dest: Path, force: bool = False, listener: DownloadListener | None = None) -> list[FileOutcome]:
    """Copy the package's embedded MNIST into `dest`, verifying each file; no network."""
    listener = listener or DownloadListener()
    sources = {resource.key: [(str(EMBEDDED_DIR / resource.gz_name), (EMBEDDED_DIR / resource.gz_name).read_bytes)]
               for resource in RESOURCES}  # fmt: skip
    return _install_candidates(Path(dest), sources, "copied", force, listener)


def _install_candidates(dest: Path, candidates: dict[str, list], status: str, force: bool, listener) -> list[FileOutcome]:
    dest.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for resource in RESOURCES:
        outcome = FileOutcome(resource.key, resource.filename, "failed")
        existing, invalid = (None, None) if force else _present(dest, resource)
        if existing is not None:
            outcome.status, outcome.path, outcome.source = "present", str(existing), str(existing)
        else:
            if invalid:
                outcome.failures.append(f"existing file not valid: {invalid}")
            found = candidates.get(resource.key, [])
            if not found:
                outcome.failures.append(f"no file named like {resource.filename} (raw or .gz, dash or dot)")
            for label, read in found:
                try:
                    payload = read()
                    listener.attempt_started(resource, label, len(payload))
                    listener.advanced(resource, len(payload))
                    target = _install(dest, resource, payload)
                except _Permanent as exc:
                    outcome.failures.append(f"{label}: {exc}")
                    listener.attempt_failed(resource, label, str(exc), False)
                    continue
                outcome.status, outcome.path, outcome.source = status, str(target), label
                break
        listener.file_finished(resource, outcome)
        outcomes.append(outcome)
    return outcomes


def _bounded(read: Callable[[], bytes], size: int, label: str) -> Callable[[], bytes]:
    def reader() -> bytes:
        if size > MAX_FILE_BYTES:
            raise _Permanent(f"too large: {size:,} bytes, at most {MAX_FILE_BYTES:,} expected")
        try:
            return read()
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
            raise _Permanent(f"cannot read: {_short(exc)}") from None

    return reader


def _folder_members(root: Path) -> Iterator[tuple[str, int, Callable[[], bytes]]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path), path.stat().st_size, path.read_bytes


def _zip_members(archive: Path) -> Iterator[tuple[str, int, Callable[[], bytes]]]:
    with zipfile.ZipFile(archive) as handle:
        for info in handle.infolist():
            if not info.is_dir():
                yield f"{archive}:{info.filename}", info.file_size, lambda info=info: handle.read(info)


def _tar_members(archive: Path) -> Iterator[tuple[str, int, Callable[[], bytes]]]:
    with tarfile.open(archive, mode="r:*") as handle:
        for member in handle.getmembers():
            if member.isfile():
                yield f"{archive}:{member.name}", member.size, lambda member=member: handle.extractfile(member).read()


#: (detector, member lister) by kind of source, tried in order; detection is by content.
_SOURCE_KINDS: tuple[tuple[str, Callable[[Path], bool], Callable[[Path], Iterator]], ...] = (
    ("folder", Path.is_dir, _folder_members),
    ("zip", zipfile.is_zipfile, _zip_members),
    ("tar", tarfile.is_tarfile, _tar_members),
)


def import_from(source: Path, dest: Path, force: bool = False, listener: DownloadListener | None = None) -> list[FileOutcome]:
    """Import the four files from a folder or a .zip / .tar(.gz) archive into `dest`.

    Names are matched loosely (`train-images.idx3-ubyte` as in the Kaggle archive, or
    `train-images-idx3-ubyte[.gz]`); content may be raw or gzip and is checked the same way as a download.

    Raises:
        DatasetNotFound: `source` does not exist or is neither a folder nor a zip/tar archive.
    """
    source = Path(source).expanduser()
    if not source.exists():
        raise DatasetNotFound(f"{source}: no such file or folder", hint="pass a folder or a .zip/.tar.gz archive to --from")
    for _kind, detect, members in _SOURCE_KINDS:
        if detect(source):
            break
    else:
        raise DatasetNotFound(
            f"{source}: neither a folder nor a .zip / .tar(.gz) archive",
            hint="pass the folder or the archive that holds the four MNIST files",
        )
    if source.is_dir() and source.resolve() == Path(dest).resolve():
        return _install_candidates(Path(dest), {}, "imported", False, listener or DownloadListener())
    return _import_members(members, source, dest, force, listener)


def _import_members(members, source: Path, dest: Path, force: bool, listener) -> list[FileOutcome]:
    candidates: dict[str, list] = {}
    try:
        iterator = members(source)
        # Read eagerly while the archive is open: four small files at most are kept.
        payloads = []
        for label, size, read in iterator:
            resource = resource_by_filename(label.rsplit(":", 1)[-1])
            if resource is None:
                continue
            reader = _bounded(read, size, label)
            try:
                payloads.append((resource.key, label, reader()))
            except _Permanent as exc:
                payloads.append((resource.key, label, exc))
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise DatasetNotFound(f"{source}: cannot read the archive: {_short(exc)}", hint="check the archive is complete") from None
    for key, label, payload in payloads:
        candidates.setdefault(key, []).append((label, _payload_reader(payload)))
    return _install_candidates(Path(dest), candidates, "imported", force, listener or DownloadListener())


def _payload_reader(payload: bytes | Exception) -> Callable[[], bytes]:
    def read() -> bytes:
        if isinstance(payload, Exception):
            raise payload
        return payload

    return read

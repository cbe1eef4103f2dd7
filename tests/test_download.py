"""Obtaining MNIST: mirror fallback, retries, unreachable mirrors (no network), atomic installs, imports
from folders/archives, offline copy.

No test touches the internet: mirrors are served by a local `ThreadingHTTPServer` on 127.0.0.1 whose
behaviour is chosen by the first path segment (`/m404/`, `/cut/`, `/good/`, ...), and the real files
it serves are the ones embedded in the package.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import re
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from mnist_toolkit.data.source import find_resource_file
from mnist_toolkit.data.download import DownloadListener, DownloadOptions, copy_embedded, download, import_from, no_mirror_reachable
from mnist_toolkit.errors import DatasetNotFound
from mnist_toolkit.data.idx import to_idx_bytes
from mnist_toolkit.data.resources import EMBEDDED_DIR, RESOURCES, Resource

TIMEOUT = 0.5  # client timeout of every test, seconds
SLOW_SECONDS = 4 * TIMEOUT  # how long the slow mirrors keep the client waiting
GZ_NAMES = {resource.gz_name: resource for resource in RESOURCES}


# --------------------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------------------


@functools.cache
def real_gz(resource: Resource) -> bytes:
    """The embedded, valid .gz file of a resource."""
    return (EMBEDDED_DIR / resource.gz_name).read_bytes()


@functools.cache
def real_raw(resource: Resource) -> bytes:
    """The decompressed IDX content of a resource (what Kaggle's archive holds)."""
    return gzip.decompress(real_gz(resource))


@functools.cache
def not_mnist_gz(resource: Resource) -> bytes:
    """Valid gzip IDX of the right kind (images or labels), but not MNIST."""
    shape = (3, 28, 28) if resource.kind == "images" else (3,)
    return to_idx_bytes(np.ones(shape, dtype=np.uint8), compress=True)


def kaggle_name(resource: Resource) -> str:
    """`train-images.idx3-ubyte`, as in the Kaggle archive."""
    return resource.filename.replace("-idx", ".idx")


# --------------------------------------------------------------------------------------------------
# The local mirror server
# --------------------------------------------------------------------------------------------------


class _MirrorHandler(BaseHTTPRequestHandler):
    """Answers `/<kind>/<file>.gz` according to `kind`; every request path is recorded."""

    server: _MirrorHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.record(self.path)
        _, kind, name = (self.path.split("/", 2) + ["", ""])[:3]
        resource = GZ_NAMES.get(name)
        behaviour = getattr(self, f"_serve_{kind}", None)
        if resource is None or behaviour is None:
            return self._status(404)
        try:
            behaviour(resource)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts): expected

    # One method per mirror kind --------------------------------------------------------------------

    def _serve_m404(self, resource: Resource) -> None:
        self._status(404)

    def _serve_m403(self, resource: Resource) -> None:
        self._status(403)

    def _serve_m500(self, resource: Resource) -> None:
        self._status(500)

    def _serve_html(self, resource: Resource) -> None:
        """A login page, said to be HTML; its body does not start like one (only the header tells)."""
        self._body(b"<!-- portal -->\n<html><body>Please log in</body></html>", "text/html; charset=utf-8")

    def _serve_page(self, resource: Resource) -> None:
        """An HTML page mislabelled as a binary file (only the body tells)."""
        self._body(b"\n<!DOCTYPE html><html><body>Not found</body></html>")

    def _serve_cut(self, resource: Resource) -> None:
        payload = real_gz(resource)
        self._headers(200, len(payload))
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _serve_wrong(self, resource: Resource) -> None:
        self._body(not_mnist_gz(resource))

    def _serve_slow(self, resource: Resource) -> None:
        """No answer at all before the client's timeout."""
        self.server.stopping.wait(SLOW_SECONDS)
        self._body(real_gz(resource))

    def _serve_stall(self, resource: Resource) -> None:
        """Headers and a first chunk, then nothing before the client's timeout."""
        payload = real_gz(resource)
        self._headers(200, len(payload))
        self.wfile.write(payload[:1024])
        self.wfile.flush()
        self.server.stopping.wait(SLOW_SECONDS)
        self.wfile.write(payload[1024:])

    def _serve_good(self, resource: Resource) -> None:
        self._body(real_gz(resource))

    def _serve_flaky(self, resource: Resource) -> None:
        """503 the first time each file is asked for, then the real file."""
        if self.server.first_time(self.path):
            return self._status(503)
        self._body(real_gz(resource))

    # Helpers --------------------------------------------------------------------------------------

    def _headers(self, status: int, length: int, content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _body(self, payload: bytes, content_type: str = "application/octet-stream") -> None:
        self._headers(200, len(payload), content_type)
        self.wfile.write(payload)

    def _status(self, status: int) -> None:
        body = f"{status}\n".encode()
        self._headers(status, len(body), "text/plain")
        self.wfile.write(body)


class _MirrorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _MirrorHandler)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.paths: list[str] = []
        self._seen: set[str] = set()

    def record(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)

    def first_time(self, path: str) -> bool:
        with self._lock:
            if path in self._seen:
                return False
            self._seen.add(path)
            return True

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up on slow answers are expected


@dataclass
class Mirrors:
    """The running server, seen from a test."""

    server: _MirrorHTTPServer

    def url(self, kind: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{kind}/"

    def urls(self, *kinds: str) -> tuple[str, ...]:
        return tuple(self.url(kind) for kind in kinds)

    @property
    def paths(self) -> list[str]:
        return list(self.server.paths)

    def kinds_tried(self, resource: Resource) -> list[str]:
        """The mirror kinds asked for `resource`, in order."""
        return [path.split("/")[1] for path in self.paths if path.endswith("/" + resource.gz_name)]


@pytest.fixture
def mirrors() -> Iterator[Mirrors]:
    server = _MirrorHTTPServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Mirrors(server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must never go through a proxy set in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# --------------------------------------------------------------------------------------------------
# Running a download and looking at the result
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordingListener(DownloadListener):
    """Keeps every failed attempt as (file, source, reason, will_retry)."""

    failed: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def attempt_failed(self, resource, source, reason, will_retry) -> None:
        self.failed.append((resource.filename, source, reason, will_retry))


@dataclass
class Run:
    outcomes: list
    sleeps: list[float]
    listener: RecordingListener
    seconds: float

    def by_key(self) -> dict:
        return {outcome.key: outcome for outcome in self.outcomes}


def run_download(dest: Path, mirror_urls: tuple[str, ...], **options) -> Run:
    """`download()` with a short timeout, recorded sleeps (never actually sleeping) and a listener."""
    options = {"timeout": TIMEOUT, "retries": 3, "backoff": 0.25, **options}
    sleeps: list[float] = []
    listener = RecordingListener()
    started = time.monotonic()
    outcomes = download(DownloadOptions(dest, mirror_urls, **options), listener=listener, sleep=sleeps.append)
    return Run(outcomes, sleeps, listener, time.monotonic() - started)


def mirror_options(mirrors: Mirrors, *kinds: str) -> list[str]:
    """`--mirror URL` for each kind, in order, for the CLI."""
    return [arg for url in mirrors.urls(*kinds) for arg in ("--mirror", url)]


def files_in(folder: Path) -> set[str]:
    """Names of every file under `folder`, hidden temporary files included."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def assert_complete_mnist(folder: Path) -> None:
    """The four real MNIST files (raw or .gz) are in `folder`, and nothing else (no temp files, no stale copies)."""
    found = {resource: find_resource_file(folder, resource) for resource in RESOURCES}
    assert None not in found.values(), found
    for resource, path in found.items():
        assert path.read_bytes() in (real_gz(resource), real_raw(resource)), f"{path} is not {resource.filename}"
    assert files_in(folder) == {path.name for path in found.values()}


def assert_statuses(outcomes, status: str) -> None:
    assert [(o.key, o.status) for o in outcomes] == [(r.key, status) for r in RESOURCES]


# --------------------------------------------------------------------------------------------------
# 1. Fallback order and failure reasons
# --------------------------------------------------------------------------------------------------

#: Mirror kind -> what its failure reason must say.
REASONS = {
    "m404": r"HTTP 404",
    "m403": r"HTTP 403",
    "m500": r"HTTP 500 \(attempt \d of \d\)",
    "html": r"HTML page \(text/html",
    "page": r"HTML",
    "cut": r"cut(: .*IncompleteRead| after [\d,]+ of [\d,]+ bytes)",  # requests' wording, or our own check
    "wrong": r"wrong content",
    "slow": r"timed out",
}


def test_falls_back_through_bad_mirrors_in_order(mirrors: Mirrors, tmp_path: Path) -> None:
    kinds = ("m404", "m403", "m500", "html", "page", "cut", "wrong", "good")
    run = run_download(tmp_path, mirrors.urls(*kinds), retries=2, backoff=0.25)

    assert_statuses(run.outcomes, "downloaded")
    assert_complete_mnist(tmp_path)
    for resource, outcome in zip(RESOURCES, run.outcomes):
        assert outcome.source == mirrors.url("good") + resource.gz_name
        assert Path(outcome.path) == tmp_path / resource.gz_name
        # Permanent faults are tried once, transient ones (5xx, cut) `retries` times, in mirror order.
        assert mirrors.kinds_tried(resource) == ["m404", "m403", "m500", "m500", "html", "page", "cut", "cut", "wrong", "good"]
        failed_kinds = [failure.removeprefix("http://").split("/")[1] for failure in outcome.failures]
        assert failed_kinds == mirrors.kinds_tried(resource)[:-1]
        for kind, failure in zip(failed_kinds, outcome.failures):
            assert failure.startswith(mirrors.url(kind) + resource.gz_name + ": ")
            assert re.search(REASONS[kind], failure), failure
    # Files are fetched one after the other, in the order of RESOURCES.
    assert [path.rsplit("/", 1)[1] for path in mirrors.paths] == [r.gz_name for r in RESOURCES for _ in range(10)]
    # One backoff before each retry of the 500 and cut mirrors.
    assert run.sleeps == [0.25, 0.25] * len(RESOURCES)


# --------------------------------------------------------------------------------------------------
# 2. Nothing partial is ever left behind
# --------------------------------------------------------------------------------------------------


def test_every_mirror_failing_leaves_no_file(mirrors: Mirrors, tmp_path: Path) -> None:
    run = run_download(tmp_path, mirrors.urls("cut", "wrong", "html", "m404"), retries=2)

    assert_statuses(run.outcomes, "failed")
    for outcome in run.outcomes:
        assert outcome.path is None and outcome.source is None
        assert len(outcome.failures) == 5  # cut twice, then wrong, html, 404
    assert files_in(tmp_path) == set()  # neither a final name nor a `.part` temp file


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["table", "json"])
def test_cli_exits_1_with_one_error_line_when_every_mirror_fails(mirrors: Mirrors, tmp_path: Path, cli, json_flag) -> None:
    dest = tmp_path / "mnist"
    mirrors_args = mirror_options(mirrors, "m404", "cut", "wrong", "html")
    result = cli("download", *mirrors_args, "--data-dir", dest, "--retries", "1", "--timeout", TIMEOUT, *json_flag)

    assert result.exit_code == 1
    if json_flag:
        document = json.loads(result.stdout)
        assert document["ok"] is False
        assert [f["status"] for f in document["files"]] == ["failed"] * len(RESOURCES)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert all(resource.filename in error_lines[0] for resource in RESOURCES)
    assert "Traceback" not in result.stdout + result.stderr
    assert files_in(dest) == set()
    assert len(mirrors.paths) == 4 * len(RESOURCES)  # --retries 1: each mirror once per file


# --------------------------------------------------------------------------------------------------
# 3-4. Present, forced and corrupt files
# --------------------------------------------------------------------------------------------------


def test_valid_files_are_skipped_without_a_request(mirrors: Mirrors, tmp_path: Path) -> None:
    copy_embedded(tmp_path)
    run = run_download(tmp_path, mirrors.urls("good"))

    assert_statuses(run.outcomes, "present")
    assert [Path(o.path) for o in run.outcomes] == [tmp_path / r.gz_name for r in RESOURCES]
    assert mirrors.paths == []


def test_force_fetches_again(mirrors: Mirrors, tmp_path: Path) -> None:
    copy_embedded(tmp_path)
    run = run_download(tmp_path, mirrors.urls("good"), force=True)

    assert_statuses(run.outcomes, "downloaded")
    assert mirrors.paths == [f"/good/{r.gz_name}" for r in RESOURCES]
    assert_complete_mnist(tmp_path)


def test_corrupt_files_under_final_names_are_replaced(mirrors: Mirrors, tmp_path: Path) -> None:
    copy_embedded(tmp_path)
    train_images, test_labels = RESOURCES[0], RESOURCES[3]
    # A raw-named file that is not IDX (it shadows nothing: the .gz is removed) and a truncated .gz.
    (tmp_path / train_images.gz_name).unlink()
    (tmp_path / train_images.filename).write_bytes(b"not an IDX file at all")
    (tmp_path / test_labels.gz_name).write_bytes(real_gz(test_labels)[:100])

    outcomes = run_download(tmp_path, mirrors.urls("good")).by_key()

    for resource in (train_images, test_labels):
        outcome = outcomes[resource.key]
        assert outcome.status == "downloaded"
        assert outcome.failures[0].startswith("existing file not valid:")
    assert outcomes[RESOURCES[1].key].status == outcomes[RESOURCES[2].key].status == "present"
    assert mirrors.paths == [f"/good/{train_images.gz_name}", f"/good/{test_labels.gz_name}"]
    assert_complete_mnist(tmp_path)  # the corrupt raw file is gone, not left beside the new .gz


# --------------------------------------------------------------------------------------------------
# 5-6. Retries, backoff and timeouts
# --------------------------------------------------------------------------------------------------


def test_flaky_mirror_succeeds_on_second_attempt_after_one_backoff(mirrors: Mirrors, tmp_path: Path) -> None:
    run = run_download(tmp_path, mirrors.urls("flaky", "m404"), retries=3, backoff=0.25)

    assert_statuses(run.outcomes, "downloaded")
    assert run.sleeps == [0.25] * len(RESOURCES)
    for resource, outcome in zip(RESOURCES, run.outcomes):
        assert mirrors.kinds_tried(resource) == ["flaky", "flaky"]  # never reached the 404 mirror
        assert outcome.failures == [f"{mirrors.url('flaky')}{resource.gz_name}: HTTP 503 (attempt 1 of 3)"]
    assert [will_retry for *_, will_retry in run.listener.failed] == [True] * len(RESOURCES)
    assert_complete_mnist(tmp_path)


def test_backoff_doubles_until_retries_run_out_then_next_mirror(mirrors: Mirrors, tmp_path: Path) -> None:
    run = run_download(tmp_path, mirrors.urls("m500", "good"), retries=4, backoff=0.1)

    assert_statuses(run.outcomes, "downloaded")
    assert run.sleeps == pytest.approx([0.1, 0.2, 0.4] * len(RESOURCES))
    for resource in RESOURCES:
        assert mirrors.kinds_tried(resource) == ["m500"] * 4 + ["good"]
    retry_flags = [will_retry for name, _, _, will_retry in run.listener.failed if name == RESOURCES[0].filename]
    assert retry_flags == [True, True, True, False]


@pytest.mark.parametrize("kind", ["slow", "stall"])
def test_server_slower_than_timeout_times_out_and_next_mirror_is_used(mirrors: Mirrors, tmp_path: Path, kind: str) -> None:
    """`slow` sends nothing before the timeout; `stall` sends headers and a first chunk, then stops."""
    run = run_download(tmp_path, mirrors.urls(kind, "good"), retries=1, timeout=0.3)

    assert_statuses(run.outcomes, "downloaded")
    for resource, outcome in zip(RESOURCES, run.outcomes):
        assert mirrors.kinds_tried(resource) == [kind, "good"]
        assert len(outcome.failures) == 1 and re.search(REASONS["slow"], outcome.failures[0]), outcome.failures
    assert run.seconds < len(RESOURCES) * SLOW_SECONDS  # gave up on each slow answer before it came
    assert_complete_mnist(tmp_path)


# --------------------------------------------------------------------------------------------------
# 6b. No network: name lookups that fail, connections refused
# --------------------------------------------------------------------------------------------------

#: What a failed lookup raises on Linux (no such name; no DNS server reachable) and on macOS.
DNS_FAILURES = {
    "linux-unknown-name": (socket.EAI_NONAME, "Name or service not known"),
    "linux-no-dns-server": (socket.EAI_AGAIN, "Temporary failure in name resolution"),
    "macos": (8, "nodename nor servname provided, or not known"),
}
DEAD = "http://mirror.invalid/mnist/"
DEAD_REASON = "cannot reach mirror.invalid: its name does not resolve (no network, or a wrong mirror URL)"


@dataclass
class DeadHosts:
    """Every `*.invalid` host fails its lookup with socket.gaierror(errno, text); `looked_up` records them."""

    errno: int
    text: str
    looked_up: list[str] = field(default_factory=list)


@pytest.fixture
def dead_hosts(monkeypatch: pytest.MonkeyPatch) -> DeadHosts:
    """Lookups of `*.invalid` fail the way the C library fails them, under a real requests Session, so
    urllib3 and requests wrap the error exactly as on a machine without network; 127.0.0.1 still works."""
    dead = DeadHosts(*DNS_FAILURES["linux-unknown-name"])
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".invalid"):
            dead.looked_up.append(host)
            raise socket.gaierror(dead.errno, dead.text)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dead


def closed_port_url() -> str:
    """A loopback mirror URL nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.mark.parametrize("failure", DNS_FAILURES)
def test_a_mirror_whose_name_does_not_resolve_is_given_up_at_once(mirrors: Mirrors, tmp_path: Path, dead_hosts: DeadHosts, failure: str) -> None:
    dead_hosts.errno, dead_hosts.text = DNS_FAILURES[failure]
    run = run_download(tmp_path, (DEAD, mirrors.url("good")), retries=3, backoff=1.0)

    assert_statuses(run.outcomes, "downloaded")
    assert run.sleeps == []  # no backoff: a failed lookup is not retried
    assert dead_hosts.looked_up == ["mirror.invalid"]  # once, for the first file; the other files skip it
    assert run.outcomes[0].failures == [f"{DEAD}{RESOURCES[0].gz_name}: {DEAD_REASON}"]
    for outcome, resource in zip(run.outcomes[1:], RESOURCES[1:]):
        assert outcome.failures == [f"{DEAD}{resource.gz_name}: {DEAD_REASON} (not tried again)"]
    assert [will_retry for *_, will_retry in run.listener.failed] == [False] * len(RESOURCES)
    assert mirrors.paths == [f"/good/{r.gz_name}" for r in RESOURCES]
    assert_complete_mnist(tmp_path)


class DnsFailingSession:
    """A session whose every GET fails as requests fails a lookup: requests.ConnectionError wrapping
    urllib3's MaxRetryError, wrapping NameResolutionError, caused by socket.gaierror."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def get(self, url: str, **kwargs):
        import requests
        from urllib3.exceptions import MaxRetryError, NameResolutionError

        self.urls.append(url)
        host = url.split("/")[2]
        try:
            try:
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            except socket.gaierror as lookup:
                raise NameResolutionError(host, None, lookup) from lookup
        except NameResolutionError as resolution:
            raise requests.ConnectionError(MaxRetryError(None, url, resolution)) from resolution


def test_no_network_fails_every_file_at_once_without_sleeping(tmp_path: Path) -> None:
    session, sleeps = DnsFailingSession(), []
    mirror_urls = ("https://one.example/mnist/", "https://two.example/mnist/")
    outcomes = download(DownloadOptions(tmp_path, mirror_urls, retries=3), session=session, sleep=sleeps.append)

    assert_statuses(outcomes, "failed")
    assert sleeps == []
    assert session.urls == [url + RESOURCES[0].gz_name for url in mirror_urls]  # each mirror once, then skipped
    for outcome in outcomes:
        assert len(outcome.failures) == 2 and all("its name does not resolve" in f for f in outcome.failures)
    assert no_mirror_reachable(outcomes)
    assert files_in(tmp_path) == set()


def test_cli_without_network_suggests_offline_at_once(tmp_path: Path, cli, dead_hosts: DeadHosts) -> None:
    dest = tmp_path / "my mnist"
    started = time.monotonic()
    result = cli("download", "--mirror", "https://a.invalid/", "--mirror", "https://b.invalid/", "--data-dir", dest)

    assert time.monotonic() - started < 10  # was 24 s of backoff (1 + 2 s per mirror and file)
    assert result.exit_code == 1
    assert dead_hosts.looked_up == ["a.invalid", "b.invalid"]
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1
    assert "Hint: no mirror could be reached (no network?); run `mnist download --offline --data-dir" in error[0]
    assert f"--data-dir '{dest}'`" in error[0]  # the folder asked for, quoted (it has a space)


def test_a_refused_connection_is_given_up_at_once(mirrors: Mirrors, tmp_path: Path) -> None:
    refused = closed_port_url()
    run = run_download(tmp_path, (refused, mirrors.url("good")), retries=3, backoff=1.0)

    assert_statuses(run.outcomes, "downloaded")
    assert run.sleeps == []
    port = refused.split(":")[2].split("/")[0]
    assert run.outcomes[0].failures == [f"{refused}{RESOURCES[0].gz_name}: cannot reach 127.0.0.1:{port}: connection refused (nothing listens there)"]
    assert all(outcome.failures[0].endswith("(not tried again)") for outcome in run.outcomes[1:])
    assert_complete_mnist(tmp_path)


def test_a_proxy_that_refuses_is_named_as_the_proxy(tmp_path: Path) -> None:
    import requests

    session, sleeps = requests.Session(), []
    session.trust_env = False  # only the proxy set here
    session.proxies = {"http": closed_port_url()}
    outcomes = download(DownloadOptions(tmp_path, ("http://mirror.example/mnist/",), retries=3), session=session, sleep=sleeps.append)

    assert sleeps == [] and no_mirror_reachable(outcomes)
    assert outcomes[0].failures == ["http://mirror.example/mnist/train-images-idx3-ubyte.gz: cannot reach the proxy for mirror.example: connection refused (nothing listens there)"]


def test_a_cut_connection_is_still_retried(mirrors: Mirrors, tmp_path: Path) -> None:
    """Only the mirror-wide faults skip the backoff: a connection cut mid-file is worth another try."""
    run = run_download(tmp_path, mirrors.urls("cut", "good"), retries=2, backoff=0.25)
    assert run.sleeps == [0.25] * len(RESOURCES)
    assert not no_mirror_reachable(run.outcomes)


# --------------------------------------------------------------------------------------------------
# 7. Importing from a folder or an archive
# --------------------------------------------------------------------------------------------------


def kaggle_folder(root: Path, missing: Resource | None = None) -> Path:
    """Raw files named as in the Kaggle archive (`train-images.idx3-ubyte`)."""
    root.mkdir(parents=True)
    for resource in RESOURCES:
        if resource != missing:
            (root / kaggle_name(resource)).write_bytes(real_raw(resource))
    return root


@functools.cache
def kaggle_zip_bytes() -> bytes:
    """A zip laid out like Kaggle's: `train-images-idx3-ubyte/train-images-idx3-ubyte`, raw (built once)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for resource in RESOURCES:
            archive.writestr(f"{resource.filename}/{resource.filename}", real_raw(resource))
    return buffer.getvalue()


def kaggle_zip(path: Path) -> Path:
    path.write_bytes(kaggle_zip_bytes())
    return path


def corrupt_member(archive: Path, name: str) -> None:
    """Flip bytes inside one member's compressed data, leaving the zip's directory intact."""
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo(name)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # past the local header
    for offset in range(start + 200, start + 3000):
        data[offset] ^= 0x55
    archive.write_bytes(bytes(data))


def mirror_tarball(path: Path) -> Path:
    """A .tar.gz of the four .gz files under a folder."""
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for resource in RESOURCES:
            payload = real_gz(resource)
            info = tarfile.TarInfo(f"mnist/raw/{resource.gz_name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


@pytest.mark.parametrize(
    ("make_source", "installed_name"),
    [
        pytest.param(lambda tmp: kaggle_folder(tmp / "kaggle"), lambda r: r.filename, id="kaggle-folder"),
        pytest.param(lambda tmp: kaggle_zip(tmp / "archive.zip"), lambda r: r.filename, id="kaggle-zip"),
        pytest.param(lambda tmp: mirror_tarball(tmp / "mnist.tar.gz"), lambda r: r.gz_name, id="tar-gz"),
    ],
)
def test_import_from_folder_or_archive(tmp_path: Path, make_source, installed_name) -> None:
    source, dest = make_source(tmp_path), tmp_path / "dest"
    outcomes = import_from(source, dest)

    assert_statuses(outcomes, "imported")
    assert [Path(o.path).name for o in outcomes] == [installed_name(r) for r in RESOURCES]
    assert all(o.source.startswith(str(source)) for o in outcomes)
    assert_complete_mnist(dest)


def test_import_reports_the_missing_file_and_imports_the_others(tmp_path: Path) -> None:
    missing = RESOURCES[2]
    outcomes = import_from(kaggle_folder(tmp_path / "kaggle", missing=missing), tmp_path / "dest")

    assert [o.status for o in outcomes] == ["failed" if r == missing else "imported" for r in RESOURCES]
    failed = outcomes[2]
    assert failed.filename == missing.filename and missing.filename in failed.failures[0]
    assert files_in(tmp_path / "dest") == {r.filename for r in RESOURCES if r != missing}


def test_import_from_zip_with_one_corrupt_member_imports_the_others(tmp_path: Path) -> None:
    damaged = RESOURCES[1]
    archive = kaggle_zip(tmp_path / "archive.zip")
    corrupt_member(archive, f"{damaged.filename}/{damaged.filename}")

    outcomes = import_from(archive, tmp_path / "dest")

    assert [o.status for o in outcomes] == ["failed" if r == damaged else "imported" for r in RESOURCES]
    assert "cannot read" in outcomes[1].failures[0]


@pytest.mark.parametrize("name", ["notes.txt", "does-not-exist.zip"])
def test_import_from_something_not_a_folder_or_archive_raises(tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    if name.endswith(".txt"):
        source.write_text("hello, not an archive\n")
    with pytest.raises(DatasetNotFound, match=re.escape(str(source))):
        import_from(source, tmp_path / "dest")
    assert not (tmp_path / "dest").exists() or files_in(tmp_path / "dest") == set()


def test_cli_download_from_zip_json(tmp_path: Path, cli) -> None:
    dest = tmp_path / "dest"
    result = cli("download", "--from", kaggle_zip(tmp_path / "archive.zip"), "--data-dir", dest, "--json")

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["data_dir"] == str(dest)
    assert [(f["key"], f["status"]) for f in document["files"]] == [(r.key, "imported") for r in RESOURCES]
    assert_complete_mnist(dest)


# --------------------------------------------------------------------------------------------------
# 8. The embedded copy
# --------------------------------------------------------------------------------------------------


def test_copy_embedded_installs_four_valid_files(tmp_path: Path) -> None:
    outcomes = copy_embedded(tmp_path)

    assert_statuses(outcomes, "copied")
    assert [o.source for o in outcomes] == [str(EMBEDDED_DIR / r.gz_name) for r in RESOURCES]
    assert_complete_mnist(tmp_path)
    assert_statuses(copy_embedded(tmp_path), "present")


def test_cli_offline_then_inspect_uses_the_data_dir(tmp_path: Path, cli) -> None:
    dest = tmp_path / "mnist"
    result = cli("download", "--offline", "--data-dir", dest)
    assert result.exit_code == 0, result.stderr
    assert_complete_mnist(dest)

    result = cli("inspect", "--data-dir", dest, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["source"] == "data-dir"
    assert summary["root"] == str(dest)
    assert summary["splits"]["train"]["images"] == 60_000 and summary["splits"]["test"]["images"] == 10_000


# --------------------------------------------------------------------------------------------------
# 9. JSON output
# --------------------------------------------------------------------------------------------------


def test_cli_json_download_is_one_document_on_stdout(mirrors: Mirrors, tmp_path: Path, cli) -> None:
    dest = tmp_path / "mnist"
    result = cli("download", *mirror_options(mirrors, "m404", "good"), "--data-dir", dest, "--json", "--timeout", TIMEOUT)

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # raises on anything else (progress, tables) on stdout
    assert document["ok"] is True
    assert [(f["key"], f["status"]) for f in document["files"]] == [(r.key, "downloaded") for r in RESOURCES]
    assert all("HTTP 404" in f["failures"][0] for f in document["files"])
    assert "HTTP 404" in result.stderr  # the failed attempts are reported, but on stderr
    assert_complete_mnist(dest)

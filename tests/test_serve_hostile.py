"""`mnist serve` under hostile input and broken runs: a server that stays up.

Each test stands for one finding: too many readings at once (503 + Retry-After, the rest still
answers), broken run folders (listed as unusable, never a 500 for the other models), foreign origins
and every-address listening (the Host and Origin checks stay on), slow headers and bodies (cut after a
few seconds, on a real uvicorn server on 127.0.0.1), clients that go away mid-upload (one log line),
no paths or terminal codes in answers, formats the toolkit does not open (415), and the security
headers on every answer.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import copy_run, png, serve_app, uvicorn_server

HOST = "testserver"  # Starlette's TestClient's host name


def _client(catalog, raise_server_exceptions: bool = True, **options):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app

    return TestClient(create_app(catalog, allowed_hosts=(HOST,), **options), raise_server_exceptions=raise_server_exceptions)


@pytest.fixture(scope="module")
def digit(mnist_test) -> bytes:
    return png(mnist_test.images[0])


def _touch(path: Path, seconds_later: float) -> None:
    later = time.time() + seconds_later
    os.utime(path, (later, later))


# 1. At most N readings at once, a bounded queue, 503 beyond; the rest answers meanwhile.


def test_readings_beyond_the_slots_and_the_queue_get_503_while_the_rest_answers(shared_runs, monkeypatch, digit):
    import mnist_toolkit.serving.app as served
    from mnist_toolkit.serving.catalog import ModelCatalog
    from mnist_toolkit.serving.limits import ServerLimits

    started, release = threading.Semaphore(0), threading.Event()

    def slow_reading(*args):
        started.release()
        assert release.wait(30)
        return {"digit": 7}

    monkeypatch.setattr(served, "predict_image", slow_reading)
    monkeypatch.setattr(served, "explain_image", slow_reading)
    for waiting in (0, 1):
        release.clear()
        client = _client(ModelCatalog(shared_runs), limits=ServerLimits(readings=1, waiting=waiting))
        gate = client.app.state.gate
        with ThreadPoolExecutor(4) as pool:
            admitted = [pool.submit(client.post, "/api/predict", content=digit)]
            assert started.acquire(timeout=20), "the first reading did not start"
            admitted += [pool.submit(client.post, "/api/explain", content=digit) for _ in range(waiting)]
            deadline = time.monotonic() + 20
            while gate.admitted < 1 + waiting and time.monotonic() < deadline:
                time.sleep(0.01)
            assert gate.admitted == 1 + waiting
            pulled = []

            def body():  # counts what the server reads of a refused request: nothing
                for _ in range(4):
                    pulled.append(1)
                    yield b"\0" * 1024

            for path in ("/api/predict", "/api/explain"):
                refused = client.post(path, content=body())
                assert refused.status_code == 503, refused.text
                assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["error"]
            assert pulled == []
            assert client.get("/api/health").json() == {"status": "ok"}
            assert client.get("/api/models").status_code == 200 and client.get("/").status_code == 200
            release.set()
            assert [f.result(timeout=30).status_code for f in admitted] == [200] * (1 + waiting)
            for _ in range(waiting):
                assert started.acquire(timeout=20)
        assert gate.admitted == 0


def test_the_default_limits_follow_the_cores_and_bound_the_bodies_held():
    from mnist_toolkit.serving.limits import MAX_BODY_BYTES, MAX_READINGS, ServerLimits, default_readings

    assert [default_readings(c) for c in (1, 2, 3, 4, 8, 16, 64)] == [1, 1, 1, min(2, MAX_READINGS)] + [MAX_READINGS] * 3
    limits = ServerLimits()
    assert 1 <= limits.readings <= MAX_READINGS
    assert (MAX_READINGS + limits.waiting) * MAX_BODY_BYTES <= 200 * 1024 * 1024  # bodies held at most
    with pytest.raises(ValueError):
        ServerLimits(readings=0)


# 2. A broken run never breaks the other models.


@pytest.fixture
def two_runs(shared_run, tmp_path):
    """A runs folder with a good run and a newer copy of it ("broken") that each test breaks its way."""
    runs = tmp_path / "runs"
    good = copy_run(shared_run, runs, name="good")
    broken = copy_run(shared_run, runs, name="broken")
    for path in (broken / "checkpoints").iterdir():
        _touch(path, 10 + (path.suffix == ".onnx"))  # newer than "good"; its ONNX model still fresh
    return runs, good, broken


def _listing(client) -> dict:
    response = client.get("/api/models")
    assert response.status_code == 200, response.text
    return {m["id"]: m for m in response.json()["models"]} | {"": response.json()["default"]}


@pytest.mark.parametrize("metrics", [b'{"history":[{"epoch":1,"complete":true}]}', b"[]", b"not json", b"\xff\xfe{",
                                     b'{"history":[{"epoch":1,"test_acc":NaN}]}', b'{"best_epoch":1,"history":[{"epoch":1,"test_acc":Infinity}]}',
                                     b'{"best_epoch":[1],"history":{"a":1}}'])  # fmt: skip
def test_a_malformed_metrics_file_costs_only_its_accuracy(two_runs, digit, metrics):
    from mnist_toolkit.serving.catalog import ModelCatalog

    runs, _, broken = two_runs
    (broken / "metrics.json").write_bytes(metrics)
    client = _client(ModelCatalog(runs))
    listing = _listing(client)
    assert listing["broken"]["test_accuracy"] is None and listing["broken"]["usable"] is True
    assert listing["good"]["test_accuracy"] is not None and listing[""] == "broken"  # the weights are fine
    for query in ("", "?model=pretrained", "?model=good", "?model=broken"):
        assert client.post(f"/api/predict{query}", content=digit).status_code == 200, query


def _garbage_checkpoint(run: Path) -> None:
    (run / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint" * 64)
    (run / "checkpoints" / "last.onnx").unlink()


def _garbage_onnx(run: Path) -> None:
    (run / "checkpoints" / "last.onnx").write_bytes(b"not an onnx model" * 64)
    _touch(run / "checkpoints" / "last.onnx", 20)  # fresh: auto picks it


@pytest.mark.parametrize(("engine", "breakage"), [("auto", _garbage_checkpoint), ("torch", _garbage_checkpoint),
                                                  ("auto", _garbage_onnx), ("onnx", _garbage_onnx)])  # fmt: skip
def test_a_run_that_cannot_be_loaded_is_listed_unusable_and_the_others_serve(two_runs, digit, caplog, engine, breakage):
    from mnist_toolkit.serving.catalog import ModelCatalog

    runs, _, broken = two_runs
    breakage(broken)
    client = _client(ModelCatalog(runs, engine=engine))
    with caplog.at_level(logging.WARNING, logger="mnist_toolkit.serving"):
        plain = client.post("/api/predict", content=digit)
        assert plain.status_code == 200 and plain.json()["model"] == "good"  # the newest run that loads
        listing = _listing(client)
        assert listing[""] == "good" and listing["good"]["usable"] and listing["pretrained"]["usable"]
        assert listing["broken"]["usable"] is False and listing["broken"]["error"]
        for _ in range(3):  # remembered: the broken file is not read again
            refused = client.post("/api/predict?model=broken", content=digit)
            assert refused.status_code == 409 and refused.json()["model"] == "broken"
            assert "'broken'" in refused.json()["error"] and str(runs) not in refused.text
        assert client.post("/api/predict?model=pretrained", content=digit).status_code == 200
        if breakage is _garbage_checkpoint:
            assert client.post("/api/explain?model=broken", content=digit).status_code == 409
    warned = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(warned) <= 2 and not any(r.exc_info for r in warned), [r.getMessage() for r in warned]  # loading; feature maps
    # Fixed (a new version of its files): used again.
    for name in ("last.pt", "last.onnx"):
        (broken / "checkpoints" / name).write_bytes((two_runs[1] / "checkpoints" / name).read_bytes())
        _touch(broken / "checkpoints" / name, 30 + (name == "last.onnx"))
    assert client.post("/api/predict?model=broken", content=digit).status_code == 200


def test_a_checkpoint_that_vanishes_after_listing_is_a_409_and_a_folder_named_last_pt_is_left_out(two_runs, digit, caplog, tmp_path):
    from mnist_toolkit.serving.catalog import ModelCatalog

    runs, _, broken = two_runs
    odd = runs / "odd" / "checkpoints"
    (odd / "last.pt").mkdir(parents=True)
    catalog = ModelCatalog(runs, engine="torch", default="good")
    client = _client(catalog)
    with caplog.at_level(logging.WARNING, logger="mnist_toolkit.serving"):
        listing = _listing(client)
        (broken / "checkpoints" / "last.pt").unlink()  # within the listing's LISTING_SECONDS: still listed
        refused = client.post("/api/predict?model=broken", content=digit)
        catalog.LISTING_SECONDS = 0  # every request rescans
        _listing(client), _listing(client)
    assert "odd" not in listing and listing["broken"]["usable"]
    assert refused.status_code == 409 and refused.json()["model"] == "broken" and str(runs) not in refused.text
    assert len([r for r in caplog.records if "odd" in r.getMessage()]) == 1  # one warning, not one per scan
    assert client.post("/api/predict", content=digit).status_code == 200


# 3. The Host and Origin checks: only the page's own origin may post, also on every address.


@pytest.mark.parametrize(("origin", "status"), [
    (None, 400), ("http://testserver", 400), ("null", 403), ("http://testserver:9999", 403), ("https://testserver", 403),
    ("http://evil.example", 403), ("http://testserver.evil.example", 403), ("http://user@testserver", 403), ("http://testserver:x", 403),
])  # fmt: skip
def test_only_the_pages_own_origin_may_post(shared_runs, origin, status):
    from mnist_toolkit.serving.catalog import ModelCatalog

    client = _client(ModelCatalog(shared_runs))  # the port: the one the request came in on (80 for TestClient)
    headers = {} if origin is None else {"origin": origin}
    response = client.post("/api/predict", content=b"", headers=headers)  # 400: the empty body, past the checks
    assert response.status_code == status, response.text


def test_the_origin_must_name_the_served_port(shared_runs):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog
    from mnist_toolkit.serving.security import LOOPBACK_HOSTS

    client = TestClient(create_app(ModelCatalog(shared_runs), allowed_hosts=LOOPBACK_HOSTS, port=8000), base_url="http://127.0.0.1:8000")
    for origin, status in (("http://127.0.0.1:8000", 400), ("http://localhost:8000", 400), ("http://[::1]:8000", 400),
                           ("http://127.0.0.1:9999", 403), ("http://localhost:3000", 403), ("http://127.0.0.1", 403)):  # fmt: skip
        assert client.post("/api/predict", content=b"", headers={"origin": origin}).status_code == status, origin


def test_listening_on_every_address_still_checks_host_and_origin(cli, monkeypatch, shared_runs):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.security import machine_names

    config = serve_app(cli, monkeypatch, shared_runs, "--host", "0.0.0.0", "--allow-host", "Digits.Example")
    client = TestClient(config.app)
    names = machine_names()
    assert {"127.0.0.1", "localhost", "::1", socket.gethostname().lower()} <= set(names)
    for host, status in (("evil.example", 400), ("digits.example:8123", 200), (socket.gethostname(), 200), ("127.0.0.1:8123", 200)):
        assert client.get("/api/health", headers={"host": host}).status_code == status, host
    post = {"host": "digits.example:8123"}
    assert client.post("/api/predict", content=b"", headers={**post, "origin": "http://digits.example:8123"}).status_code == 400
    assert client.post("/api/predict", content=b"", headers={**post, "origin": "http://digits.example:9999"}).status_code == 403
    assert client.post("/api/predict", content=b"", headers={**post, "origin": "http://evil.example:8123"}).status_code == 403


def test_allow_host_refuses_a_wildcard(cli, shared_runs):
    result = cli("serve", "--runs-dir", shared_runs, "--host", "0.0.0.0", "--allow-host", "*")
    assert result.exit_code == 2 and "--allow-host" in result.stderr


# 4 and 5. A real uvicorn server on 127.0.0.1: slow headers and bodies are cut; a client gone is one line.


def _uvicorn(app):
    """`app` served as `mnist serve` serves it, on 127.0.0.1 in a thread (its log records reach caplog)."""
    return uvicorn_server(app, log_level="info", log_config=None)


#: Small limits, so that the tests wait seconds, not the defaults' tens of seconds.
FAST = {"header_seconds": 1.0, "body_seconds": 3.0, "body_idle_seconds": 1.0}


@pytest.fixture(scope="module")
def fast_server(shared_runs):
    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog
    from mnist_toolkit.serving.limits import ServerLimits

    with _uvicorn(create_app(ModelCatalog(shared_runs), limits=ServerLimits(**FAST))) as port:
        yield port


def _closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed `sock` (reading what it answered), failing after `limit`."""
    start, received = time.monotonic(), b""
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start, received
        if not chunk:
            return time.monotonic() - start, received
        received += chunk
    pytest.fail(f"the connection was still open after {limit} s (received {received[:200]!r})")


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_half_sent_headers_are_cut(fast_server):
    with _connect(fast_server) as sock:
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        waited, _ = _closed_after(sock, FAST["header_seconds"] + 4)
    assert waited < FAST["header_seconds"] + 2


def test_headers_trickled_a_line_at_a_time_are_cut(fast_server):
    with _connect(fast_server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        try:
            for i in range(40):  # each line well within the limit; all of them never
                time.sleep(0.2)
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
        except OSError:
            pass
        else:
            pytest.fail("the server read trickled headers for 8 s")
    assert time.monotonic() - start < FAST["header_seconds"] + 2


def test_a_body_that_stops_or_trickles_is_cut_with_408(fast_server):
    head = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
    with _connect(fast_server) as sock:  # stops
        sock.sendall(head + b"\0" * 1000)
        waited, answer = _closed_after(sock, FAST["body_idle_seconds"] + 5)
    assert answer.startswith(b"HTTP/1.1 408") and b"no body data" in answer
    assert waited < FAST["body_idle_seconds"] + 2
    with _connect(fast_server) as sock:  # trickles: never idle, never done
        sock.sendall(head)
        start = time.monotonic()
        answer = b""
        _trickle(sock, FAST["body_seconds"] + 5)
        _, answer = _closed_after(sock, 3)
    assert time.monotonic() - start < FAST["body_seconds"] + 2.5
    assert answer.startswith(b"HTTP/1.1 408") and b"not received within" in answer


def _trickle(sock, seconds: float) -> None:
    """Send 10 bytes every 0.2 s for `seconds`, or until the server closes the connection."""
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            sock.sendall(b"\0" * 10)
            time.sleep(0.2)
    except OSError:
        pass


def test_a_body_nobody_reads_is_cut_too(fast_server):
    """An early answer (here 405) leaves the body to uvicorn, which would read a trickle forever."""
    with _connect(fast_server) as sock:
        sock.sendall(b"PUT /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
        start = time.monotonic()
        _trickle(sock, FAST["body_seconds"] + 5)
    assert time.monotonic() - start < FAST["body_seconds"] + 3


def test_requests_in_time_are_served_and_kept_alive(fast_server, digit):
    with _connect(fast_server) as sock:
        for _ in range(2):
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while b'{"status":"ok"}' not in answer:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /api/predict?model=pretrained HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(digit) + digit)
        answer = b""
        while not answer.endswith(b"}"):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200") and b'"digit"' in answer


def test_a_client_gone_mid_upload_is_one_log_line(fast_server, caplog):
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            with _connect(fast_server) as sock:
                sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + b"\0" * 5000)
                time.sleep(0.1)
        deadline = time.monotonic() + 10
        while len([r for r in caplog.records if "disconnected" in r.getMessage()]) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    gone = [r for r in caplog.records if "client disconnected during upload" in r.getMessage()]
    assert len(gone) == 5 and not any(r.exc_info for r in gone)
    assert not any(r.exc_info or "Exception in ASGI application" in r.getMessage() for r in caplog.records), caplog.text


# 6. No paths or terminal codes in answers.


def test_errors_name_models_not_paths_and_carry_no_terminal_codes(two_runs, digit):
    import torch

    from mnist_toolkit.serving.catalog import ModelCatalog

    runs, _, broken = two_runs
    assert runs.is_absolute()
    torch.save({"format": Path("/x")}, broken / "checkpoints" / "last.pt")  # torch's refusal is in bold (ANSI)
    (broken / "checkpoints" / "last.onnx").unlink()
    client = _client(ModelCatalog(runs, engine="torch"))
    for path in ("/api/predict?model=broken", "/api/explain?model=broken"):
        refused = client.post(path, content=digit)
        assert refused.status_code == 409
        for text in (refused.text, refused.json()["error"]):
            assert str(runs) not in text and str(runs.resolve()) not in text and "\x1b" not in text and "\\u001b" not in text
            assert "/checkpoints/" not in text
        assert "broken" in refused.json()["error"]
    listing = client.get("/api/models").text
    assert str(runs) not in listing and "\\u001b" not in listing
    unknown = client.post("/api/predict", params={"model": str(broken)}, content=digit)
    assert unknown.status_code == 404 and str(runs) not in unknown.text


def test_a_checkpoint_given_is_labelled_by_its_file_name(shared_run, digit):
    from mnist_toolkit.inference.loading import ModelChoice
    from mnist_toolkit.serving.catalog import ModelCatalog

    checkpoint = shared_run / "checkpoints" / "last.pt"
    catalog = ModelCatalog(shared_run.parent, default="selected", pinned=ModelChoice("checkpoint", checkpoint, checkpoint.with_suffix(".onnx")))
    client = _client(catalog)
    listing = client.get("/api/models")
    selected = next(m for m in listing.json()["models"] if m["id"] == "selected")
    assert selected["label"] == "last.pt" and str(shared_run) not in listing.text
    assert client.post("/api/predict", content=digit).json()["model"] == "selected"


def test_the_plain_messages():
    from mnist_toolkit.serving.errors import replace_paths, without_terminal_codes

    assert without_terminal_codes("a \x1b[1mbold\x1b[0m \x1b[?25l word\x07") == "a bold  word"
    text = "/srv/runs/a/checkpoints/last.pt: bad (Load model from /srv/runs/a/checkpoints/last.onnx failed); see GET /api/models"
    assert replace_paths(text, {"/srv/runs/a/checkpoints/last.pt": "a (last.pt)"}) == "a (last.pt): bad (Load model from last.onnx failed); see GET /api/models"


# 7. Formats the toolkit does not open: 415.


@pytest.mark.parametrize("body", [b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n0 0 moveto 28 28 lineto stroke\nshowpage\n%%EOF\n",
                                  b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"])  # fmt: skip
def test_an_unsupported_format_is_415(shared_runs, body):
    from mnist_toolkit.serving.catalog import ModelCatalog

    response = _client(ModelCatalog(shared_runs)).post("/api/predict?model=pretrained", content=body)
    assert response.status_code == 415 and response.json()["error"]


# 8. Security headers on every answer.


def test_every_answer_carries_the_security_headers(shared_runs):
    from mnist_toolkit.serving.catalog import ModelCatalog

    client = _client(ModelCatalog(shared_runs))
    answers = [client.get("/"), client.get("/static/app.js"), client.get("/favicon.ico"), client.get("/api/health"),
               client.get("/api/models"), client.get("/nope"), client.get("/api/health", headers={"host": "evil.example"}),
               client.post("/api/predict", content=b"", headers={"origin": "null"}), client.post("/api/predict", content=b""),
               client.post("/api/predict", content=b"\0" * (10 * 1024 * 1024 + 1)), client.get("/api/predict")]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 404, 400, 403, 400, 413, 405]
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        for directive in ("default-src 'self'", "img-src 'self' data:", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
                          "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "object-src 'none'"):  # fmt: skip
            assert directive in csp, (answer.url, directive)
        assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
    page = answers[0].text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page  # nothing inline for the CSP to refuse


def test_a_bug_is_still_json_with_the_headers(shared_runs, monkeypatch, digit):
    import mnist_toolkit.serving.app as served
    from mnist_toolkit.serving.catalog import ModelCatalog

    monkeypatch.setattr(served, "predict_image", lambda *args: 1 / 0)
    answer = _client(ModelCatalog(shared_runs), raise_server_exceptions=False).post("/api/predict", content=digit)
    assert answer.status_code == 500 and json.loads(answer.text)["error"].startswith("internal error")
    assert answer.headers["x-frame-options"] == "DENY"

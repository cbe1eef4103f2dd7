"""`mnist serve`: the JSON API in-process (Starlette's TestClient), and the server on loopback."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from helpers import copy_run, png

# `shared_runs` (conftest): the session's runs folder holding one small run with its ONNX model. The
# server only reads it; the test that touches a checkpoint works on a copy.


@pytest.fixture(scope="module")
def client(shared_runs):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog

    return TestClient(create_app(ModelCatalog(shared_runs), allowed_hosts=("testserver",)))


@pytest.fixture(scope="module")
def digits(mnist_test):
    return mnist_test


def paper_digit(digit: np.ndarray, size: int = 240) -> bytes:
    """An MNIST digit drawn dark on light paper, larger and off-centre: what an upload looks like."""
    page = np.full((size, size), 235, np.uint8)
    big = np.array(Image.fromarray(255 - digit).resize((112, 112), Image.BILINEAR))
    page[40:152, 70:182] = np.minimum(page[40:152, 70:182], big)
    return png(page)


def test_health_and_models(client):
    assert client.get("/api/health").json() == {"status": "ok"}
    listing = client.get("/api/models").json()
    ids = [m["id"] for m in listing["models"]]
    assert "pretrained" in ids and len(ids) == 2
    assert listing["default"] == ids[0] != "pretrained"
    assert all(set(m) >= {"id", "label", "test_accuracy"} for m in listing["models"])


def test_predict_raw_body_and_multipart_agree(client, digits):
    data = png(digits.images[0])
    raw = client.post("/api/predict", content=data)
    assert raw.status_code == 200
    answer = raw.json()
    assert answer["digit"] == int(digits.labels[0]) and 0 < answer["confidence"] <= 1
    assert answer["top_k"][0]["digit"] == answer["digit"]
    assert len(answer["top_k"]) == 3 and len(answer["probabilities"]) == 10
    assert sum(answer["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    ranked = sorted(range(10), key=lambda d: -answer["probabilities"][d])[:3]
    assert [row["digit"] for row in answer["top_k"]] == ranked
    assert [row["p"] for row in answer["top_k"]] == [answer["probabilities"][d] for d in ranked]
    seen = Image.open(io.BytesIO(base64.b64decode(answer["input_png"])))
    assert seen.size == (28, 28)
    form = client.post("/api/predict?top_k=5", files={"image": ("d.png", data, "image/png")}).json()
    assert form["digit"] == answer["digit"] and len(form["top_k"]) == 5


def test_models_can_be_chosen_and_ids_never_become_paths(client, digits, shared_runs):
    data = paper_digit(digits.images[3])
    pretrained = client.post("/api/predict?model=pretrained", content=data).json()
    assert pretrained["model"] == "pretrained" and pretrained["digit"] == int(digits.labels[3])
    run = next(p for p in shared_runs.iterdir() if p.is_dir())
    assert client.post("/api/predict", params={"model": run.name}, content=data).status_code == 200
    for bad in ("../../etc/passwd", "/etc", "nope", "pretrained/../x", str(run), f"./{run.name}", f"{run.name}/checkpoints/last.pt"):
        response = client.post("/api/predict", params={"model": bad}, content=data)
        assert response.status_code == 404 and "unknown model" in response.json()["error"]


def test_number_reading(client, digits):
    row = np.concatenate([np.pad(digits.images[i], ((0, 0), (6, 6))) for i in (1, 2, 3, 4)], axis=1)
    answer = client.post("/api/predict?number=true&model=pretrained", content=png(row)).json()
    expected = "".join(str(int(digits.labels[i])) for i in (1, 2, 3, 4))
    assert answer["number"] == expected and len(answer["digits"]) == 4
    assert all("box" in d and "input_png" in d for d in answer["digits"])


def test_explain_gives_feature_maps_and_saliency(client, digits):
    answer = client.post("/api/explain", content=png(digits.images[0])).json()
    assert len(answer["feature_maps"]) == 2
    first = answer["feature_maps"][0]
    assert first["channels"] == 16 and len(first["maps"]) == 16
    saliency = np.array(Image.open(io.BytesIO(base64.b64decode(answer["saliency_png"]))))
    assert saliency.shape == (28, 28) and saliency.max() == 255
    # the gradient sits where the ink is, not in the empty corners
    ink = np.array(Image.open(io.BytesIO(base64.b64decode(answer["input_png"])))) > 0
    assert saliency[ink].mean() > saliency[~ink].mean()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 400, "empty body"),
        (b"not an image at all", 400, "not an image"),
        (png(np.full((120, 120), 250, np.uint8)), 400, "no digit found"),
        (b"\0" * (10 * 1024 * 1024 + 1), 413, "over 10 MB"),
    ],
)
def test_bad_input_answers_in_json(client, body, status, words):
    response = client.post("/api/predict", content=body)
    assert response.status_code == status
    assert words in response.json()["error"]


def test_bad_top_k_and_multipart_without_image(client, digits):
    for bad in ("0", "x", "11", "\u00b2", "-1", "3.5"):
        response = client.post("/api/predict", params={"top_k": bad}, content=png(digits.images[0]))
        assert response.status_code == 400 and "top_k" in response.json()["error"]
    response = client.post("/api/predict", files={"other": ("d.png", b"x", "image/png")})
    assert response.status_code == 400 and "image" in response.json()["error"]


def test_the_page_and_its_files_are_served_offline(client):
    page = client.get("/")
    assert page.status_code == 200
    for testid in ("canvas", "prediction", "probabilities", "model-input", "clear", "upload"):
        assert f'data-testid="{testid}"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200



def test_the_favicon_is_served_and_linked(client):
    """Browsers ask for /favicon.ico on every load unless the page links an icon: both answer the same
    small SVG, with its content type, instead of a 404."""
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.lstrip().startswith(b"<svg") and len(icon.content) < 2048
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in client.get("/").text
    linked = client.get("/static/favicon.svg")
    assert linked.status_code == 200 and linked.headers["content-type"] == "image/svg+xml"
    assert linked.content == icon.content

def test_twenty_parallel_clients_get_the_right_answers(shared_runs, digits):
    """Twenty at once, none refused: a queue that holds them all (the default, WAITING, may refuse some
    with 503 on a machine of few cores; test_serve_hostile.py tests that)."""
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog
    from mnist_toolkit.serving.limits import ServerLimits

    client = TestClient(create_app(ModelCatalog(shared_runs), allowed_hosts=("testserver",), limits=ServerLimits(waiting=20)))
    bodies = [(png(digits.images[i]), int(digits.labels[i])) for i in range(40)]

    def ask(item):
        data, _ = item
        response = client.post("/api/predict?model=pretrained", content=data)
        return response.status_code, response.json()["digit"]

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, bodies))
    assert all(status == 200 for status, _ in answers)
    sequential = [client.post("/api/predict?model=pretrained", content=data).json()["digit"] for data, _ in bodies]
    assert [digit for _, digit in answers] == sequential
    assert sum(d == label for d, (_, label) in zip(sequential, bodies)) >= 39


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_mnist_serve_listens_on_loopback_and_answers(shared_runs, digits, stop):
    """The command itself, as a user starts it: a process on 127.0.0.1 that answers, then ends when it is
    stopped by SIGTERM or Ctrl-C (SIGINT), after it has answered."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mnist_toolkit", "serve", "--port", str(port), "--runs-dir", str(shared_runs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1).read())
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.poll() is not None else "timeout"
                time.sleep(0.2)
        assert health == {"status": "ok"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict", data=png(digits.images[0]), method="POST")
        assert json.loads(urllib.request.urlopen(request, timeout=30).read())["digit"] == int(digits.labels[0])
    finally:
        server.send_signal(getattr(signal, stop))
        _, stderr = server.communicate(timeout=20)
    assert f"Serving http://127.0.0.1:{port}/" in stderr and "Warning" not in stderr


def test_mnist_serve_refuses_a_missing_run_in_one_line(cli, tmp_path):
    result = cli("serve", "--run", tmp_path / "nope")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "no such run folder" in lines[0] and "unexpected" not in lines[0]


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_parsed(client):
    def chunks():  # no Content-Length: the size is only known by counting
        yield b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"
        for _ in range(11):
            yield b"\0" * (1024 * 1024)

    for content_type in ("multipart/form-data; boundary=x", "application/octet-stream"):
        response = client.post("/api/predict", content=chunks(), headers={"content-type": content_type})
        assert response.status_code == 413 and "over 10 MB" in response.json()["error"]


def test_other_hosts_and_cross_origin_posts_are_refused(client, digits):
    data = png(digits.images[0])
    rebound = client.post("/api/predict", content=data, headers={"host": "evil.example"})
    assert rebound.status_code == 400 and "Host" in rebound.json()["error"]
    assert client.get("/api/models", headers={"host": "evil.example:8000"}).status_code == 400
    foreign = client.post("/api/predict", content=data, headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    own = client.post("/api/predict", content=data, headers={"origin": "http://testserver"})
    assert own.status_code == 200


def test_parallel_explanations_do_not_mix(client, digits):
    bodies = [png(digits.images[i]) for i in range(12)]
    alone = [client.post("/api/explain", content=b).json() for b in bodies]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda b: client.post("/api/explain", content=b).json(), bodies))
    for a, b in zip(alone, together):
        assert a["digit"] == b["digit"] and a["saliency_png"] == b["saliency_png"]
        assert [m["maps"] for m in a["feature_maps"]] == [m["maps"] for m in b["feature_maps"]]


def test_a_run_that_trains_on_is_reloaded(shared_run, tmp_path):
    """The catalog keys loaded models on the checkpoint's time: new weights are picked up (on a copy of
    the shared run, whose checkpoint is touched as a run still training rewrites it)."""
    from mnist_toolkit.serving.catalog import ModelCatalog

    runs = tmp_path / "runs"
    copy_run(shared_run, runs)
    catalog = ModelCatalog(runs, engine="torch")
    entry, first = catalog.model(None)
    import os
    import time as clock

    later = clock.time() + 5
    os.utime(entry.choice.checkpoint, (later, later))
    _, second = catalog.model(None)
    assert second is not first
    assert catalog.model(None)[1] is second

"""Load on `mnist serve`: C parallel clients post digit images to POST /api/predict on loopback.

Starts `mnist serve` as its own process on 127.0.0.1 (a free port), waits for /api/health, then sends
--requests requests from --clients threads (bounded also by --seconds), checks every answer against
the digit's label, and reports requests/s and latency percentiles. Images: MNIST test digits drawn
dark on light 240x240 paper (PNG), like an upload from the page.

Usage: poetry run python benchmarks/serve_load.py [--clients 20] [--requests 1000] [--engine auto] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_toolkit.data.source import load_split, resolve_source


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def paper(digit: np.ndarray) -> bytes:
    page = np.full((240, 240), 232, np.uint8)
    big = np.array(Image.fromarray(255 - digit).resize((120, 120), Image.BILINEAR))
    page[60:180, 60:180] = np.minimum(page[60:180, 60:180], big)
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120.0, help="stop sending after this long")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--model", help="a model id (default: the server's default)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    test = load_split(resolve_source(None), "test")
    bodies = [(paper(test.images[i]), int(test.labels[i])) for i in range(200)]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mnist_toolkit", "serve", "--port", str(port), "--engine", args.engine,
                               "--runs-dir", args.runs_dir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(base + "/api/health", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() - started > 60:
                    raise SystemExit("server did not start: " + server.stderr.read().decode(errors="replace")[-500:])
                time.sleep(0.1)
        query = f"?model={args.model}" if args.model else ""
        latencies, errors, wrong = [], [], 0
        lock = threading.Lock()
        counter = iter(range(args.requests))
        deadline = time.monotonic() + args.seconds

        def client() -> None:
            nonlocal wrong
            for index in counter:
                if time.monotonic() > deadline:
                    return
                data, label = bodies[index % len(bodies)]
                request = urllib.request.Request(base + "/api/predict" + query, data=data, method="POST",
                                                 headers={"Content-Type": "application/octet-stream"})  # fmt: skip
                began = time.perf_counter()
                try:
                    answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
                except (urllib.error.URLError, ConnectionError, ValueError) as exc:
                    with lock:
                        errors.append(str(exc))
                    continue
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    wrong += answer.get("digit") != label

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(10)
    ms = np.array(latencies) * 1000
    result = {
        "clients": args.clients, "requests": len(latencies), "errors": len(errors), "wrong_answers": wrong,
        "seconds": wall, "requests_per_second": len(latencies) / wall,
        "latency_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max())},
        "engine": args.engine, "cpu_count": os.cpu_count(),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

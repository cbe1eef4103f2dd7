"""CPU time and peak memory of hostile inputs, in `mnist predict` and in `mnist serve`, before and after.

Builds the inputs (dot grids of 4,000 and 16,000 blobs, a 40-megapixel partly transparent RGBA PNG,
fine stripes over 40 megapixels, 500 random specks read with --number, 4 megapixels of noise, an EPS
file, 200 MB on stdin) and measures each in two versions of the source: the working tree ("after")
and a git revision ("before", by default the last commit before the hardening), unpacked with
`git archive` into a temporary folder and put first on PYTHONPATH.

- CLI: `python -m mnist_toolkit predict FILE --json` in its own process; CPU time (user + system) and
  peak resident memory from `os.wait4`, less nothing: the first row, a plain 28x28 digit, shows what
  the imports and the model cost by themselves.
- Server: `mnist serve` in its own process on 127.0.0.1 (one fresh server per input, warmed with one
  plain request); the upload is sent with a 15 s client timeout, then the server's CPU time is followed
  in /proc until it stops growing (a reading that goes on after the client gave up counts); peak
  memory is the process's VmHWM. Then N worst-case uploads at once, and how long /api/health takes
  to answer meanwhile.

Every measurement is stopped after --limit seconds (shown as "> limit"). Linux only (/proc, wait4).

Usage: poetry run python benchmarks/hostile_inputs.py [--before REV] [--limit 60] [--out FILE] [--only-at-once]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before issue 21's hardening.
BEFORE = "36f814c"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def dot_grid(per_side: int) -> bytes:
    """per_side x per_side dots of 3x3 pixels, 8 pixels apart: as many separate ink blobs."""
    image = np.full((per_side * 8, per_side * 8), 255, np.uint8)
    for row in range(per_side):
        for col in range(per_side):
            image[row * 8 + 2 : row * 8 + 5, col * 8 + 2 : col * 8 + 5] = 0
    return _png(Image.fromarray(image))


def transparent_rgba(side: int = 6320) -> bytes:
    """A side x side RGBA PNG, transparent but for a thick black stroke (a 1): 40 megapixels, ~0.2 MB."""
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(side // 2, side // 5), (side // 2, 4 * side // 5)], fill=(0, 0, 0, 255), width=side // 20)
    return _png(image)


def stripes(side: int = 6320) -> bytes:
    """Vertical black and white stripes 4 pixels wide over side x side (1-bit PNG)."""
    columns = (np.arange(side) // 4) % 2 == 0
    return _png(Image.fromarray(np.broadcast_to(columns, (side, side)).copy()))


def specks(count: int = 500, side: int = 1000, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    image = np.full((side, side), 255, np.uint8)
    for row, col in rng.integers(0, side - 2, size=(count, 2)):
        image[row : row + 2, col : col + 2] = 0
    return _png(Image.fromarray(image))


def noise(side: int = 2000, seed: int = 0) -> bytes:
    return _png(Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)))


def plain_digit() -> bytes:
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255
    return _png(Image.fromarray(image))


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nnewpath 10 10 moveto 90 90 lineto stroke\nshowpage\n%%EOF\n"

#: (name, file name, bytes builder, extra predict options); the stdin case is added separately.
INPUTS = [
    ("plain 28x28 digit (the baseline)", "digit.png", plain_digit, []),
    ("dot grid, 4,096 blobs", "dots_4k.png", lambda: dot_grid(64), []),
    ("dot grid, 15,876 blobs", "dots_16k.png", lambda: dot_grid(126), []),
    ("40 MP RGBA, mostly transparent", "rgba_40mp.png", transparent_rgba, []),
    ("40 MP stripes (1,580 strokes)", "stripes_40mp.png", stripes, []),
    ("500 specks, --number", "specks.png", specks, ["--number"]),
    ("4 MP noise", "noise_4mp.png", noise, []),
    ("EPS file", "drawing.eps", lambda: EPS, []),
]


def unpack(revision: str, into: Path) -> Path:
    """The package source of `revision`, unpacked into `into`; returns the folder to put on PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def run_measured(command: list[str], env: dict, limit: float, stdin=None) -> dict:
    """Run `command`; its CPU seconds, peak memory (MB) and exit status, killed after `limit` seconds."""
    process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    killed = threading.Event()

    def stop() -> None:
        killed.set()
        process.kill()

    timer = threading.Timer(limit, stop)
    timer.start()
    if stdin:
        def feed() -> None:
            try:
                for start in range(0, stdin, 1 << 20):
                    process.stdin.write(b"\0" * min(1 << 20, stdin - start))
                process.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        threading.Thread(target=feed, daemon=True).start()
    stderr = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    last = [line for line in stderr.splitlines() if line.strip()][-1:] or [""]
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_mb": round(usage.ru_maxrss / 1024), "exit": process.returncode,
            "stopped": killed.is_set(), "last_line": last[0][:160]}  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak resident MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return cpu, peak / 1024


def post(port: int, body: bytes, query: str = "", timeout: float = 15.0) -> int | str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict{query}", data=body, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except Exception as error:  # a timeout or a dropped connection is the measurement
        return type(error).__name__


class Server:
    """`mnist serve` from a source folder, on a free loopback port, with an empty runs folder."""

    def __init__(self, pythonpath: Path, runs: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(pythonpath)}
        self.process = subprocess.Popen([sys.executable, "-m", "mnist_toolkit", "serve", "--port", str(self.port), "--runs-dir", str(runs)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/health", timeout=2).read()
                break
            except Exception:
                time.sleep(0.3)
        post(self.port, plain_digit())  # warm: the model loaded, the first reading done

    def settled_cpu(self, limit: float) -> tuple[float, bool]:
        """Wait until the server's CPU time stops growing (at most `limit` s): (CPU s, stopped by the limit)."""
        start = time.monotonic()
        last, _ = _proc(self.process.pid)
        while time.monotonic() - start < limit:
            time.sleep(1.0)
            now, _ = _proc(self.process.pid)
            if now - last < 0.05:
                return now, False
            last = now
        return last, True

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def health_latency(port: int) -> float:
    start = time.monotonic()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30).read()
    except Exception:
        return float("inf")
    return time.monotonic() - start


def measure_server(pythonpath: Path, runs: Path, files: Path, limit: float, at_once: int) -> list[dict]:
    results = []
    for name, file, _, options in INPUTS[1:]:
        server = Server(pythonpath, runs)
        try:
            cpu0, _ = _proc(server.process.pid)
            query = "?number=true" if "--number" in options else ""
            status = post(server.port, (files / file).read_bytes(), query)
            cpu, stopped = server.settled_cpu(limit)
            _, peak = _proc(server.process.pid)
            results.append({"input": name, "status": status, "cpu_s": round(cpu - cpu0, 2), "stopped": stopped, "peak_mb": round(peak)})
        finally:
            server.close()
        print(f"  server  {name:40s} {results[-1]}", flush=True)
    server = Server(pythonpath, runs)
    try:
        body = (files / "rgba_40mp.png").read_bytes()
        statuses: list = []
        threads = [threading.Thread(target=lambda: statuses.append(post(server.port, body, timeout=120))) for _ in range(at_once)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        latency = health_latency(server.port)
        for thread in threads:
            thread.join()
        _, peak = _proc(server.process.pid)
        counts = dict(sorted(Counter(map(str, statuses)).items()))
        results.append({"input": f"{at_once} x 40 MP RGBA at once", "status": counts, "peak_mb": round(peak), "health_s": round(latency, 2)})
    finally:
        server.close()
    print(f"  server  {results[-1]}", flush=True)
    return results


def measure_cli(pythonpath: Path, files: Path, limit: float) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    results = []
    empty_runs = files / "no-runs"
    for name, file, _, options in INPUTS:
        command = [sys.executable, "-m", "mnist_toolkit", "predict", str(files / file), "--runs-dir", str(empty_runs), "--json", *options]
        results.append({"input": name, **run_measured(command, env, limit)})
        print(f"  cli     {name:40s} {results[-1]}", flush=True)
    command = [sys.executable, "-m", "mnist_toolkit", "predict", "-", "--runs-dir", str(empty_runs), "--json"]
    results.append({"input": "200 MB on stdin", **run_measured(command, env, limit, stdin=200 << 20)})
    print(f"  cli     {results[-1]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the git revision to compare with (default: %(default)s)")
    parser.add_argument("--limit", type=float, default=60.0, help="stop a measurement after this many seconds")
    parser.add_argument("--at-once-before", type=int, default=3, help="simultaneous 40 MP uploads for the old server (each took 2.6 GB)")
    parser.add_argument("--at-once", type=int, default=20, help="simultaneous 40 MP uploads for the new server")
    parser.add_argument("--skip-before", action="store_true")
    parser.add_argument("--only-at-once", action="store_true", help="only the simultaneous uploads, on the working tree")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hostile_inputs.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        files = Path(temp) / "inputs"
        files.mkdir()
        (files / "no-runs").mkdir()
        for _, file, build, _ in INPUTS:
            (files / file).write_bytes(build())
        sizes = {file: (files / file).stat().st_size for _, file, _, _ in INPUTS}
        if args.only_at_once:  # rerun the last row of "after" into the existing report
            INPUTS[1:] = []
            (row,) = measure_server(ROOT / "src", files / "no-runs", files, args.limit, args.at_once)
            report = json.loads(args.out.read_text())
            report["after"]["server"][-1] = row
            args.out.write_text(json.dumps(report, indent=2) + "\n")
            return
        versions = {"after": ROOT / "src"}
        if not args.skip_before:
            before = Path(temp) / "before"
            before.mkdir()
            versions[f"before ({args.before})"] = unpack(args.before, before)
        report = {"machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"), "file_bytes": sizes, "limit_s": args.limit}
        for version, path in versions.items():
            print(f"{version}:", flush=True)
            at_once = args.at_once if version == "after" else args.at_once_before
            report[version] = {"cli": measure_cli(path, files, args.limit), "server": measure_server(path, files / "no-runs", files, args.limit, at_once)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

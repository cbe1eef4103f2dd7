"""Faults and bad input: killed writers, concurrent runs, malformed images, every command's bad arguments."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_toolkit.inference.checkpoint import load_checkpoint
from mnist_toolkit.inference.predict import prepare_inputs

from helpers import png


def test_kill_9_during_checkpoint_writes_leaves_the_previous_checkpoint_intact(tmp_path):
    target = tmp_path / "last.pt"
    script = textwrap.dedent(f"""
        import torch
        from mnist_toolkit.inference.checkpoint import save_checkpoint
        payload = {{"arch": "cnn", "model_args": {{}}, "config": {{}}, "normalization": {{"mean": 0.1, "std": 0.3}}}}
        step = 0
        while True:
            step += 1
            save_checkpoint({str(target)!r}, {{**payload, "step": step, "model_state": {{"w": torch.full((2_000_000,), float(step))}}}})
            print(step, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for _ in range(3):  # let a few complete checkpoints land, then kill at an arbitrary moment of a write
        process.stdout.readline()
    time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    payload = load_checkpoint(target)
    step = payload["step"]
    assert step >= 3 and bool((payload["model_state"]["w"] == float(step)).all())
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "last.pt"]
    from mnist_toolkit.inference.checkpoint import save_checkpoint

    save_checkpoint(target, {**payload, "step": step + 1})  # the next save sweeps what the killed writer left
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], leftovers


def _make_run_dir(runs: str, queue) -> None:
    from mnist_toolkit.runs import create_run_dir

    queue.put(str(create_run_dir(runs, "cnn_adam")))


def test_trainings_started_at_once_never_share_a_run_folder(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_make_run_dir, args=(str(tmp_path), queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    folders = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert len(set(folders)) == 6


VALID = png(np.pad(np.full((20, 8), 255, np.uint8), ((4, 4), (10, 10))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.builds(lambda cut: VALID[:cut], st.integers(0, len(VALID))),
        st.builds(lambda i, b: VALID[:i] + bytes([b]) + VALID[i + 1 :], st.integers(0, len(VALID) - 1), st.integers(0, 255)),
        st.builds(png, st.lists(st.integers(0, 255), min_size=1, max_size=64).map(lambda v: np.array(v, np.uint8).reshape(1, -1))),
    )
)
def test_predict_preprocessing_never_crashes_on_malformed_images(tmp_path, data):
    path = tmp_path / "input.png"
    path.write_bytes(data)
    (row,) = prepare_inputs([str(path)])
    assert (row.prepared is None) != (row.error is None)
    if row.prepared is not None:
        assert row.prepared.image.shape == (28, 28) and row.prepared.image.dtype == np.uint8


BAD_ARGUMENTS = [
    ["inspect", "/nonexistent/file.idx"],
    ["inspect", "--show", "-3"],
    ["download", "--retries", "0"],
    ["download", "--offline", "--from", "x"],
    ["download", "--from", "/nonexistent/archive.zip"],
    ["train", "--epochs", "0"],
    ["train", "--padding", "sideways"],
    ["train", "--betas", "0.9"],
    ["train", "--config", "/nonexistent.toml"],
    ["train", "--preset", "turbo"],
    ["train", "--device", "tpu"],
    ["train", "--nproc", "1"],
    ["evaluate", "--images", "a.idx"],
    ["evaluate", "--checkpoint", "/nonexistent.pt"],
    ["predict"],
    ["compare", "--optimizers", "adam,lion"],
    ["compare", "--seeds", "one"],
    ["experiments", "--grid", "/nonexistent.toml"],
    ["models", "--bogus"],
    ["no-such-command"],
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS, ids=lambda a: " ".join(a))
def test_every_command_fails_in_one_line_without_a_traceback(cli, tmp_path, arguments, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(*arguments)
    assert result.exit_code in (1, 2), (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Hint:" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_debug_shows_the_traceback(tmp_path):
    env = {**os.environ, "MNIST_DEBUG": "1"}
    done = subprocess.run([sys.executable, "-m", "mnist_toolkit", "inspect", str(tmp_path / "none.idx")],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert done.returncode == 1 and "Traceback" in done.stderr and done.stderr.strip().splitlines()[-1].startswith("Error:")


END_PROCESS_SCRIPT = """
import atexit, concurrent.futures, sys, tempfile, threading, time
from mnist_toolkit.process_exit import end_process

class Teardown:
    def __del__(self):
        sys.stdout.write("teardown")  # only the interpreter's own teardown frees this module global

kept = Teardown()
folder = tempfile.TemporaryDirectory()  # its clean-up is an atexit finalizer
print(folder.name)
atexit.register(lambda: print("atexit ran"))
if sys.argv[2] == "threads":  # a pool never shut down, and a thread still working
    concurrent.futures.ThreadPoolExecutor(2).submit(print, end="")
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
sys.stdout.write("unflushed")
end_process(int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1])
"""


@pytest.mark.parametrize("status", ["0", "3", "a message"])
@pytest.mark.parametrize("threads", ["none", "threads"])
def test_end_process_keeps_what_a_normal_exit_does(status, threads):
    """`end_process` (the end of every `mnist` command and of the background export) skips only the
    interpreter's teardown: its status, atexit handlers, temporary folders and buffered output are
    those of `sys.exit`; while threads live (a thread pool never shut down: `mnist serve`) it takes the
    normal exit, which ends them, instead of waiting forever."""
    done = subprocess.run([sys.executable, "-c", END_PROCESS_SCRIPT, status, threads], capture_output=True, text=True, timeout=60)
    folder, rest = done.stdout.split("\n", 1)
    expected = "unflushedthread finished\natexit ran\nteardown" if threads == "threads" else "unflushedatexit ran\n"
    assert rest == expected, done.stdout
    assert not os.path.exists(folder)
    assert done.returncode == (int(status) if status.isdigit() else 1)
    assert done.stderr == ("" if status.isdigit() else "a message\n")


def test_the_mnist_command_ends_with_end_process_and_its_status():
    """The console script exits through `end_process` with the command's status: 2 for a usage error, and
    its one error line reaches stderr whole."""
    done = subprocess.run([sys.executable, "-c", "import sys; sys.argv = ['mnist', 'train', '--epochs', 'many']; "
                           "import mnist_toolkit.process_exit as p, mnist_toolkit.cli as c; "
                           "c.end_process = lambda status: (print(f'end_process({status})', file=sys.stderr), p.end_process(status)); c.main()"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 2 and lines[0].startswith("Error:") and lines[1] == "end_process(2)", done.stderr

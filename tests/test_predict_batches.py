"""`mnist predict` on many files: read and answered in batches, inputs read with a size cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import png

from mnist_toolkit.inference import predict as predict_module
from mnist_toolkit.inference.predict import MISSING, predict_in_batches, read_input, save_inputs
from mnist_toolkit.reading.prepare import MAX_FILE_BYTES, READ_CHUNK, ImageError


class CountingModel:
    """Answers digit 3 for everything and records the size of every batch it is asked."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict_proba(self, images, batch_size=None):
        self.batches.append(len(images))
        out = np.full((len(images), 10), 0.01, dtype=np.float32)
        out[:, 3] = 0.91
        return out


def _digit_png(path: Path) -> Path:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 12:16] = 255
    path.write_bytes(png(image))
    return path


def test_batches_hold_at_most_batch_size_inputs_and_keep_the_order(tmp_path):
    files = [_digit_png(tmp_path / f"d{i}.png") for i in range(7)]
    (tmp_path / "bad.png").write_bytes(b"not an image")
    items = [str(f) for f in files[:4]] + [str(tmp_path / "bad.png"), str(tmp_path / "missing.png")] + [str(f) for f in files[4:]]
    model = CountingModel()
    batches = list(predict_in_batches(model, items, batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 3]
    assert max(model.batches) <= 3 and sum(model.batches) == 7
    rows = [row for batch in batches for row in batch]
    assert [row.file for row in rows] == items
    assert [row.digit for row in rows] == [3, 3, 3, 3, None, None, 3, 3, 3]
    assert rows[5].error.endswith(MISSING)


def test_a_later_batch_is_not_opened_before_the_earlier_one_is_taken(tmp_path):
    """Lazy: the batches after the first are read only when asked for (what bounds the memory)."""
    files = [_digit_png(tmp_path / f"d{i}.png") for i in range(4)]
    batches = predict_in_batches(CountingModel(), [str(f) for f in files], batch_size=2)
    first = next(batches)
    assert [row.digit for row in first] == [3, 3]
    files[3].unlink()  # gone before its batch is read: its row says so
    second = next(batches)
    assert second[0].digit == 3 and second[1].error.endswith(MISSING)


def test_saved_inputs_get_distinct_names_across_batches(tmp_path):
    folders = [tmp_path / name for name in ("a", "b", "c")]
    for folder in folders:
        folder.mkdir()
        _digit_png(folder / "x.png")
    (tmp_path / "a" / "x-2.png").write_bytes((tmp_path / "a" / "x.png").read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    taken: dict[str, int] = {}
    written = []
    for batch in predict_in_batches(CountingModel(), [str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c")], batch_size=1):
        written += save_inputs(batch, out, taken)
    # a/x-2.png, a/x.png, b/x.png, c/x.png: the name x-2 is taken by a file, so the repeats go on at 3
    assert [p.name for p in written] == ["x-2.png", "x.png", "x-3.png", "x-4.png"]


def test_the_json_list_is_written_batch_by_batch_and_is_one_document(cli, tmp_path, monkeypatch, shared_run):
    monkeypatch.setattr(predict_module, "BATCH_SIZE", 2)
    files = [str(_digit_png(tmp_path / f"d{i}.png")) for i in range(5)]
    result = cli("predict", *files, str(tmp_path / "nope.png"), "--checkpoint", shared_run / "checkpoints" / "last.pt", "--json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [row["file"] for row in rows] == files + [str(tmp_path / "nope.png")]
    assert all(row["digit"] is not None for row in rows[:5]) and rows[5]["digit"] is None
    assert "1 of 6 input(s) could not be read" in result.stderr


def test_the_table_counts_every_batch(cli, tmp_path, monkeypatch, shared_run):
    monkeypatch.setattr(predict_module, "BATCH_SIZE", 2)
    monkeypatch.chdir(tmp_path)
    files = [_digit_png(tmp_path / f"d{i}.png").name for i in range(3)]
    result = cli("predict", *files, "bad.png", "--checkpoint", shared_run / "checkpoints" / "last.pt")
    assert result.exit_code == 1
    assert all(f in result.stdout for f in files) and "Could not read" in result.stdout
    assert "1 of 4 input(s) could not be read" in result.stderr


class EndlessStream:
    """A stream that never ends (as /dev/zero or a runaway pipe), counting what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size=-1):
        assert size > 0, "an unbounded read()"
        self.read_bytes += size
        return b"\0" * size


def test_stdin_is_refused_once_past_the_cap_having_read_one_chunk_more(monkeypatch):
    stream = EndlessStream()
    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": stream})())
    with pytest.raises(ImageError, match="file too large"):
        read_input("-")
    assert stream.read_bytes <= MAX_FILE_BYTES + READ_CHUNK


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not os.path.exists("/proc/self/status"), reason="no /dev/zero or /proc here")
def test_predict_dev_zero_is_one_error_line_not_exhausted_memory():
    # VmHWM, this process's own peak: ru_maxrss would carry over the (large) peak of the pytest process it was forked from
    # app(), not main(): main ends the process with os._exit (process_exit.end_process), before a peak could be read
    code = ("import sys\nfrom mnist_toolkit.cli import app\nsys.argv = ['mnist', 'predict', '/dev/zero']\n"
            "try:\n    app()\nexcept SystemExit as e:\n    code = e.code\n"
            "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
            "print('MAXRSS', peak // 1024, 'EXIT', code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "file too large" in done.stdout and "Traceback" not in done.stderr  # the table's "Could not read" row
    maxrss_mb, exit_code = done.stdout.split("MAXRSS")[-1].split("EXIT")
    assert exit_code.strip() == "1"
    assert int(maxrss_mb) < 2000  # the model and libraries, plus the 50 MB cap; unbounded it grows until killed


def test_a_missing_file_and_a_folder_without_images_keep_their_messages(tmp_path):
    with pytest.raises(ImageError, match=MISSING):
        read_input(str(tmp_path / "nope.png"))
    with pytest.raises(ImageError, match="folder holds no images"):
        read_input(str(tmp_path))
    data = png(np.zeros((3, 3), dtype=np.uint8))
    (tmp_path / "ok.png").write_bytes(data)
    assert read_input(str(tmp_path / "ok.png")) == data

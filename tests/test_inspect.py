"""`mnist inspect`: JSON facts, drawn digits, PNG grids, the data set summary, and one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_toolkit.data.idx import TYPE_CODES, to_idx_bytes, write_idx
from mnist_toolkit.data.resources import EMBEDDED_DIR

HALF_BLOCKS = ("▀", "▄")
CODE_OF = {dtype.newbyteorder("="): code for code, dtype in TYPE_CODES.items()}


# --------------------------------------------------------------------------------------------- helpers


def inspect_json(cli, *args) -> dict:
    """Run `mnist inspect ... --json`; stdout must be exactly one JSON object."""
    result = cli("inspect", *args, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # raises on anything before or after the document
    assert isinstance(document, dict)
    return document


def inspect_text(cli, *args) -> str:
    result = cli("inspect", *args)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def assert_one_error_line(stdout: str, stderr: str, *fragments: str) -> str:
    """stdout empty, no traceback, and exactly one `Error: ...` line on stderr naming `fragments`."""
    assert stdout == ""
    assert "Traceback" not in stdout + stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ")
    assert "unexpected" not in lines[0], "a bad input was reported as a bug"
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MNIST_DATA_DIR", "MNIST_DEBUG")}


def run_module(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """`python -m mnist_toolkit ARGS` (or `python -c CODE`) in a fresh interpreter."""
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "mnist_toolkit", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=subprocess_env())


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_DEBUG", raising=False)


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """Raw images beside gzip labels (same naming scheme), and a float32 3-D file: name -> (path, array)."""
    rng = np.random.default_rng(7)
    arrays = {
        "tiny-images-idx3-ubyte": rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8),
        "tiny-labels-idx1-ubyte.gz": rng.integers(0, 10, size=12, dtype=np.uint8),
        "volume.idx": rng.standard_normal((4, 5, 6)).astype(np.float32),
    }
    return {name: (write_idx(tmp_path / name, array), array) for name, array in arrays.items()}


# ------------------------------------------------------------------------------------------ one file


@pytest.mark.parametrize("name", ["tiny-images-idx3-ubyte", "tiny-labels-idx1-ubyte.gz", "volume.idx"])
def test_json_facts(cli, samples, name: str) -> None:
    path, array = samples[name]
    facts = inspect_json(cli, path)
    code = CODE_OF[array.dtype]
    assert facts["magic"] == f"0x{(code << 8) | array.ndim:08X}"
    assert facts["type"] == str(array.dtype)
    assert (facts["ndim"], facts["dims"], facts["item_count"]) == (array.ndim, list(array.shape), array.shape[0])
    assert facts["file_bytes"] == path.stat().st_size
    assert facts["gzipped"] is name.endswith(".gz")
    assert facts["data_bytes"] == array.nbytes
    assert facts["sha256"] == hashlib.sha256(to_idx_bytes(array)).hexdigest()
    assert facts["known_mnist"] is None
    if array.ndim == 3:
        as64 = array.astype(np.float64)
        expected = {"min": as64.min(), "max": as64.max(), "mean": as64.mean(), "std": as64.std()}
        assert facts["pixels"] == pytest.approx(expected, rel=1e-12)
    else:
        values, counts = np.unique(array, return_counts=True)
        assert facts["class_counts"] == {str(v): int(c) for v, c in zip(values, counts)}
        assert sum(facts["class_counts"].values()) == len(array)


def test_labels_file_beside_images(cli, samples) -> None:
    images, _ = samples["tiny-images-idx3-ubyte"]
    labels, _ = samples["tiny-labels-idx1-ubyte.gz"]
    assert inspect_json(cli, images)["labels_file"] == str(labels)
    assert inspect_json(cli, samples["volume.idx"][0])["labels_file"] is None


COMPANIONS = {
    "absent": None,
    "wrong-count": to_idx_bytes(np.zeros(11, np.uint8)),
    "not-idx": b"not an IDX file",
}


@pytest.mark.parametrize("companion", COMPANIONS)
def test_no_labels_file_unless_it_matches(cli, samples, companion: str) -> None:
    images, _ = samples["tiny-images-idx3-ubyte"]
    labels, _ = samples["tiny-labels-idx1-ubyte.gz"]
    labels.unlink()
    if COMPANIONS[companion] is not None:
        (images.parent / "tiny-labels-idx1-ubyte").write_bytes(COMPANIONS[companion])
    assert inspect_json(cli, images)["labels_file"] is None
    assert "#0 label" not in inspect_text(cli, images)


def test_known_mnist_is_recognised_by_content(cli, tmp_path: Path) -> None:
    embedded = EMBEDDED_DIR / "t10k-labels-idx1-ubyte.gz"
    renamed = tmp_path / "some-labels.bin"
    renamed.write_bytes(gzip.decompress(embedded.read_bytes()))
    for path in (embedded, renamed):
        facts = inspect_json(cli, path)
        assert facts["known_mnist"] == "t10k-labels-idx1-ubyte"
        assert facts["dims"] == [10_000]
        assert sum(facts["class_counts"].values()) == 10_000 and facts["class_counts"]["7"] == 1028


def test_human_output_draws_digits_with_their_labels(cli, digit_pair) -> None:
    images, labels_path = digit_pair
    labels = labels_path.read_bytes()[8:]  # a raw IDX1 file: 8 header bytes, then one byte per label
    text = inspect_text(cli, images, "--show", 3)
    assert any(block in text for block in HALF_BLOCKS)
    for index in range(3):
        assert f"#{index} label {labels[index]}" in text
    assert "#3 " not in text
    assert "labels beside it" in text


def test_human_output_without_labels_or_drawings(cli, digit_pair) -> None:
    images, labels_path = digit_pair
    labels_path.unlink()
    text = inspect_text(cli, images, "--show", 2)
    assert any(block in text for block in HALF_BLOCKS)
    assert "#0" in text and "#1" in text
    assert "#0 label" not in text and "labels beside it" not in text
    assert not any(block in inspect_text(cli, images, "--show", 0) for block in HALF_BLOCKS)


def test_human_output_of_a_labels_file_shows_class_counts(cli, digit_pair) -> None:
    labels = np.frombuffer(digit_pair[1].read_bytes()[8:], np.uint8)
    text = inspect_text(cli, digit_pair[1])
    assert "Class counts" in text
    for value, count in zip(*np.unique(labels, return_counts=True)):
        assert re.search(rf"│\s+{value} │\s+{count} │", text), (value, count)
    assert not any(block in text for block in HALF_BLOCKS)


def grid_size(cli, images: Path, png: Path, grid: int) -> tuple[int, int]:
    facts = inspect_json(cli, images, "--save", png, "--grid", grid)
    assert facts["saved_grid"] == str(png)
    with Image.open(png) as image:
        assert image.format == "PNG"
        return image.size


def test_save_writes_a_png_that_grows_with_grid(cli, digit_pair, tmp_path: Path) -> None:
    images, _ = digit_pair  # 16 digits
    sizes = [grid_size(cli, images, tmp_path / f"grid-{n}.png", n) for n in (1, 5, 10, 16, 100)]
    one, five, ten, sixteen, hundred = sizes
    assert one[0] < five[0] < ten[0] and one[1] == five[1] == ten[1]  # one row, wider
    assert sixteen[0] == ten[0] and sixteen[1] > ten[1]  # a second row
    assert hundred == sixteen  # only 16 digits to draw
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))


def test_save_in_human_mode_says_where(cli, digit_pair, tmp_path: Path) -> None:
    png = tmp_path / "out" / "grid.png"
    text = inspect_text(cli, digit_pair[0], "--save", png, "--grid", 4)
    assert "Saved a grid of 4 images" in text
    with Image.open(png) as image:
        assert image.format == "PNG"


# -------------------------------------------------------------------------------------- the data set


def assert_embedded_summary(summary: dict) -> None:
    assert summary["source"] == "embedded"
    assert summary["verified"] is True
    for split, count in (("train", 60_000), ("test", 10_000)):
        facts = summary["splits"][split]
        assert facts["images"] == count
        assert sorted(facts["class_counts"]) == [str(d) for d in range(10)]
        assert sum(facts["class_counts"].values()) == count


def test_summary_of_the_embedded_data(cli) -> None:
    summary = inspect_json(cli)
    assert_embedded_summary(summary)
    assert summary["fallback_reason"] is None


@pytest.mark.parametrize("how", ["option", "env"])
def test_invalid_data_dir_falls_back_and_says_so(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    folder = tmp_path / "not-mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    args = ["--data-dir", folder] if how == "option" else []
    if how == "env":
        monkeypatch.setenv("MNIST_DATA_DIR", str(folder))
    result = cli("inspect", *args, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert_embedded_summary(summary)
    assert str(folder / "train-images-idx3-ubyte.gz") in summary["fallback_reason"]
    assert "Warning: data dir not used" in result.stderr


def test_invalid_data_dir_warning_in_human_output(cli, tmp_path: Path) -> None:
    text = inspect_text(cli, "--data-dir", tmp_path / "missing")
    assert "Warning: data dir not used" in text
    assert "embedded copy" in text and "60,000" in text and "10,000" in text


# ---------------------------------------------------------------------------------------- bad input


def _write(name: str, content: bytes):
    def build(tmp_path: Path) -> list:
        path = tmp_path / name
        path.write_bytes(content)
        return [path]

    return build


VALID = to_idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
BAD_INPUT = {
    # id -> (builds the arguments from tmp_path, exit code, fragments of the error line)
    "missing": (lambda tmp: [tmp / "missing-images-idx3-ubyte"], 1, ["missing-images-idx3-ubyte", "no such file"]),
    "directory": (lambda tmp: [tmp], 1, ["is a directory"]),
    "truncated": (_write("cut.idx", VALID[:-3]), 1, ["cut.idx", "truncated"]),
    "bad-magic": (_write("magic.idx", b"\x12\x34" + VALID[2:]), 1, ["magic.idx", "bad magic number"]),
    "corrupt-gzip": (_write("c.gz", gzip.compress(VALID)[:-5]), 1, ["c.gz", "corrupt gzip stream"]),
    "terabytes": (
        _write("huge.idx", bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 255)),
        1,
        ["huge.idx", "header declares shape"],
    ),
    "save-labels": (
        lambda tmp: [*_write("l-labels-idx1-ubyte", to_idx_bytes(np.zeros(5, np.uint8)))(tmp), "--save", tmp / "g.png"],
        2,
        ["holds no images", "--save"],
    ),
    "save-without-file": (lambda tmp: ["--save", tmp / "g.png"], 2, ["--save needs a FILE", "`mnist inspect train-images --save grid.png`"]),
    "save-onto-a-folder": (lambda tmp: [*_write("x.idx", VALID)(tmp), "--save", tmp], 1, ["Is a directory"]),
    "unknown-option": (lambda tmp: ["--bogus"], 2, ["No such option: --bogus", "--help"]),
    "grid-zero": (lambda tmp: [*_write("x.idx", VALID)(tmp), "--grid", "0"], 2, ["--grid"]),
    "empty-shape-huge-dims": (
        _write("zero.idx", bytes([0, 0, 8, 3]) + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1)),
        1,
        ["zero.idx"],
    ),
}
@pytest.mark.parametrize("json_output", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_error_line(cli, tmp_path: Path, case: str, json_output: bool) -> None:
    build, exit_code, fragments = BAD_INPUT[case]
    result = cli("inspect", *build(tmp_path), *(["--json"] if json_output else []))
    assert result.exit_code == exit_code
    assert_one_error_line(result.stdout, result.stderr, *fragments)
    assert not (tmp_path / "g.png").exists()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]


@pytest.mark.parametrize("save", [False, True], ids=["draw", "save"])
def test_images_with_an_empty_side_are_described(cli, tmp_path: Path, save: bool) -> None:
    """Drawing them or refusing with a typed error are both fine; failing as a bug is not."""
    path = write_idx(tmp_path / "flat.idx", np.zeros((3, 0, 5), np.float32))
    result = cli("inspect", path, *(["--json", "--save", tmp_path / "grid.png"] if save else []))
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    if result.exit_code:  # refused: one typed error line (not "unexpected"), no grid half-written
        assert_one_error_line(result.stdout, result.stderr)
        assert not (tmp_path / "grid.png").exists()
    elif save:  # described, and the (blank) grid saved
        assert result.stderr == "" and (tmp_path / "grid.png").is_file()
    else:  # described, the three empty images drawn
        assert result.stderr == "" and "#2" in result.stdout


# ------------------------------------------------------------------------ not IDX at all: an image


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WebP"])
def test_an_image_is_named_as_an_image_with_the_command_that_reads_it(cli, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "four_thick.png"  # the name does not matter: the content tells
    Image.new("L", (28, 28), 255).save(path, format=kind.upper())
    result = cli("inspect", path)
    assert result.exit_code == 1
    line = assert_one_error_line(result.stdout, result.stderr)
    assert line == f"Error: {path}: is a {kind} image, not an IDX file. Hint: to read the digit in it, use `mnist predict {path}`."
    assert "bad magic number" not in line and "mnist download" not in line


def test_a_damaged_idx_file_keeps_its_message_and_is_not_sent_to_download(cli, tmp_path: Path) -> None:
    path = tmp_path / "scan.idx"
    path.write_bytes(b"\x12\x34" + VALID[2:])
    line = assert_one_error_line(*_outputs(cli("inspect", path)), "bad magic number", "found 0x12 0x34")
    assert line.endswith("Hint: check that the file is an IDX file (raw or gzip) and is complete.")


def _outputs(result) -> tuple[str, str]:
    assert result.exit_code == 1
    return result.stdout, result.stderr


# ------------------------------------------------------- the data set's files by name, and data/mnist


@pytest.fixture
def fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: no data/mnist, no MNIST_DATA_DIR (the autouse fixture)."""
    work = tmp_path / "clone"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize(("name", "file_name"), [
    ("train-images", "train-images-idx3-ubyte.gz"),
    ("test-labels", "t10k-labels-idx1-ubyte.gz"),
    ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"),
    ("train-labels.idx1-ubyte", "train-labels-idx1-ubyte.gz"),
])  # fmt: skip
def test_a_bare_name_reads_that_file_of_the_data_set_in_use(cli, fresh_clone: Path, name: str, file_name: str) -> None:
    assert inspect_json(cli, name)["file"] == str(EMBEDDED_DIR / file_name)
    assert cli("download", "--offline").exit_code == 0  # into data/mnist: from now on the data set in use
    assert inspect_json(cli, name)["file"] == str(Path("data/mnist") / file_name)
    text = inspect_text(cli, name, "--show", 1)
    assert text.startswith(f"{name}: data/mnist/{file_name}, the folder `mnist download` writes by default\n")


def test_a_file_in_the_working_directory_wins_over_the_name(cli, fresh_clone: Path) -> None:
    write_idx(fresh_clone / "train-images", np.zeros((2, 28, 28), np.uint8))
    assert inspect_json(cli, "train-images")["dims"] == [2, 28, 28]


def test_a_missing_mnist_path_says_how_to_get_it(cli, fresh_clone: Path) -> None:
    result = cli("inspect", "data/mnist/train-images-idx3-ubyte.gz", "--show", "12")
    line = assert_one_error_line(*_outputs(result), "data/mnist/train-images-idx3-ubyte.gz: no such file")
    assert "`mnist inspect train-images` reads it from the data set in use" in line
    assert "`mnist download` writes the four files to data/mnist" in line


def test_after_download_every_command_uses_data_mnist_and_says_so(cli, fresh_clone: Path) -> None:
    before = inspect_json(cli)
    assert (before["source"], before["fallback_reason"]) == ("embedded", None)

    assert cli("download", "--offline").exit_code == 0  # the default folder: data/mnist

    summary = inspect_json(cli)
    assert (summary["source"], summary["root"], summary["fallback_reason"]) == ("download-dir", "data/mnist", None)
    assert summary["splits"]["train"]["images_file"] == "data/mnist/train-images-idx3-ubyte.gz"
    text = inspect_text(cli)
    assert re.search(r"│ source\s+│ download-dir", text) and re.search(r"│ folder\s+│ data/mnist ", text)
    verbose = cli("inspect", "--verbose")
    assert "Data: the folder `mnist download` writes by default (download-dir), data/mnist" in verbose.stdout
    env = json.loads(cli("env", "--json").stdout)
    assert (env["data"]["source"], env["data"]["root"]) == ("download-dir", "data/mnist")
    assert "download-dir (data/mnist)" in cli("env").stdout
    # The inspect page's example, which failed here before `mnist download` existed in this folder.
    assert "#11 label" in inspect_text(cli, "data/mnist/train-images-idx3-ubyte.gz", "--show", 12)


def test_an_incomplete_data_mnist_is_passed_over_with_a_warning(cli, fresh_clone: Path) -> None:
    assert cli("download", "--offline").exit_code == 0
    (fresh_clone / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    result = cli("inspect", "--json")
    assert json.loads(result.stdout)["source"] == "embedded"
    assert "Warning: data dir not used (data/mnist: no t10k-labels-idx1-ubyte (raw or .gz) in it; `mnist download --offline` repairs it)" in " ".join(result.stderr.split())


def inspect_page_lines() -> list[str]:
    """The command lines of the `mnist inspect` page's example block."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "commands" / "inspect.md").read_text(encoding="utf-8")
    block = re.search(r"# `mnist inspect`\n\n```bash\n(.*?)```", text, re.S)
    assert block, "docs/commands/inspect.md has no ```bash block under its title"
    return [line for line in block.group(1).splitlines() if line.startswith("mnist inspect")]


@pytest.mark.parametrize("line", inspect_page_lines())
def test_the_inspect_pages_examples_run_on_a_fresh_clone(cli, fresh_clone: Path, line: str) -> None:
    """Each line as written, in an empty folder; a line whose comment names `mnist download` after it."""
    command, _, comment = line.partition("#")
    args = shlex.split(command)[1:]
    if "some-file.idx" in args:  # a placeholder for the reader's own file
        write_idx(fresh_clone / "some-file.idx", np.arange(6, dtype=np.int16).reshape(2, 3))
    if "mnist download" in comment:
        assert cli("download", "--offline").exit_code == 0
    result = cli(*args)
    assert result.exit_code == 0, (line, result.stderr)
    assert "Warning" not in result.stdout + result.stderr


# ------------------------------------------------------------------------------------ a real process


def test_module_runs_in_a_subprocess(samples) -> None:
    help_run = run_module("--help")
    assert help_run.returncode == 0, help_run.stderr
    assert "Usage" in help_run.stdout and "inspect" in help_run.stdout

    path, array = samples["tiny-labels-idx1-ubyte.gz"]
    ok = run_module("inspect", str(path), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["dims"] == [len(array)]

    missing = run_module("inspect", str(path.parent / "nope.idx"))
    assert missing.returncode == 1
    assert_one_error_line(missing.stdout, missing.stderr, "nope.idx", "no such file")


def test_help_does_not_import_torch() -> None:
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from mnist_toolkit.cli import app\n"
        "codes = [CliRunner().invoke(app, args).exit_code for args in (['--help'], ['inspect', '--help'])]\n"
        "print(json.dumps({'codes': codes, 'torch': 'torch' in sys.modules}))\n"
    )
    run = run_module(code=code)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"codes": [0, 0], "torch": False}

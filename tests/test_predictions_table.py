"""`mnist predict`'s table: each column holds what its header says, for digits and for numbers, and an
unreadable file's error goes to a table of its own, never under "top-k"."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Group
from rich.table import Table

from mnist_toolkit.inference.answers import readings
from mnist_toolkit.inference.predict import PredictionRow
from mnist_toolkit.inference.scores import softmax
from mnist_toolkit.reading.prepare import Prepared
from mnist_toolkit.reporting.evaluation import predictions_table


def _read(digit: int, cut_from: int = 1) -> PredictionRow:
    """A row whose prepared input the model read as `digit` (probability about 0.9)."""
    prepared = Prepared(np.zeros((28, 28), np.uint8), True, False, (300, 100), (10, 10, 60, 90), 1, cut_from)
    logits = np.zeros((1, 10), np.float32)
    logits[0, digit] = 4.5
    row = PredictionRow("x.png", prepared=prepared)
    row.reading = readings(softmax(logits), [prepared.image], [prepared.box])[0]
    return row


def _failed(name: str) -> PredictionRow:
    return PredictionRow(name, error=f"{name}: not an image PIL can read")


def _tables(rendered) -> list[dict[str, list[str]]]:
    """Each table rendered, as {header: cells}."""
    tables = rendered.renderables if isinstance(rendered, Group) else [rendered]
    assert all(isinstance(table, Table) for table in tables)
    return [{str(column.header): [str(cell) for cell in column.cells] for column in table.columns} for table in tables]


def test_number_rows_name_their_columns_and_errors_have_their_own_table():
    number = PredictionRow("year.png", parts=[_read(2), _read(0), _read(2), _read(6)])
    readings_table, errors = _tables(predictions_table([number, _failed("bad.png")]))
    assert list(readings_table) == ["file", "number", "confidence", "digits"]
    assert readings_table["number"] == ["2026", "-"] and readings_table["file"] == ["year.png", "bad.png"]
    assert readings_table["digits"][0].startswith("2: 90.") and readings_table["digits"][0].count("%") == 4
    assert readings_table["digits"][1] == ""
    assert errors == {"file": ["bad.png"], "error": ["not an image PIL can read"]}


def test_digit_rows_keep_top_k_and_errors_have_their_own_table():
    readings_table, errors = _tables(predictions_table([_read(7), _failed("bad.png")], show=True))
    assert list(readings_table) == ["file", "digit", "confidence", "top-k", "model input (28x28)"]
    assert readings_table["top-k"][0].startswith("7: 90.") and readings_table["top-k"][1] == ""
    assert errors["error"] == ["not an image PIL can read"]


@pytest.mark.parametrize("number", [False, True])
def test_no_error_table_when_every_file_was_read(number):
    rows = [PredictionRow("n.png", parts=[_read(1), _read(4)])] if number else [_read(3)]
    assert len(_tables(predictions_table(rows))) == 1


def test_a_failed_number_run_still_says_number():
    """Every file failed, so no row shows a number: the caller says what was asked."""
    readings_table, _ = _tables(predictions_table([_failed("bad.png")], number=True))
    assert list(readings_table) == ["file", "number", "confidence", "digits"]


def test_digits_cut_apart_are_noted_and_the_json_keeps_its_keys():
    row = PredictionRow("touching.png", parts=[_read(2, cut_from=2), _read(5, cut_from=2)])
    (table,) = _tables(predictions_table([row]))
    assert "2 digits cut apart where their ink touched" in table["digits"][0]
    document = row.to_json()
    assert set(document) == {"file", "number", "confidence", "digits", "error"} and document["number"] == "25"
    assert all(set(digit) == {"digit", "confidence", "top_k", "box", "digit_score", "not_digit"} for digit in document["digits"])

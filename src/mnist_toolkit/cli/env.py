"""`mnist env`: what a bug report needs."""

from __future__ import annotations

from . import app
from .options import DataDirOption, JsonOption, _emit_json


@app.command()
def env(data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """Versions, devices, threads and the data copy in use: what a bug report needs."""
    from ..env_report import collect
    from ..reporting.console import environment_table, make_console

    facts = collect(str(data_dir) if data_dir else None)
    if json_output:
        _emit_json(facts)
        return
    make_console().print(environment_table(facts))

"""`mnist download`: the four MNIST files from mirrors, a local folder or archive, or the embedded copy."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..data.resources import DEFAULT_DATA_DIR
from ..errors import ConfigError, DownloadError
from . import app
from .options import JsonOption, _emit_json


@app.command()
def download(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            help=f"Folder to put the four files in. Commands run in the same folder read {DEFAULT_DATA_DIR} unless given --data-dir.",
            show_default=str(DEFAULT_DATA_DIR),
        ),
    ] = DEFAULT_DATA_DIR,
    mirror: Annotated[
        Optional[list[str]],
        typer.Option("--mirror", help="Base URL of a mirror; repeat for several, tried in order (replaces the defaults)."),
    ] = None,
    from_path: Annotated[
        Optional[Path],
        typer.Option("--from", help="Import from a local folder or a .zip / .tar.gz archive (e.g. Kaggle's) instead."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Copy the embedded data; no network.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Fetch files again even if present and valid.")] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for a connection or for data.")] = 30.0,
    retries: Annotated[int, typer.Option(min=1, max=10, help="Attempts per mirror on transient faults.")] = 3,
    json_output: JsonOption = False,
) -> None:
    """Fetch the four MNIST files from mirrors, a local folder or archive, or the embedded copy.

    Every file is checked by the SHA-256 of its decompressed content and written under its final name
    only once complete and valid. Files already present and valid are skipped.
    """
    from ..data.download import DownloadOptions, copy_embedded, import_from, no_mirror_reachable
    from ..data.download import download as fetch
    from ..reporting.console import RichDownloadListener, download_table, make_console

    if sum([offline, from_path is not None, bool(mirror)]) > 1:
        raise ConfigError("--offline, --from and --mirror exclude each other", hint="choose one source")
    console = make_console(json_output)
    progress = RichDownloadListener.make_progress(make_console(True))
    listener = RichDownloadListener(progress)
    with progress:
        if offline:
            outcomes = copy_embedded(data_dir, force=force, listener=listener)
        elif from_path is not None:
            outcomes = import_from(from_path, data_dir, force=force, listener=listener)
        else:
            options = DownloadOptions(data_dir, tuple(mirror) if mirror else DownloadOptions.mirrors, force, timeout, retries)
            outcomes = fetch(options, listener=listener)
    failed = [o for o in outcomes if not o.ok]
    if json_output:
        _emit_json({"data_dir": str(data_dir), "ok": not failed, "files": [vars(o) for o in outcomes]})
    else:
        console.print(download_table(outcomes))
    if failed:
        names = ", ".join(o.filename for o in failed)
        offline_command = "mnist download --offline" + ("" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {shlex.quote(str(data_dir))}")
        hint = f"run `{offline_command}` to copy the embedded data instead"
        if not (offline or from_path) and no_mirror_reachable(outcomes):
            hint = f"no mirror could be reached (no network?); {hint}"
        if offline:
            hint = "the package's embedded copy is damaged: reinstall the package (`poetry install`)"
        elif not (from_path or json_output) and sys.stdin.isatty():
            if typer.confirm("Every source failed for some files. Copy the embedded MNIST instead?", default=True):
                outcomes = copy_embedded(data_dir, force=False)
                if all(o.ok for o in outcomes):
                    console.print(download_table(outcomes))
                    return
                hint = "the package's embedded copy is damaged too: reinstall the package (`poetry install`)"
        raise DownloadError(f"could not obtain a valid {names}", hint=hint)

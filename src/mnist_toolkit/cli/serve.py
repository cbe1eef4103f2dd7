"""`mnist serve`: a local page to draw digits on, and its JSON API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import CheckpointOption, EngineOption, NoDigitCheckOption, RunOption, RunsDirOption

AllowHostOption = Annotated[Optional[list[str]], typer.Option(
    "--allow-host", show_default=False, metavar="NAME",
    help="Another name or address clients may reach the server by (repeatable). Requests must name the server "
         "(no DNS rebinding) and posts may come only from its own page: allowed are the --host address and loopback, "
         "or with --host 0.0.0.0 or :: this machine's host name, full name and their addresses.")]  # fmt: skip


@app.command()
def serve(
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback exposes the server to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    allow_host: AllowHostOption = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    engine: EngineOption = "auto",
    no_digit_check: NoDigitCheckOption = False,
) -> None:
    """Serve a page to draw digits on (prediction, probabilities, the 28x28 input, feature maps, saliency) and a JSON API."""
    import uvicorn

    from ..errors import ConfigError
    from ..inference.loading import locate
    from ..serving.app import create_app
    from ..serving.catalog import SELECTED_ID, ModelCatalog
    from ..serving.limits import ServerLimits
    from ..serving.protocol import server_config
    from ..serving.security import LOOPBACK_HOSTS, WILDCARD_HOSTS, machine_names

    extra = tuple(name.strip().lower().strip("[]") for name in allow_host or ())
    if any(not name or "*" in name or "/" in name for name in extra):
        raise ConfigError(f"--allow-host takes a host name or address, not {next(n for n in extra if not n or '*' in n or '/' in n)!r}")
    pinned = locate(run, checkpoint, runs_dir) if (run is not None or checkpoint is not None) else None
    catalog = ModelCatalog(runs_dir, default=SELECTED_ID if pinned else None, engine=engine, pinned=pinned, digit_check=not no_digit_check)
    entries = catalog.entries()
    default = catalog.entry(None)
    catalog.model(default.id)  # load (and check) the default model before listening
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    limits = ServerLimits()
    unchecked = "" if not no_digit_check else '; no "not a digit" check unless a request asks'
    print(f"Serving {url}  (model: {default.label}; {len(entries)} model(s) to pick from; "
          f"{limits.readings} reading(s) at once{unchecked}; Ctrl-C stops)", file=sys.stderr)  # fmt: skip
    if host not in LOOPBACK_HOSTS:
        print(f"Warning: listening on {host}, not only on this machine: anyone who can reach it can use the API.", file=sys.stderr)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    # Requests must name this server (no DNS rebinding), also when it listens on every address.
    names = machine_names() if host in WILDCARD_HOSTS else (host.lower().strip("[]"), *LOOPBACK_HOSTS)
    allowed = tuple(dict.fromkeys((*names, *extra)))
    _log_to_stderr()
    server_app = create_app(catalog, allowed_hosts=allowed, port=port or None, limits=limits)  # port 0: the one the system picks
    uvicorn.Server(server_config(server_app, host, port, log_level="warning")).run()


def _log_to_stderr() -> None:
    """The server's own log lines (a broken model, a client gone mid-upload) on stderr, one line each."""
    logger = logging.getLogger("mnist_toolkit.serving")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

"""`mnist serve`: a local page to draw digits on, and its JSON API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import app
from .options import CheckpointOption, EngineOption, RunOption, RunsDirOption

@app.command()
def serve(
    run: RunOption = None,
    checkpoint: CheckpointOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback exposes the server to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    engine: EngineOption = "auto",
) -> None:
    """Serve a page to draw digits on (prediction, probabilities, the 28x28 input, feature maps, saliency) and a JSON API."""
    import uvicorn

    from ..inference.loading import locate
    from ..serving.app import create_app
    from ..serving.catalog import ModelCatalog
    from ..serving.security import LOOPBACK_HOSTS

    pinned = locate(run, checkpoint, runs_dir) if (run is not None or checkpoint is not None) else None
    catalog = ModelCatalog(runs_dir, default="selected" if pinned else None, engine=engine, pinned=pinned)
    entries = catalog.entries()
    default = catalog.entry(None)
    catalog.model(default.id)  # load (and check) the default model before listening
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    print(f"Serving {url}  (model: {default.label}; {len(entries)} model(s) to pick from; Ctrl-C stops)", file=sys.stderr)
    if host not in LOOPBACK_HOSTS:
        print(f"Warning: listening on {host}, not only on this machine: anyone who can reach it can use the API.", file=sys.stderr)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    # Requests must name this server (no DNS rebinding); listening on every address accepts any name.
    allowed = ("*",) if host in ("0.0.0.0", "::", "") else tuple(dict.fromkeys((host, *LOOPBACK_HOSTS)))
    uvicorn.run(create_app(catalog, allowed_hosts=allowed), host=host, port=port, log_level="warning")

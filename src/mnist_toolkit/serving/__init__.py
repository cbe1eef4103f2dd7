"""`mnist serve`: the Starlette app with its JSON API and the draw-a-digit page (`web/`), over the
models the catalog finds."""

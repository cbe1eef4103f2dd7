"""`mnist serve`: the Starlette app with its JSON API and the draw-a-digit page (`web/`), over the
models the catalog finds. `app` (routes, errors), `catalog` (the models, broken ones kept apart),
`answers` (what a reading returns), `security` (Host and Origin checks, security headers), `limits`
(readings at once, body size, time limits), `protocol` (uvicorn with those time limits), `errors`
(the API's errors, messages without paths or terminal codes)."""

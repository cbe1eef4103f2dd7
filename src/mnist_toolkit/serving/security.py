"""Requests must name this server (no DNS rebinding), and only its own page may post to it."""

from __future__ import annotations


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class SameHostOnly:
    """ASGI middleware: answer only requests addressed to an allowed host name (a web page that
    rebinds its own DNS name to 127.0.0.1 gets 400), and refuse a POST that a page from another
    origin sends (403): only this server's own page may post to it."""

    def __init__(self, app, allowed_hosts: tuple[str, ...]) -> None:
        self.app, self.allowed = app, {h.lower().strip("[]") for h in allowed_hosts}

    @staticmethod
    def _host(value: str) -> str:
        value = value.lower()
        if value.startswith("["):
            return value[1 : value.find("]")] if "]" in value else value
        return value.rsplit(":", 1)[0] if value.count(":") == 1 else value

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and "*" not in self.allowed:
            from starlette.responses import JSONResponse

            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            host = self._host(headers.get("host", ""))
            if host not in self.allowed:
                await JSONResponse({"error": f"unexpected Host {host!r}"}, status_code=400)(scope, receive, send)
                return
            origin = headers.get("origin")
            if scope.get("method") == "POST" and origin and origin != "null":
                origin_host = self._host(origin.split("://", 1)[-1].split("/", 1)[0])
                if origin_host not in self.allowed:
                    await JSONResponse({"error": "cross-origin request refused"}, status_code=403)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

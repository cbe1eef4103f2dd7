"""Requests must name this server (no DNS rebinding), only its own page may post to it, and every
answer carries the headers that keep the page from being framed, sniffed or fed foreign scripts.

The Host check: a request's Host must be one of the allowed names, also when the server listens on
every address (`--host 0.0.0.0` or `::`): then the allowed names are the machine's own (`machine_names`:
its host name, its fully qualified name, the addresses these resolve to locally, loopback) plus those
given with `mnist serve --allow-host`. A client that reaches the machine by another name or address
(a DNS alias, a second network interface) needs that name passed with --allow-host.

The Origin check: a request that may change something (anything but GET, HEAD and OPTIONS) and carries
an Origin header is accepted only from the page's own origin: scheme http, an allowed name, and the
port this server listens on. `Origin: null` (sandboxed frames, file:// pages) is refused too. Requests
without Origin (curl, scripts, the CLI's own tests) are accepted: browsers always send it on a POST
made by a page, which is what the check is for.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Addresses meaning "every interface": the Host check then allows the machine's own names.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
#: Methods that only read: no Origin check (the same-origin policy already keeps their answers from
#: other pages' scripts).
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

#: The page loads only its own files; it draws on a canvas and shows the answers' PNGs as data: URLs.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "img-src 'self' data:", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
    "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "object-src 'none'",
))  # fmt: skip
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def machine_names(hostname: str | None = None) -> tuple[str, ...]:
    """This machine's own names: loopback, its host name, its fully qualified name and the addresses
    they resolve to through the local resolver (the hosts file, or the system's DNS cache: nothing is
    sent anywhere but the resolver the system already uses; a name that does not resolve is skipped)."""
    names = [*LOOPBACK_HOSTS]
    hostname = hostname if hostname is not None else socket.gethostname()
    for name in (hostname, _fqdn(hostname)):
        if not name:
            continue
        names.append(name)
        try:
            names += [str(info[4][0]) for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)]
        except (OSError, UnicodeError):
            continue
    return tuple(dict.fromkeys(name.lower().split("%", 1)[0] for name in names))


def _fqdn(hostname: str) -> str:
    try:
        return socket.getfqdn(hostname)
    except (OSError, UnicodeError):
        return ""


def _host_of(value: str) -> str:
    """The host of a Host header ("[::1]:8000" -> "::1", "localhost:8000" -> "localhost")."""
    value = value.lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SameHostOnly:
    """ASGI middleware: answer only requests addressed to an allowed host name (a page that rebinds
    its own DNS name to this machine gets 400), and refuse a request with a foreign Origin (403).

    Args:
        app: the ASGI app it guards.
        allowed_hosts: the names (or addresses) requests may be addressed to.
        port: the port the page is served on (None: the port each request came in on, from the
            ASGI scope; Starlette's TestClient says 80).
    """

    def __init__(self, app, allowed_hosts: tuple[str, ...], port: int | None = None) -> None:
        self.app, self.port = app, port
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}

    def _own_origin(self, origin: str, scope) -> bool:
        try:
            parts = urlsplit(origin)
            origin_port = parts.port or (80 if parts.scheme == "http" else None)
        except ValueError:  # a port that is not a number
            return False
        served = self.port if self.port is not None else (scope.get("server") or (None, None))[1]
        return (parts.scheme == scope.get("scheme", "http") == "http" and (parts.hostname or "") in self.allowed
                and origin_port == served and not parts.username and parts.path in ("", "/"))  # fmt: skip

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            host = _host_of(headers.get("host", ""))
            if host not in self.allowed:
                refusal = {"error": f"unexpected Host {host[:100]!r}; a name the server does not know (`mnist serve --allow-host NAME`)"}
                await JSONResponse(refusal, status_code=400)(scope, receive, send)
                return
            origin = headers.get("origin")
            if scope.get("method") not in SAFE_METHODS and origin is not None and not self._own_origin(origin, scope):
                await JSONResponse({"error": "cross-origin request refused"}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: every answer (the page, static files, JSON, errors) carries SECURITY_HEADERS."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

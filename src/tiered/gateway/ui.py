"""GET /ui: the operator's dashboard, static files shipped in the package (`ui_static/`), no build step, no CDN.

The files hold no data: the page asks for an admin key, keeps it in the tab's sessionStorage, and
fetches every figure from `/v1/tiered/dashboard/*` (`tiered.gateway.admin`) with it. So the files are
served without a key, with a strict Content-Security-Policy (same origin only).
"""

from __future__ import annotations

from importlib import resources

from tiered.gateway.wire import HttpError, Scope, Send

_TYPES = {".html": b"text/html; charset=utf-8", ".js": b"text/javascript; charset=utf-8",
          ".css": b"text/css; charset=utf-8", ".svg": b"image/svg+xml"}
_FILES = ("index.html", "app.js", "style.css")
CSP = b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'"


async def serve(path: str, scope: Scope, send: Send) -> None:
    if scope["method"] != "GET":
        raise HttpError(405, "invalid_request_error", f"Method {scope['method']} not allowed for {path}; use GET",
                        [(b"allow", b"GET")])
    name = path.removeprefix("/ui").lstrip("/") or "index.html"
    if name not in _FILES:
        raise HttpError(404, "not_found_error", f"Not found: GET {path}")
    body = resources.files("tiered.gateway").joinpath("ui_static", name).read_bytes()
    suffix = name[name.rfind("."):]
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", _TYPES[suffix]), (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CSP), (b"cache-control", b"no-cache"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})

"""The web board at `/`: one page of HTML, CSS and plain JavaScript over the API.

The page is a few files shipped inside the package (`gateway/http/static/`), served as
they are: no build step, no framework, nothing fetched from another site. Every answer
carries a strict Content-Security-Policy (scripts and styles only from these files, no
inline code, no framing), so even a card title that slipped into the page as markup
could not run; the script never renders card text as HTML in the first place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

STATIC = Path(__file__).resolve().parent / "static"
INDEX = "index.html"

#: What the page may load: its own files, its own API (fetch and event streams), nothing
#: inline, nothing from elsewhere; and no other site may show it inside a frame.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    # Always ask again, but an unchanged file costs a 304 (the ETag) and no body.
    "cache-control": "no-cache",
}

#: Media types by suffix; a file of any other kind in static/ is not served.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the page, read once: its bytes, media type and ETag."""

    body: bytes
    media_type: str
    etag: str

    @classmethod
    def load(cls, path: Path) -> Asset:
        """The file at `path`."""
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(body, MEDIA_TYPES[path.suffix], f'"{digest}"')

    def response(self, request: Request) -> Response:
        """The file, or 304 when the browser already holds this version."""
        headers = {**HEADERS, "etag": self.etag}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def assets(folder: Path = STATIC) -> dict[str, Asset]:
    """The page's files by name: everything in `folder` of a kind the page uses."""
    return {
        path.name: Asset.load(path)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in MEDIA_TYPES
    }


def page_routes() -> list[BaseRoute]:
    """The page at `/` and its files under `/static/`."""
    files = assets()
    page = files.pop(INDEX)

    async def index(request: Request) -> Response:
        return page.response(request)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        asset = files.get(name)
        if asset is None:
            served = ", ".join(f"/static/{n}" for n in files)
            message = f"the page has no file {name!r}; its files are {served}"
            return JSONResponse({"error": message}, status_code=404)
        return asset.response(request)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{name}", static, methods=["GET", "HEAD"]),
    ]

"""The studio's HTTP side: a Starlette app over one Session (session.py) and its Media (media.py).

Every route names a thing of this recording only (a phrase by its number, the output, the script),
never a path: nothing the client sends becomes a file name, so there is no path to traverse. The
page's own files come from the package's static folder through Starlette's StaticFiles, which
refuses any path outside it. A token (``--host`` other than loopback) is checked on every request;
on loopback the Host header must name the loopback (a page elsewhere cannot reach this one through
DNS rebinding), and a POST must come from the studio's own page (same origin, JSON)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..text.subtitles import format_srt, format_vtt, read_cues
from .media import PAD_S, Media
from .session import Edit, Session
from .state import NOTE

STATIC = Path(__file__).with_name("static")
COOKIE = "studio_token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class Guard(BaseHTTPMiddleware):
    """The token (when one is set) from ``?token=`` (then kept in a cookie) or the cookie; else the
    Host header must be the loopback."""

    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method == "POST" and not same_origin(request):
            return PlainTextResponse("forbidden: a re-dub is asked from the studio's own page only", status_code=403)
        if self.token is None:
            host = (request.headers.get("host") or "").rsplit(":", 1)[0]
            if host not in LOOPBACK_HOSTS:
                return PlainTextResponse("forbidden: open the studio at 127.0.0.1", status_code=403)
            return await call_next(request)
        given = request.query_params.get("token")
        if not secrets.compare_digest(given or request.cookies.get(COOKIE, ""), self.token):
            return PlainTextResponse("forbidden: open the address `voice studio` printed, with its token",
                                     status_code=403)
        response = await call_next(request)
        if given:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


def same_origin(request: Request) -> bool:
    """A POST from the studio's page: JSON (another site's form cannot send it without the browser asking
    this server first, which it does not allow) and, when the browser names the origin, this one."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return False
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


def _download_routes(session: Session) -> list[Route]:
    """The output (inline for the player, or as a download) and the saved script as SRT or WebVTT."""

    async def output(request: Request) -> Response:
        if session.run.result is None or not session.output.is_file():
            return PlainTextResponse("no output yet", status_code=404)
        attach = request.query_params.get("download") is not None
        return FileResponse(session.output, filename=session.output.name if attach else None,
                            content_disposition_type="attachment" if attach else "inline",
                            headers={"Cache-Control": "no-store"})

    async def script(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in ("srt", "vtt") or not session.state.exists():
            return PlainTextResponse("no such script", status_code=404)
        cues = read_cues(session.state.script)
        text = format_vtt(cues, NOTE.format(name=session.input.name)) if fmt == "vtt" else format_srt(cues)
        name = f"{session.output.stem}.script.{fmt}"
        return Response(text, media_type="text/vtt" if fmt == "vtt" else "application/x-subrip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return [Route("/output", output), Route("/script.{fmt:str}", script)]


def build_app(session: Session, token: str | None = None) -> Starlette:
    """The studio's routes over ``session``."""
    media = Media(session.input, session.output)

    def row(index: int) -> dict[str, Any]:
        rows = session.run.rows
        if not 0 <= index < len(rows):
            raise LookupError(index)
        return rows[index]

    def padded(index: int) -> tuple[float, float]:
        slot = row(index)["slot"]
        return max(0.0, slot[0] - PAD_S), slot[1] + PAD_S

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def state(request: Request) -> Response:
        return JSONResponse(session.snapshot())

    async def redub(request: Request) -> Response:
        body = await request.json()
        edits = [Edit(str(e["id"]), str(e.get("text", "")), e.get("speaker")) for e in body.get("edits", [])]
        voices = {str(k): str(v) for k, v in (body.get("voices") or {}).items()}
        ok = await run_in_threadpool(session.redub, edits, voices)
        return JSONResponse({"ok": ok, **session.snapshot()})

    async def undo(request: Request) -> Response:
        ok = await run_in_threadpool(session.undo)
        return JSONResponse({"ok": ok, **session.snapshot()})

    async def view(request: Request) -> Response:
        index = request.path_params["index"]
        try:
            span = padded(index)
        except LookupError:
            return PlainTextResponse("no such phrase", status_code=404)
        data = await run_in_threadpool(media.view, session.run.version, index, span)
        return JSONResponse(data)

    async def audio(request: Request) -> Response:
        which, index = request.path_params["which"], request.path_params["index"]
        try:
            span = padded(index)
        except LookupError:
            return PlainTextResponse("no such phrase", status_code=404)
        if which not in ("original", "new"):
            return PlainTextResponse("no such audio", status_code=404)
        data = await run_in_threadpool(media.slice, which, session.run.version, span)
        return Response(data, media_type="audio/wav", headers={"Cache-Control": "no-store",
                                                                "X-Slot-Start": f"{span[0]:.4f}"})

    routes = [
        Route("/", page),
        Route("/api/state", state),
        Route("/api/redub", redub, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/view/{index:int}", view),
        Route("/audio/{which:str}/{index:int}.wav", audio),
        *_download_routes(session),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token)])

"""Serving the studio: uvicorn on a socket bound here (so a taken port is one clear line, and port 0
picks a free one), in a thread of its own; the main thread keeps the project's interrupt handling
(interrupt.py). Ctrl-C then stops a re-dub the way it stops `voice convert`: the run stores nothing
unfinished and writes no output, the studio's script is restored, and the server closes."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import webbrowser
from dataclasses import dataclass

from ..errors import VoiceError
from .server import build_app
from .session import Session

LOOPBACK = "127.0.0.1"


@dataclass
class Address:
    host: str
    port: int
    token: str | None

    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/" + (f"?token={self.token}" if self.token else "")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one line saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise VoiceError(f"--port {port} on {host}: {exc.strerror or exc}; give another port with --port, "
                         "or --port 0 for any free one") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


class Studio:
    """The server of one session, started in a thread."""

    def __init__(self, session: Session, host: str = LOOPBACK, port: int = 0) -> None:
        import uvicorn

        self.session = session
        token = None if host == LOOPBACK else secrets.token_urlsafe(18)
        self.sock = bind(host, port)
        self.address = Address(host, self.sock.getsockname()[1], token)
        config = uvicorn.Config(build_app(session, token), log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="studio-http",
                                       daemon=True)

    def start(self, open_browser: bool) -> str:
        """Start serving (and the session's first run); returns the page's address."""
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            time.sleep(0.02)
        self.session.start()
        url = self.address.url()
        if open_browser:
            webbrowser.open(url)
        return url

    def wait(self) -> bool:
        """Serve until Ctrl-C (or SIGTERM) or the server stops; True when the stop cut a run short."""
        busy = False
        try:
            while self.thread.is_alive():
                self.thread.join(0.25)
        except KeyboardInterrupt:
            busy = self.session.run.status in ("converting", "redubbing")
        finally:
            self.stop()
        return busy

    def stop(self) -> None:
        """Close the server and wait for a run in progress (it stops at its next check once an
        interrupt was requested, storing nothing unfinished)."""
        self.server.should_exit = True
        for thread in (self.session.worker, self.session.warming):
            if thread is not None:
                thread.join()
        with self.session.lock:  # a re-dub in a request thread finishes (or stops) first
            pass
        warming = self.session.warming  # one that run started meanwhile
        if warming is not None:
            warming.join()
        self.thread.join(5)
        self.sock.close()

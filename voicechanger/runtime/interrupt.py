"""Stopping a run cleanly on SIGINT or SIGTERM.

Only this Python process reacts to the terminal's signals: engine processes (Festival, ffmpeg) are
started in a process group of their own (``CHILD``), so a Ctrl-C or a ``kill -- -PGID`` never reaches
them, and they are stopped by us instead. A signal sets one process-wide flag and raises
``Interrupted`` in the main thread; the other threads (the voice thread, a folder's workers) see the
flag at their next check: before a node runs, before an artifact is renamed into the store, before an
output is renamed into place, and while waiting on an engine process. So an interrupted run stores
nothing after the signal and writes no output.
"""

from __future__ import annotations

import shutil
import signal
import threading
from typing import IO, Any

from ..errors import Interrupted

# Popen keyword arguments for every engine process: a session, so a process group, of its own (see the
# module doc). Not process_group=0: that needs Python 3.11, and none of them needs the terminal.
CHILD: dict[str, Any] = {"start_new_session": True}


def dies_with_us(command: list[str]) -> list[str]:
    """``command`` started so that the kernel kills it when the thread that starts it dies, a kill -9 of
    this process included (util-linux's setpriv --pdeathsig, where there is one): in a group of its own
    nothing else would stop it. Only for a child that its starting thread waits for, since the signal
    follows that thread, not the process."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command



def piped(stream: IO[bytes] | None) -> IO[bytes]:
    """A child's stream opened with subprocess.PIPE: never None (this tells the type checker so)."""
    if stream is None:
        raise ValueError("the child process was not started with this stream piped")
    return stream


_stop = threading.Event()
_signum: int = signal.SIGINT
_local = threading.local()  # .deferring: the main thread is in a block a signal must not cut short


def request_stop(signum: int = signal.SIGINT) -> None:
    """Ask every thread to stop at its next check."""
    global _signum
    _signum = signum
    _stop.set()


def stopping() -> bool:
    return _stop.is_set()


def signal_number() -> int:
    """The signal of the stop request (SIGINT when none came)."""
    return int(_signum)


def check() -> None:
    """Raise Interrupted when a stop was requested."""
    if _stop.is_set():
        raise Interrupted(_signum)


def reset() -> None:
    """Forget an earlier stop (a new run in the same process, e.g. in tests)."""
    _stop.clear()


def _handler(signum: int, _frame: Any) -> None:
    request_stop(signum)
    if not getattr(_local, "deferring", False):
        raise Interrupted(signum)


class deferred:
    """A block that a signal must not cut in two (making or removing a work folder): a signal that
    comes meanwhile only sets the stop flag, and Interrupted is raised when the block ends (unless
    another exception is already on its way out)."""

    def __enter__(self) -> None:
        self._outer = getattr(_local, "deferring", False)
        _local.deferring = True

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        _local.deferring = self._outer
        if exc_type is None and not self._outer:
            check()


def install() -> None:
    """From now on SIGINT and SIGTERM raise Interrupted in the main thread (after setting the flag). A
    signal the process was started ignoring (a background job's SIGINT, nohup) stays ignored."""
    reset()
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handler)


def settle() -> None:
    """The run's output is complete: SIGINT and SIGTERM are ignored from now on (main thread only), so
    that a Ctrl-C while the summary prints neither says 'no output written' nor exits 130."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)

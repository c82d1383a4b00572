"""User-facing errors: one line that names the thing and says what to do."""

from __future__ import annotations

import signal


class VoiceError(Exception):
    """A problem with the input, a setting or the environment that the user can fix.

    The CLI prints ``str(error)`` as one line and exits non-zero, without a traceback
    (unless ``--debug``). The message must name the thing (file, key, voice, model) and
    say what to do about it.
    """

    exit_code = 2


class InputError(VoiceError):
    """A bad input recording (missing, empty, corrupt, not audio, silent)."""

    exit_code = 3


class EngineError(VoiceError):
    """An engine process died, hung or was interrupted. The stage fails and nothing is stored: a rerun
    tries again (unlike a phrase that cannot be said, which is a property of the text)."""

    exit_code = 4


class StoreWriteError(VoiceError):
    """The store could not take an artifact (full disk, quota, file size limit); nothing was stored."""

    exit_code = 5


class UnsaidPhrases(VoiceError):
    """``--strict``: some phrases have nothing the voice can say; no output was written."""

    exit_code = 6


def error_message(exc: BaseException) -> str:
    """The one line a user reads for ``exc``: a VoiceError's own message, else its type and text (a bug
    or an environment problem, worth naming as such)."""
    if isinstance(exc, VoiceError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def os_reason(exc: OSError) -> str:
    """Why a system call failed, in words: "No space left on device", else the error's text or type."""
    return exc.strerror or str(exc) or type(exc).__name__


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM. A KeyboardInterrupt, so no ``except Exception`` turns it
    into a per-item failure; nothing more is stored or written once it is raised."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

"""User-facing errors: one line that names the thing and says what to do."""

from __future__ import annotations

import signal

# Exit codes, defined here only: the classes below carry them, `voice ... --help` and the README's
# table are made from EXIT_MEANINGS (tests/test_errors.py checks the README against exit_table()).
DONE, FAILED, BAD_SETTING, BAD_INPUT, ENGINE_FAILED, STORE_FULL, UNSAID = range(7)
EXIT_MEANINGS: dict[str, str] = {
    str(DONE): "done; warnings, if any, are printed after the summary",
    str(FAILED): "in a folder, at least one recording failed (the others finished; the table says why); or an "
                 "unexpected error (`--debug` shows the traceback)",
    str(BAD_SETTING): "a bad setting, option or environment: profile, voice, model, language, output path, cache or "
                      "temp folder, a full disk",
    str(BAD_INPUT): "a bad input recording: missing, empty, corrupt, not audio, silent",
    str(ENGINE_FAILED): "an engine process (Festival, ffmpeg) died, hung or was interrupted: rerun",
    str(STORE_FULL): "the cache could not be written (a full disk: free space, or `--cache-dir`)",
    str(UNSAID): "`--strict`, and phrases the voice cannot say",
    f"{128 + signal.SIGINT} / {128 + signal.SIGTERM}": "interrupted by SIGINT (Ctrl-C) / SIGTERM; finished stages "
                                                      "stay cached, rerun to resume",
}


def exit_help() -> str:
    """The exit codes in one paragraph, for ``--help``."""
    return "Exit codes: " + "; ".join(f"{code}: {meaning.replace('`', '')}" for code, meaning in EXIT_MEANINGS.items()) + "."


def exit_table() -> str:
    """The exit codes as the README's Markdown table."""
    rows = [f"| {code} | {meaning} |" for code, meaning in EXIT_MEANINGS.items()]
    return "\n".join(["| exit | meaning |", "|---:|---|", *rows])


class VoiceError(Exception):
    """A problem with the input, a setting or the environment that the user can fix.

    The CLI prints ``str(error)`` as one line and exits non-zero, without a traceback
    (unless ``--debug``). The message must name the thing (file, key, voice, model) and
    say what to do about it.
    """

    exit_code = BAD_SETTING


class InputError(VoiceError):
    """A bad input recording (missing, empty, corrupt, not audio, silent)."""

    exit_code = BAD_INPUT


class EngineError(VoiceError):
    """An engine process died, hung or was interrupted. The stage fails and nothing is stored: a rerun
    tries again (unlike a phrase that cannot be said, which is a property of the text)."""

    exit_code = ENGINE_FAILED


class StoreWriteError(VoiceError):
    """The store could not take an artifact (full disk, quota, file size limit); nothing was stored."""

    exit_code = STORE_FULL


class UnsaidPhrases(VoiceError):
    """``--strict``: some phrases have nothing the voice can say; no output was written."""

    exit_code = UNSAID


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

"""The `voice` command's shared parts: the Typer apps, the consoles, how errors and notices are
printed, and the options every command reads. The commands live beside it (convert, cache, edit,
voice_list); the local runner is the default, with no Prefect import on that path."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..config import Settings
from ..errors import FAILED, Interrupted, VoiceError, error_message, exit_help
from ..runtime import interrupt

if TYPE_CHECKING:  # imported where used: `voice --help` loads no pipeline
    from ..notices import Notice

EXIT_HELP = exit_help()
DEFAULTS = Settings()  # what every built-in profile leaves these at
CACHE_DIR_HELP = "The artifact store (default ./cache, or $VOICECHANGER_CACHE)."
# Paths and recognised text are user data: never wrapped (scripts read the output path from stdout), never
# turned into emoji (":a:" in "-map 0:a:1" would print as a picture), and
# escaped wherever a line also carries markup, so "talk [draft].mp3" prints as it is.
console = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)
out = Console(soft_wrap=True, highlight=False, emoji=False)


def _version(value: bool) -> None:
    if value:
        out.print(f"voice {__version__}")
        raise typer.Exit()


app = typer.Typer(add_completion=False, no_args_is_help=True, help="Re-voice Russian speech recordings.")
cache_app = typer.Typer(no_args_is_help=True, help="Inspect or prune the artifact store.")
app.add_typer(cache_app, name="cache")


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Re-voice Russian speech recordings."""


def _profile(profile: Optional[str], quality: Optional[str]) -> str:
    """--quality is another spelling of --profile: giving both (even equal) is refused, not resolved."""
    if profile is not None and quality is not None:
        raise VoiceError(f"--profile {profile} and --quality {quality}: give one of them (--quality is an alias)")
    return profile or quality or "normal"


def _settings(profile: str, **overrides: Any) -> Settings:
    from ..config import load_settings

    return load_settings(profile, overrides)


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        console.print_exception()
    message = error_message(exc)
    if not isinstance(exc, VoiceError):
        message += "; rerun with --debug for details"
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(exc.exit_code if isinstance(exc, VoiceError) else FAILED)


def _interrupted(exc: KeyboardInterrupt) -> None:
    console.print(f"[bold red]{escape(str(exc) or 'interrupted')}[/]: no output written, nothing unfinished stored; "
                  "rerun to resume from the finished stages")
    raise typer.Exit(getattr(exc, "exit_code", 130))


@contextmanager
def _running(debug: bool) -> Iterator[None]:
    """A command that does work: logging at the asked level, SIGINT and SIGTERM stopping it cleanly
    (nothing unfinished stored, no output written), any failure one line and its exit code."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(message)s")
    interrupt.install()
    with _one_line_errors(debug):
        yield


@contextmanager
def _one_line_errors(debug: bool) -> Iterator[None]:
    """A command's body: any failure is one line and its exit code, Ctrl-C a clean stop."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except Exception as exc:  # one line for the user, the traceback only with --debug
        if interrupt.stopping():  # a consequence of the stop (a C extension turned it into an ImportError)
            _interrupted(Interrupted(interrupt.signal_number()))
        _fail(exc, debug)


def _notices(notices: list[Notice]) -> None:
    for notice in notices:
        console.print(f"[bold yellow]{notice.severity}:[/] {escape(notice.text)}")

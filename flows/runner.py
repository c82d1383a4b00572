"""The Prefect runner: ``voice convert --prefect`` runs the flow ``voice`` (flows/voice.py) in this process.

Registered as ``prefect`` in the entry point group ``voicechanger.runners`` (pyproject.toml); the core
finds it through voicechanger.runners and never imports this package. Without PREFECT_API_URL, Prefect
starts a temporary local server in this process (20-40 s here); with it, the run shows up in that
server's UI.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from voicechanger.config import Settings
from voicechanger.errors import DONE, FAILED, VoiceError, error_message
from voicechanger.runners.handoff import overrides_for

# Set before Prefect is imported: offline here, and its ephemeral server needs more than the default 20 s.
_PREFECT_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


class _OneLineUserErrors(logging.Filter):
    """On the terminal a user error (bad input, setting) is one line, as on the local path; the
    traceback still reaches the Prefect server's logs (its handler sees the record first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], VoiceError):
            record.exc_info = None
            record.exc_text = None
        return True


def _terminal_logging() -> None:
    """Prefect's log lines through the CLI's stderr handler, in Prefect's format (run and task names)."""
    from prefect.logging.formatters import PrefectFormatter

    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    formatter = PrefectFormatter(
        "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s",
        "%H:%M:%S",
        flow_run_fmt="%(asctime)s.%(msecs)03d | %(levelname)-7s | Flow run %(flow_run_name)r - %(message)s",
        task_run_fmt="%(asctime)s.%(msecs)03d | %(levelname)-7s | Task run %(task_run_name)r - %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setFormatter(formatter)
            if not debug:
                handler.addFilter(_OneLineUserErrors())


class PrefectRunner:
    """voicechanger.runners.Runner over the flow ``voice``."""

    def run(self, input: Path | str, output: Path | str, *, profile: str, settings: Settings,
            cache_dir: Path | str, output_format: str = "mp3",
            script: Path | str | None = None) -> int:
        """Run the flow in this process; return the exit code (0 ok, 1 some files failed, or the code of
        the one input's error)."""
        for name, value in _PREFECT_ENV.items():
            os.environ.setdefault(name, value)
        try:
            from flows.voice import voice
        except ImportError as exc:   # Prefect (or prefect-dask) missing: one line, as on the local path
            raise VoiceError(f"--prefect: cannot load the Prefect flow ({exc}); install the project with its "
                             "dependencies (pip install -e .)") from None

        _terminal_logging()
        state = voice(
            input=str(input), output=str(output), profile=profile, overrides=overrides_for(settings, profile),
            cache_dir=str(cache_dir), output_format=output_format, script=str(script) if script else None,
            return_state=True,
        )
        if state.is_completed():
            summary = state.result()
            print(f"prefect: {summary['converted']} converted, {summary['cached']} cached, {summary['failed']} "
                  f"failed in {summary['seconds']:.1f} s", file=sys.stderr)
            for item in summary["recordings"]:
                print(item["output"])
            return DONE
        error = state.result(raise_on_failure=False)
        if not isinstance(error, BaseException):
            print(f"error: {state.message}", file=sys.stderr)
            return FAILED
        print(f"error: {error_message(error) or state.message}", file=sys.stderr)
        return getattr(error, "exit_code", FAILED)

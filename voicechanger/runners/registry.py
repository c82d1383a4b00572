"""What a runner is, and where the core finds one by name.

A runner takes a conversion (one recording or a folder) and returns an exit code. The local runner is
the core's own (cli.py → local / batch); other runners live outside the core and register
themselves in the entry point group ``voicechanger.runners`` (pyproject.toml), so the core never
imports the orchestration layer: ``voice convert --prefect`` looks up the runner named ``prefect``.
"""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..config import Settings
from ..errors import VoiceError

GROUP = "voicechanger.runners"
# A source checkout whose installed metadata predates the group still declares it here.
_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


class RunnerNotFound(VoiceError):
    """The runner asked for is neither registered nor importable."""


@runtime_checkable
class Runner(Protocol):
    """Runs one conversion; ``profile`` is the profile's name (or a resolved path) and ``settings`` the
    settings after the CLI's overrides."""

    def run(self, input: Path | str, output: Path | str, *, profile: str, settings: Settings,
            cache_dir: Path | str, output_format: str = "mp3",
            script: Path | str | None = None) -> int: ...


def _declared_in_checkout() -> dict[str, str]:
    """The group as pyproject.toml beside the package declares it (empty when there is none)."""
    if sys.version_info < (3, 11) or not _PYPROJECT.is_file():
        return {}
    import tomllib

    try:
        data = tomllib.loads(_PYPROJECT.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    group = data.get("project", {}).get("entry-points", {}).get(GROUP, {})
    return {str(k): str(v) for k, v in group.items()}


def registered() -> dict[str, str]:
    """Runner name → "module:attribute", from the installed metadata, else from the checkout."""
    found: dict[str, str] = {}
    for ep in entry_points(group=GROUP):   # in sys.path order: the first of a name is the one imported
        found.setdefault(ep.name, ep.value)
    return found or _declared_in_checkout()


def load_runner(name: str) -> Runner:
    """The runner registered as ``name``, instantiated; RunnerNotFound (one line) when it cannot be had."""
    target = registered().get(name)
    if target is None:
        raise RunnerNotFound(f"no runner '{name}' is registered (entry point group {GROUP}); "
                             "install the project with its flows (pip install -e .)")
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise RunnerNotFound(f"runner '{name}' ({target}) cannot be loaded: {exc}; "
                             "run from the project folder or install the project (pip install -e .)") from None
    runner = factory()
    if not isinstance(runner, Runner):
        raise RunnerNotFound(f"runner '{name}' ({target}) has no run() method")
    return runner

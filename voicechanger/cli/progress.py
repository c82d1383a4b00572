"""Progress on the terminal: one bar per stage, drawn from the runner's events."""

from __future__ import annotations

import os
import threading
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .app import console


class ProgressEvents:
    """Draws one bar per stage from the runner's events (thread-safe)."""

    def __init__(self, progress: Progress) -> None:
        from ..stages import STAGES

        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.totals: dict[str, int] = {}
        self.lock = threading.Lock()
        for stage in STAGES.names():
            self.tasks[stage] = progress.add_task(stage, total=None, visible=False)

    def planned(self, nodes: list) -> None:
        from ..stages import STAGES

        with self.lock:
            for stage in STAGES.names():
                count = sum(1 for n in nodes if n.name == stage)
                self.totals[stage] = self.totals.get(stage, 0) + count
                done = self.progress.tasks[self.tasks[stage]].completed
                self.progress.update(self.tasks[stage], total=max(self.totals[stage], done), visible=True)

    def started(self, node: Any) -> None:
        self.progress.update(self.tasks[node.name], description=escape(f"{node.name} {node.label if node.label != node.name else ''}"))

    def finished(self, node: Any, seconds: float, cached: bool) -> None:
        with self.lock:
            task = self.progress.tasks[self.tasks[node.name]]
            if task.total is None or task.completed < task.total:
                self.progress.advance(self.tasks[node.name])
            label = f"{node.name} (cached)" if cached else node.name
            self.progress.update(self.tasks[node.name], description=label, visible=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False, disable=not console.is_terminal and os.environ.get("VOICE_PROGRESS") != "1",
    )

"""One recording open in the studio: its conversion, its re-dubs, undo, and what the page shows.

An edit on the page is a `voice convert --script` run, nothing else: the edit is written into the
studio's script (state.py), and local.convert runs with that script into the same store, so only the
edited phrases are said again (their per-phrase memos miss; everything else is a cache hit) and the
CLI, Prefect and the studio share every artifact. Runs are serialised by one lock: two tabs that
re-dub at once run one after the other, each edit applied to the script as it is then, so neither
edit is lost. A failed run restores the script as it was and keeps the last good output (the output
is only ever replaced whole, by outputs.write_outputs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import Interrupted, VoiceError, error_message
from ..runners.lifecycle import Result
from ..runtime import interrupt
from ..store import Store
from ..text.script import script_cues
from ..text.subtitles import Cue, speaker_name
from .rows import cue_id, page_rows, stressed_phrases
from .state import NOTE, Snapshot, StudioState

SettingsFor = Callable[[dict[str, str]], Settings]  # the run's settings for the speakers' chosen voices


class StageProgress:
    """The runner's events (graph.Events) as counts per stage, for the page's progress bar."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stages: dict[str, list[int]] = {}  # stage -> [done, total]
        self.current = ""

    def planned(self, nodes: list[Any]) -> None:
        """A plan's nodes (the planner announces the front nodes, then all of them: counted once)."""
        counts: dict[str, int] = {}
        for node in nodes:
            counts[node.name] = counts.get(node.name, 0) + 1
        with self.lock:
            for name, count in counts.items():
                entry = self.stages.setdefault(name, [0, 0])
                entry[1] = max(entry[1], count)

    def started(self, node: Any) -> None:
        self.current = node.name

    def finished(self, node: Any, seconds: float, cached: bool) -> None:
        with self.lock:
            done = self.stages.setdefault(node.name, [0, 1])
            done[0] = min(done[0] + 1, max(done[1], done[0] + 1))

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {"stages": {k: list(v) for k, v in self.stages.items()}, "current": self.current}


@dataclass
class Edit:
    """One row changed on the page: its id (cue_id), the new text, and the speaker (None: unchanged)."""

    id: str
    text: str
    speaker: str | None = None


@dataclass
class Run:
    """What the page shows about the last run: its status and, once done, its result and rows."""

    status: str = "starting"  # starting, converting, redubbing, ready, failed
    error: str = ""
    seconds: float = 0.0
    version: int = 0  # bumped by every finished run: the page fetches audio again
    result: Result | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    progress: StageProgress = field(default_factory=StageProgress)


class Session:
    """The studio's model of one recording. ``convert`` is local.convert (a parameter for the tests)."""

    def __init__(self, input: Path, output: Path, store: Store, settings_for: SettingsFor,
                 convert: Callable[..., Result] | None = None) -> None:
        self.input, self.output, self.store = Path(input), Path(output), store
        self.settings_for = settings_for
        self.state = StudioState(self.output, self.input.name)
        self.lock = threading.Lock()  # one run at a time, whichever tab asked
        self.run = Run()
        self.worker: threading.Thread | None = None
        self._convert = convert
        self.warm = threading.Event()  # set once what a re-dub needs is loaded (see warm_up_next)
        self.warming: threading.Thread | None = None
        self._warmed_once = False

    # -- runs -----------------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Convert (or reopen) in the background; the page shows the progress meanwhile."""
        self.worker = threading.Thread(target=self.open, name="studio-open", daemon=True)
        self.worker.start()
        return self.worker

    def open(self) -> None:
        """The first run: from the saved script when a session left one (resuming its edits), else a
        plain conversion whose script is then saved."""
        with self.lock:
            reopened = self.state.exists()
            if not self._attempt("converting", self.state.script if reopened else None, self.state.voices()):
                return
            if not reopened and self.run.result is not None:
                cues = script_cues(stressed_phrases(self.run.result))
                self.state.save(cues, {})

    def redub(self, edits: list[Edit], voices: dict[str, str] | None = None) -> bool:
        """Apply the page's edits to the script as it is now and run it; False (and the reason in
        run.error) when it failed, the script and the output then being as before."""
        with self.lock:
            if not self.state.exists():
                self.run.error = "the recording is not converted yet; wait for the first run to finish"
                return False
            before = self.state.current()
            try:
                cues = apply_edits(self.state.cues(), edits)
            except VoiceError as exc:
                self.run.error = str(exc)
                return False
            chosen = {**before.voices, **(voices or {})}
            self.state.push(before)
            self.state.save(cues, chosen)
            if self._attempt("redubbing", self.state.script, chosen):
                return True
            self._back_to(before)
            return False

    def undo(self) -> bool:
        """Return to the state before the last edit, and run it (all from the cache)."""
        with self.lock:
            before = self.state.current()
            snapshot = self.state.pop()
            if snapshot is None:
                self.run.error = "nothing to undo"
                return False
            self.state.restore(snapshot)
            if self._attempt("redubbing", self.state.script, snapshot.voices):
                return True
            self.state.restore(before)
            self.state.push(snapshot)
            return False

    def _back_to(self, before: Snapshot) -> None:
        """A failed re-dub: the script as it was, and its history entry gone."""
        self.state.restore(before)
        self.state.pop()

    def _attempt(self, status: str, script: Path | None, voices: dict[str, str]) -> bool:
        """One local run (the caller holds the lock); False with run.error set when it failed."""
        from ..runners.local import convert as local_convert

        convert = self._convert or local_convert
        progress = StageProgress()
        last_good = self.run.result
        self.run = replace(self.run, status=status, error="", progress=progress)
        started = time.perf_counter()
        try:
            settings = self.settings_for(voices)
            result = convert(self.input, self.output, settings, self.store, progress, script=script)
            rows = page_rows(result, settings.voice)
        except (Exception, KeyboardInterrupt) as exc:  # the page shows the one line; Ctrl-C: the store stays whole
            failed = Interrupted(interrupt.signal_number()) if interrupt.stopping() else exc
            self.run = replace(self.run, status="ready" if last_good else "failed", error=error_message(failed),
                               seconds=time.perf_counter() - started)
            return False
        self.run = Run("ready", "", time.perf_counter() - started, self.run.version + 1, result, rows, progress)
        if self._convert is None:
            self.warm_up_next(settings)
        return True

    def warm_up_next(self, settings: Settings) -> None:
        """Load, while the user reads and edits, what the next re-dub needs: the voice's process (the
        run closed it; ~0.5 GB while the studio waits) and, once, the stress tables and the prosody and
        loudness imports. On a thread that takes the run lock: a re-dub asked meanwhile waits for it."""
        from ..runners.local import warm_up
        from ..stages import STAGES

        stages = [STAGES.synthesize] + ([] if self._warmed_once else [STAGES.stress, STAGES.prosody, STAGES.concat])
        self._warmed_once = True
        self.warm.clear()

        def load() -> None:
            with self.lock:
                try:
                    if not interrupt.stopping():
                        warm_up(stages, settings)
                except KeyboardInterrupt:  # a stop while Festival starts: the main thread closes the studio
                    pass
                finally:
                    self.warm.set()

        self.warming = threading.Thread(target=load, name="studio-warm-up", daemon=True)
        self.warming.start()

    # -- what the page reads ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The page's state (GET /api/state)."""
        from .words import summary_lines

        run = self.run
        result = run.result
        return {
            "status": run.status, "error": run.error, "seconds": round(run.seconds, 2), "version": run.version,
            "input": self.input.name, "output": self.output.name, "progress": run.progress.as_dict(),
            "rows": run.rows, "lines": summary_lines(result, self.input) if result else [],
            "notices": [n.as_dict() for n in result.notices] if result else [],
            "cast": result.cast if result else [], "voices": self.state.voices(),
            "undo": self.state.undo_depth(), "duration": result.duration if result else 0.0,
            "catalogue": catalogue_names(),
        }


def profile_settings(profile: str) -> SettingsFor:
    """The settings of ``profile`` with the voices chosen per speaker (a `--voice "Speaker 1=olga"`)."""

    def settings_for(voices: dict[str, str]) -> Settings:
        from ..config import load_settings

        mapping = ",".join(f"{speaker}={voice}" for speaker, voice in voices.items())
        return load_settings(profile, {"voice": mapping} if mapping else {})

    return settings_for


def catalogue_names() -> list[str]:
    """The catalogue's voices a speaker can be given on the page."""
    from ..voices.catalogue import catalogue

    return sorted(catalogue())


def apply_edits(cues: list[Cue], edits: list[Edit]) -> list[Cue]:
    """``cues`` with each edit's text (and speaker) put into the cue of the same id; an id no cue has
    is refused (the page was showing an older script than the one saved)."""
    by_id = {cue_id(cue): index for index, cue in enumerate(cues)}
    out = list(cues)
    for edit in edits:
        index = by_id.get(edit.id)
        if index is None:
            raise VoiceError(f"phrase {edit.id}: not in the saved script any more; reload the page")
        speaker = out[index].speaker if edit.speaker is None else speaker_name(edit.speaker)
        out[index] = replace(out[index], text=" ".join(edit.text.split()), speaker=speaker)
    return out


__all__ = ["Edit", "NOTE", "Session", "StageProgress"]

"""What the studio keeps on disk beside the output, so that closing the page loses nothing and
`voice studio` reopens where the user left off.

``<output stem>.studio/`` holds:
- ``script.vtt``: the script the re-dubs read (`voice convert --script`), saved after every edit that
  dubbed well. WebVTT, because it carries any speaker's name (``<v Olga>``) and a NOTE.
- ``voices.json``: the voice chosen per speaker on the page (``{"Speaker 1": "olga"}``).
- ``history/NNNN.json``: earlier (script, voices) states, newest last: what undo returns to.
- ``source.json``: the recording's name and sha256, so that a script is never read back over another
  recording written to the same output.

Every file is written atomically (subtitles.write_cues, or a temporary name and a rename), so a
Ctrl-C never leaves half a state behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VoiceError
from ..media.audio import part_name
from ..text.subtitles import Cue, format_vtt, read_cues

NOTE = ("Studio script of {name}: '+' before a stressed vowel; \u2047 after a word the recogniser was unsure of "
        "(ignored when read back). `voice studio` keeps it up to date; it also works with `voice convert --script`.")


def _write_atomic(path: Path, text: str) -> None:
    tmp = part_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class Snapshot:
    """One state of the user's edits: the script's text (WebVTT) and the voice of each speaker."""

    script: str
    voices: dict[str, str] = field(default_factory=dict)


class StudioState:
    """The studio folder of one output: the current script and voices, and the history for undo."""

    def __init__(self, output: Path, input_name: str) -> None:
        self.folder = output.with_name(f"{output.stem}.studio")
        self.script = self.folder / "script.vtt"
        self.voices_file = self.folder / "voices.json"
        self.history = self.folder / "history"
        self.source = self.folder / "source.json"
        self.input_name = input_name

    def exists(self) -> bool:
        """Whether an earlier session saved a script: then the first run is already a --script run."""
        return self.script.is_file()

    def claim(self, input: Path, digest: str) -> None:
        """Tie the folder to the recording whose sha256 is ``digest``; refuse one made for another."""
        if self.source.is_file():
            known = json.loads(self.source.read_text(encoding="utf-8"))
            if known.get("sha256") != digest:
                raise VoiceError(f"studio folder {self.folder}: holds the edits of another recording "
                                 f"({known.get('input')}); give another OUTPUT, or remove that folder to start afresh")
            return
        _write_atomic(self.source, json.dumps({"input": input.name, "sha256": digest}, ensure_ascii=False))

    def cues(self) -> list[Cue]:
        return read_cues(self.script)

    def voices(self) -> dict[str, str]:
        if not self.voices_file.is_file():
            return {}
        data = json.loads(self.voices_file.read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def current(self) -> Snapshot:
        text = self.script.read_text(encoding="utf-8") if self.exists() else ""
        return Snapshot(text, self.voices())

    def save(self, cues: list[Cue], voices: dict[str, str]) -> None:
        """Make ``cues`` and ``voices`` the current state (each file atomically)."""
        self.restore(Snapshot(format_vtt(cues, NOTE.format(name=self.input_name)), voices))

    def restore(self, snapshot: Snapshot) -> None:
        _write_atomic(self.script, snapshot.script)
        _write_atomic(self.voices_file, json.dumps(snapshot.voices, ensure_ascii=False, indent=1))

    def push(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` (the state before an edit) for undo."""
        number = len(self._entries()) + 1
        _write_atomic(self.history / f"{number:04d}.json",
                      json.dumps({"script": snapshot.script, "voices": snapshot.voices}, ensure_ascii=False))

    def pop(self) -> Snapshot | None:
        """The newest kept state, removed from the history; None when there is nothing to undo."""
        entries = self._entries()
        if not entries:
            return None
        data = json.loads(entries[-1].read_text(encoding="utf-8"))
        entries[-1].unlink()
        return Snapshot(str(data["script"]), {str(k): str(v) for k, v in data.get("voices", {}).items()})

    def undo_depth(self) -> int:
        return len(self._entries())

    def _entries(self) -> list[Path]:
        return sorted(self.history.glob("[0-9]*.json")) if self.history.is_dir() else []

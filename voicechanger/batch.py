"""Folders: find the recordings under a folder, mirror the tree into an output folder, convert them in
parallel, and report each one's outcome. A bad file is reported and skipped; the rest finish."""

from __future__ import annotations

import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import interrupt
from .errors import VoiceError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {
    ".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".g722", ".gsm", ".ulaw", ".alaw",
    ".sln", ".mp4", ".mkv", ".webm", ".mov", ".avi", ".oga", ".aiff", ".aif",
}


@dataclass
class Outcome:
    input: Path
    output: Path
    status: str            # converted | cached | failed
    duration: float = 0.0
    seconds: float = 0.0
    error: str = ""
    ran: tuple[str, ...] = ()
    unsaid: tuple[dict, ...] = ()  # phrases the voice could not say (pipeline.unsaid_phrases)


def find_recordings(folder: Path) -> list[Path]:
    """Audio and video files under ``folder`` (recursively, hidden ones skipped), sorted."""
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def pair_outputs(input_folder: Path, output_folder: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(input, output) pairs: the output tree mirrors the input tree, names keep their stem."""
    pairs = []
    taken: set[Path] = set()
    for source in find_recordings(input_folder):
        relative = source.relative_to(input_folder)
        target = output_folder / relative.with_suffix(suffix)
        if target in taken:  # talk.wav and talk.mp3 in one folder: keep both, say which is which
            target = output_folder / relative.with_name(f"{relative.stem}.{source.suffix.lstrip('.')}{suffix}")
        taken.add(target)
        pairs.append((source, target))
    return pairs


def run_batch(pairs: list[tuple[Path, Path]], convert_one: Callable[[Path, Path], Outcome], workers: int,
              debug: bool = False) -> list[Outcome]:
    """Convert every pair with up to ``workers`` at once; failures become outcomes, never exceptions."""

    def guarded(pair: tuple[Path, Path]) -> Outcome:
        source, target = pair
        try:
            return convert_one(source, target)
        except VoiceError as exc:
            interrupt.check()  # after a stop request a failure is the stop's doing, not this file's
            return Outcome(source, target, "failed", error=str(exc))
        except Exception as exc:  # a bug or an environment problem must not stop the other files
            interrupt.check()
            if debug:
                traceback.print_exc()
            log.exception("converting %s failed", source)
            return Outcome(source, target, "failed", error=f"{type(exc).__name__}: {exc}")

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="recording")
    try:
        return list(pool.map(guarded, pairs))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # interrupted: the recordings not begun never start

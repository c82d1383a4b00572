"""What the page says about a run, in the words the CLI prints (its summary line, the cast, the
unsure words); the notices themselves go to the page as notices.Notice.as_dict, text unchanged."""

from __future__ import annotations

from pathlib import Path

from ..notices import cast_text, covered_text
from ..runners.lifecycle import Result
from ..text.script import UNSURE, unsure_count


def summary_lines(result: Result, input: Path) -> list[str]:
    """The CLI's lines after a conversion (cli/convert.py _summary and _convert_file), for the page."""
    lines = [f"audio {result.duration:.1f} s; {covered_text(result.speech_covered)}{result.said_text()}"]
    if result.cast:
        lines.append(cast_text(result.cast))
    unsure = unsure_count(result.phrases)
    if unsure:
        lines.append(f"{unsure} of {len(result.phrases)} phrases hold words Whisper was unsure of: they are "
                     f"highlighted (marked {UNSURE} in the script); correct them and re-dub")
    return lines

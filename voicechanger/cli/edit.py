"""`voice script`: the script the voice reads, to edit and convert again with --script."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import CACHE_DIR_HELP, _running, _settings, app, console, out


@app.command("script")
def script_command(
    input: Path = typer.Argument(..., help="A recording."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The script file (.srt or .vtt); "
                                          "default INPUT's name with .script.srt, beside it."),
    profile: str = typer.Option("normal", "--profile", "-p", help="fast, normal, high, or a YAML file."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A YAML file of 'word: how to say it'."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Write the script the voice reads: one cue per phrase, '+' before each stressed vowel, ⁇ after
    words Whisper was unsure of. Taken from the cache when INPUT was converted before (no model runs).
    Edit it and convert again with --script: only the phrases you changed are said again."""
    with _running(debug):
        from ..media.audio import check_input
        from ..paths import default_cache_dir
        from ..runners.local import export_script
        from ..store import Store
        from ..text.subtitles import format_of

        check_input(input)
        target = output or input.with_name(f"{input.stem}.script.srt")
        format_of(target)
        settings = _settings(profile, lexicon=str(lexicon) if lexicon is not None else None)
        store = Store(cache_dir or default_cache_dir())
        cues, unsure = export_script(input, target, settings, store)
        console.print(f"{cues} cues; {unsure} hold words Whisper was unsure of (marked ⁇)")
        out.print(str(target), markup=False)

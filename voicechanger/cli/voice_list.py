"""`voice voices`: the catalogue's named voices and the backends' voices; a sample in one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import VoiceError
from .app import EXIT_HELP, _one_line_errors, app, out


@app.command(epilog=EXIT_HELP)
def voices(
    sample: Optional[str] = typer.Option(None, "--sample", metavar="NAME",
                                         help="Say a short sample in this voice (a name, backend:name or a voice file)."),
    output: Optional[Path] = typer.Argument(None, help="With --sample: the WAV file to write."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """List the voices: the catalogue's named voices, then the backends' (available here or not, and why)."""
    with _one_line_errors(debug):
        if sample is None:
            if output is not None:
                raise VoiceError(f"{output}: an output file goes with --sample NAME; give the voice to say it in")
            _list_voices()
        else:
            if output is None:
                raise VoiceError(f"--sample {sample}: give the WAV file to write, e.g. `voice voices --sample {sample} "
                                 "sample.wav`")
            from ..voices.sample import write_sample

            out.print(str(write_sample(sample, output)), markup=False)


def _list_voices() -> None:
    from ..engines.tts import list_voices
    from ..voices.catalogue import catalogue

    table = Table(header_style="bold")
    for column in ("voice", "available", "gender", "register", "detail"):
        table.add_column(column, overflow="fold")
    backends = {info.spec: info for info in list_voices()}
    for name, voice in catalogue().items():
        base = backends.get(voice.base)
        detail = f"{voice.title}: {voice.description} ({voice.base}, formants x{voice.formant_ratio:g})"
        table.add_row(name, "yes" if base is not None and base.available else f"no: needs {voice.base}",
                      voice.gender, f"{voice.median_f0:g} Hz", escape(detail))
    for info in backends.values():
        table.add_row(info.spec, "yes" if info.available else "no", "", "", escape(info.detail))
    out.print(table)

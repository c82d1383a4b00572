"""`voice convert`: one file or a folder, by the local runner or handed to Prefect; its summary."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import DONE, FAILED, VoiceError
from ..runtime import interrupt
from .app import (
    CACHE_DIR_HELP,
    DEFAULTS,
    EXIT_HELP,
    _notices,
    _profile,
    _running,
    _settings,
    app,
    console,
    out,
)
from .progress import ProgressEvents, _progress

if TYPE_CHECKING:
    from ..runners.lifecycle import Result


@app.command(epilog=EXIT_HELP)
def convert(
    input: Path = typer.Argument(..., help="A recording, or a folder of recordings."),
    output: Path = typer.Argument(..., help="The output file (.mp3/.wav/.flac/...), or a folder for a folder."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="fast, normal, high, or a YAML file.",
                                          show_default="normal"),
    quality: Optional[str] = typer.Option(None, "--quality", help="Alias of --profile (fast|normal|high)."),
    voice: Optional[str] = typer.Option(None, "--voice", help="auto (a voice of each speaker's gender and "
                                        "register), one voice for all (olga, backend:name, my-voice.yaml), or by "
                                        "speaker: \"Speaker 1=olga,Speaker 2=pavel\"; see `voice voices`.",
                                        show_default=str(DEFAULTS.voice)),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda.", show_default=DEFAULTS.device),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Recordings converted at once.",
                                          show_default=str(DEFAULTS.workers)),
    chunk_minutes: Optional[float] = typer.Option(None, "--chunk-minutes", help="Chunk length in minutes.",
                                                  show_default=str(DEFAULTS.chunk_minutes)),
    model: Optional[str] = typer.Option(None, "--model", help="Whisper model name or folder.",
                                        show_default=DEFAULTS.whisper.model),
    language: Optional[str] = typer.Option(None, "--language", help="Spoken language code.",
                                           show_default=DEFAULTS.whisper.language),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
    temp_dir: Optional[Path] = typer.Option(None, "--temp-dir", help="Folder for temporary files.",
                                            show_default="$TMPDIR or /tmp"),
    output_format: Optional[str] = typer.Option(None, "--format", show_default="mp3",
                                                help="Output extension for a folder: mp3, wav, flac, mp4, mkv... (a file's "
                                                     "output takes its own extension)"),
    mix: Optional[str] = typer.Option(None, "--mix", help="replace (voice on silence), gaps (original between "
                                      "phrases) or voiceover (original ducked under the voice).",
                                      show_default=DEFAULTS.mix.mode),
    duck_db: Optional[float] = typer.Option(None, "--duck-db", help="voiceover: the original's level under the voice, dB down.",
                                            show_default=str(DEFAULTS.mix.duck_db)),
    keep_original_audio: Optional[bool] = typer.Option(None, "--keep-original-audio/--no-original-audio",
                                                       help="A video output also keeps the original audio track.",
                                                       show_default="--keep-original-audio" if DEFAULTS.output.keep_original_audio
                                                       else "--no-original-audio"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of pitch and timing, input vs output."),
    strict: bool = typer.Option(False, "--strict", help="A phrase the voice cannot say is an error (no output)."),
    script: Optional[Path] = typer.Option(None, "--script", help="An edited script (.srt/.vtt, see `voice script`): "
                                          "its cues are what is said, and when; Whisper does not run."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A YAML file of 'word: how to say it' (зам+ок)."),
    subtitles: Optional[str] = typer.Option(None, "--subtitles", help="Subtitles beside the output: srt, vtt or none.",
                                            show_default=DEFAULTS.subtitles),
    prefect: bool = typer.Option(False, "--prefect", help="Run through the Prefect flow `voice`."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Convert INPUT to OUTPUT in another voice, keeping timing and intonation.

    Defaults shown are those of every built-in profile; an option given here overrides the profile.
    """
    with _running(debug):
        from ..paths import default_cache_dir

        profile_name = _profile(profile, quality)
        _check_request(input, output, output_format)
        settings = _settings(
            profile_name,
            **{"voice": voice, "device": device, "workers": workers, "chunk_minutes": chunk_minutes,
               "whisper.model": model, "whisper.language": language, "mix.mode": mix, "mix.duck_db": duck_db,
               "output.keep_original_audio": keep_original_audio, "strict": strict or None,
               "subtitles": subtitles, "lexicon": str(lexicon) if lexicon is not None else None},
        )
        store_root = cache_dir or default_cache_dir()
        _check_places(store_root, temp_dir, plot)
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            os.environ["TMPDIR"] = str(temp_dir.resolve())
        from ..text.script import check_one_recording

        check_one_recording(script, input)
        fmt = output_format or "mp3"
        if prefect:
            raise typer.Exit(_hand_to_prefect(input, output, profile_name, settings, store_root, fmt, script))
        from ..store import Store

        store = Store(store_root)
        if input.is_dir():
            raise typer.Exit(_convert_folder(input, output, settings, store, fmt, debug))
        _convert_file(input, output, settings, store, plot, script)


def _check_request(input: Path, output: Path, output_format: Optional[str]) -> None:
    """A file's output is a file, and --format belongs to a folder: refused before any work."""
    if input.is_file() and output.is_dir():
        suggestion = shlex.quote(str(output / f"{input.stem}.voice.mp3"))
        raise VoiceError(f"output {output}: is a folder, and the input {input.name} is one file; give the output "
                         f"file's name, e.g. {suggestion}")
    if output_format is not None and input.exists() and not input.is_dir():
        raise VoiceError(f"--format {output_format}: applies to a folder input only; for a file, the output's "
                         f"extension sets the format ({output.name})")


def _hand_to_prefect(input: Path, output: Path, profile: str, settings: Any, store_root: Path, fmt: str,
                     script: Optional[Path]) -> int:
    """`--prefect`: the same checks as a local run, then the flow through the registered runner."""
    from ..runners.handoff import run_prefect
    from ..runners.local import preflight

    preflight(settings, whisper=script is None)  # a bad voice or model fails before Prefect starts
    return run_prefect(input, output, profile=profile, settings=settings, cache_dir=store_root, output_format=fmt,
                       script=script)


def _check_places(store_root: Path, temp_dir: Optional[Path], plot: Optional[Path]) -> None:
    """Everything the run will write to must be writable: checked before any work."""
    from ..checks import check_writable_file, check_writable_folder

    check_writable_folder(store_root, "cache folder")
    if temp_dir is not None:
        check_writable_folder(temp_dir, "temp folder")
    if plot is not None:
        check_writable_file(plot, "plot")


def _summary(result: Result) -> None:
    from ..notices import cast_text, covered_text
    from ..stages import STAGES

    table = Table(title=escape(f"{result.input.name} → {result.output}"), show_header=True, header_style="bold")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage in STAGES.names():
        if stage in result.stage_seconds:
            table.add_row(stage, f"{result.stage_seconds[stage]:.1f}")
    table.add_row("[bold]total[/]", f"{result.seconds:.1f}")
    console.print(table)
    speed = result.duration / result.seconds if result.seconds > 0 else float("inf")
    pace = "" if result.cached else f"{speed:.1f}× real time; "
    said = result.said_text()
    console.print(f"audio {result.duration:.1f} s; {covered_text(result.speech_covered)}{pace}{said}; "
                  f"transcript: {result.transcript}", markup=False)
    if result.cast:
        console.print(cast_text(result.cast), markup=False)
    _notices(result.notices)


def _convert_file(input: Path, output: Path, settings: Any, store: Any, plot: Optional[Path],
                  script: Optional[Path] = None) -> None:
    from ..runners.local import convert as run_convert
    from ..text.script import UNSURE, unsure_count

    with _progress() as progress:
        result = run_convert(input, output, settings, store, ProgressEvents(progress), script=script)
    interrupt.settle()
    _summary(result)
    unsure = unsure_count(result.phrases)
    if unsure:
        console.print(f"{unsure} of {len(result.phrases)} phrases hold words Whisper was unsure of: see them "
                      f"marked {UNSURE} in `voice script {shlex.quote(str(input))}`, correct them and convert with "
                      "--script", markup=False)
    if result.subtitles is not None:
        console.print(f"subtitles: {result.subtitles}", markup=False)
    if plot is not None:
        from ..report import plot_result

        plot_result(result, plot)
        console.print(f"plot: {plot}", markup=False)
    out.print(str(output), markup=False)


def _convert_folder(input: Path, output: Path, settings: Any, store: Any, fmt: str, debug: bool) -> int:
    from ..runners.batch import convert_folder, recording_pairs
    from ..runners.local import preflight

    pairs = recording_pairs(input, output, fmt)
    preflight(settings)  # a bad voice or model fails once, not once per file
    with _progress() as progress:
        overall = progress.add_task("recordings", total=len(pairs))
        outcomes = convert_folder(pairs, settings, store, ProgressEvents(progress), lambda: progress.advance(overall),
                                  debug)
    return report_batch(outcomes)


def report_batch(outcomes: list[Result]) -> int:
    """Print the batch summary table; the exit code is 1 when any recording failed."""
    from ..notices import percent

    table = Table(title="batch", header_style="bold")
    for column in ("input", "status", "audio s", "speech covered", "phrases said", "seconds", "output / error"):
        table.add_column(column, overflow="fold")
    for item in outcomes:
        style = {"failed": "red", "cached": "cyan"}.get(item.status, "green")
        table.add_row(escape(str(item.input)), f"[{style}]{item.status}[/]", f"{item.duration:.1f}",
                      percent(item.speech_covered), item.said_text(),
                      f"{item.seconds:.1f}", escape(item.error or str(item.output)))
    console.print(table)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("converted", "cached", "failed")}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    for item in outcomes:
        if item.status == "failed":
            console.print(f"[red]failed:[/] {escape(f'{item.input}: {item.error}')}")
    _notices([notice for item in outcomes for notice in item.notices])
    return FAILED if counts["failed"] else DONE

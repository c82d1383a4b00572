"""The `voice` command: convert a file or a folder, inspect the cache, list voices.

The local runner is the default (no Prefect import on that path); ``--prefect`` hands the same
graph to the Prefect flow in flows/.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import InputError, VoiceError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Re-voice Russian speech recordings.")
cache_app = typer.Typer(no_args_is_help=True, help="Inspect or prune the artifact store.")
app.add_typer(cache_app, name="cache")
console = Console(stderr=True)
out = Console()

STAGE_ORDER = ("decode", "chunk", "transcribe", "script", "stress", "synthesize", "prosody", "transcript", "concat")


class ProgressEvents:
    """Draws one bar per stage from the runner's events (thread-safe)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.totals: dict[str, int] = {}
        self.lock = threading.Lock()
        for stage in STAGE_ORDER:
            self.tasks[stage] = progress.add_task(stage, total=None, visible=False)

    def planned(self, nodes: list) -> None:
        with self.lock:
            for stage in STAGE_ORDER:
                count = sum(1 for n in nodes if n.name == stage)
                self.totals[stage] = self.totals.get(stage, 0) + count
                done = self.progress.tasks[self.tasks[stage]].completed
                self.progress.update(self.tasks[stage], total=max(self.totals[stage], done), visible=True)

    def started(self, node: Any) -> None:
        self.progress.update(self.tasks[node.name], description=f"{node.name} {node.label if node.label != node.name else ''}")

    def finished(self, node: Any, seconds: float, cached: bool) -> None:
        with self.lock:
            task = self.progress.tasks[self.tasks[node.name]]
            if task.total is None or task.completed < task.total:
                self.progress.advance(self.tasks[node.name])
            label = f"{node.name} (cached)" if cached else node.name
            self.progress.update(self.tasks[node.name], description=label, visible=True)


def _settings(profile: str, quality: Optional[str], **overrides: Any):
    from .config import load_settings

    return load_settings(quality or profile, overrides)


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        console.print_exception()
    message = str(exc) if isinstance(exc, VoiceError) else f"{type(exc).__name__}: {exc}"
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code if isinstance(exc, VoiceError) else 1)


def _summary(result: Any) -> None:
    table = Table(title=f"{result.input.name} → {result.output}", show_header=True, header_style="bold")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage in STAGE_ORDER:
        if stage in result.stage_seconds:
            table.add_row(stage, f"{result.stage_seconds[stage]:.1f}")
    table.add_row("[bold]total[/]", f"{result.seconds:.1f}")
    console.print(table)
    speed = result.duration / result.seconds if result.seconds > 0 else float("inf")
    state = "everything from the cache" if result.cached else f"{speed:.1f}× real time"
    console.print(f"audio {result.duration:.1f} s; {state}; transcript: {result.transcript}")


@app.command()
def convert(
    input: Path = typer.Argument(..., help="A recording, or a folder of recordings."),
    output: Path = typer.Argument(..., help="The output file (.mp3/.wav/.flac/...), or a folder for a folder."),
    profile: str = typer.Option("normal", "--profile", "-p", help="fast, normal, high, or a YAML file."),
    quality: Optional[str] = typer.Option(None, "--quality", help="Alias of --profile (fast|normal|high)."),
    voice: Optional[str] = typer.Option(None, "--voice", help="backend:name, see `voice voices`."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Recordings converted at once."),
    chunk_minutes: Optional[float] = typer.Option(None, "--chunk-minutes", help="Chunk length in minutes."),
    model: Optional[str] = typer.Option(None, "--model", help="Whisper model name or folder."),
    language: Optional[str] = typer.Option(None, "--language", help="Spoken language code (default ru)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Artifact store (default ./cache)."),
    temp_dir: Optional[Path] = typer.Option(None, "--temp-dir", help="Folder for temporary files."),
    output_format: str = typer.Option("mp3", "--format", help="Output extension for a folder: mp3, wav, flac..."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of pitch and timing, input vs output."),
    script: Optional[Path] = typer.Option(None, "--script", help="An edited script (.srt/.vtt, see `voice script`): "
                                          "its cues are what is said, and when; Whisper does not run."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A YAML file of 'word: how to say it' (зам+ок)."),
    subtitles: Optional[str] = typer.Option(None, "--subtitles", help="Subtitles beside the output: srt, vtt or none."),
    prefect: bool = typer.Option(False, "--prefect", help="Run through the Prefect flow `voice`."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Convert INPUT to OUTPUT in another voice, keeping timing and intonation."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        from .paths import default_cache_dir

        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            os.environ["TMPDIR"] = str(temp_dir.resolve())
        settings = _settings(
            profile, quality,
            **{"voice": voice, "device": device, "workers": workers, "chunk_minutes": chunk_minutes,
               "whisper.model": model, "whisper.language": language, "subtitles": subtitles,
               "lexicon": str(lexicon) if lexicon is not None else None},
        )
        if script is not None and input.is_dir():
            raise VoiceError(f"--script {script}: a script belongs to one recording; give a file, not the folder {input}")
        store_root = cache_dir or default_cache_dir()
        if prefect:
            from .handoff import run_prefect

            code = run_prefect(input, output, profile=quality or profile, settings=settings, cache_dir=store_root,
                               output_format=output_format, script=script)
            raise typer.Exit(code)
        from .store import Store

        store = Store(store_root)
        if input.is_dir():
            code = _convert_folder(input, output, settings, store, output_format, debug)
            raise typer.Exit(code)
        _convert_file(input, output, settings, store, plot, script)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]; finished stages stay cached, rerun to resume")
        raise typer.Exit(130)
    except Exception as exc:  # one line for the user, the traceback only with --debug
        _fail(exc, debug)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False, disable=not console.is_terminal and os.environ.get("VOICE_PROGRESS") != "1",
    )


def _convert_file(input: Path, output: Path, settings: Any, store: Any, plot: Optional[Path],
                  script: Optional[Path] = None) -> None:
    from .audio import check_output
    from .pipeline import convert as run_convert
    from .script import UNSURE, unsure_count

    check_output(output)
    with _progress() as progress:
        result = run_convert(input, output, settings, store, ProgressEvents(progress), script=script)
    _summary(result)
    unsure = unsure_count(result.phrases)
    if unsure:
        console.print(f"{unsure} of {len(result.phrases)} phrases hold words Whisper was unsure of: see them "
                      f"marked {UNSURE} in `voice script {input}`, correct them and convert with --script")
    if result.subtitles is not None:
        console.print(f"subtitles: {result.subtitles}", highlight=False)
    if plot is not None:
        from .report import plot_result

        plot_result(result, plot)
        console.print(f"plot: {plot}")
    out.print(str(output))


def _convert_folder(input: Path, output: Path, settings: Any, store: Any, fmt: str, debug: bool) -> int:
    from .batch import Outcome, pair_outputs, run_batch
    from .pipeline import convert as run_convert
    from .pipeline import preflight

    if output.exists() and not output.is_dir():
        raise VoiceError(f"output {output}: is a file; a folder input needs an output folder")
    pairs = pair_outputs(input, output, "." + fmt.lstrip("."))
    if not pairs:
        raise InputError(f"input {input}: no audio files found in this folder")
    preflight(settings)  # a bad voice or model fails once, not once per file
    with _progress() as progress:
        events = ProgressEvents(progress)
        overall = progress.add_task("recordings", total=len(pairs))

        def one(source: Path, target: Path) -> Outcome:
            try:
                result = run_convert(source, target, settings, store, events)
            finally:
                progress.advance(overall)
            status = "cached" if result.cached else "converted"
            return Outcome(source, target, status, result.duration, result.seconds, ran=tuple(result.ran))

        outcomes = run_batch(pairs, one, settings.workers, debug)
    return report_batch(outcomes)


def report_batch(outcomes: list) -> int:
    """Print the batch summary table; the exit code is 1 when any recording failed."""
    table = Table(title="batch", header_style="bold")
    for column in ("input", "status", "audio s", "seconds", "output / error"):
        table.add_column(column, overflow="fold")
    for item in outcomes:
        style = {"failed": "red", "cached": "cyan"}.get(item.status, "green")
        table.add_row(str(item.input), f"[{style}]{item.status}[/]", f"{item.duration:.1f}", f"{item.seconds:.1f}",
                      item.error or str(item.output))
    console.print(table)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("converted", "cached", "failed")}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    for item in outcomes:
        if item.status == "failed":
            console.print(f"[red]failed:[/] {item.input}: {item.error}", soft_wrap=True, highlight=False)
    return 1 if counts["failed"] else 0


@cache_app.command("stats")
def cache_stats(cache_dir: Optional[Path] = typer.Option(None, "--cache-dir")) -> None:
    """Size, entries per stage and hit counts."""
    from .paths import default_cache_dir
    from .store import Store

    store = Store(cache_dir or default_cache_dir())
    table = Table(title=f"cache {store.root}", header_style="bold")
    for column in ("stage", "entries", "MB", "hits", "writes", "corrupt"):
        table.add_column(column, justify="right")
    total = 0.0
    for stage, row in sorted(store.stats().items(), key=lambda kv: STAGE_ORDER.index(kv[0]) if kv[0] in STAGE_ORDER else 99):
        total += row["bytes"]
        table.add_row(stage, str(int(row["entries"])), f"{row['bytes'] / 1e6:.1f}", str(int(row["hit"])),
                      str(int(row["put"])), str(int(row["corrupt"])))
    out.print(table)
    out.print(f"total {total / 1e6:.1f} MB")


def _parse_size(text: str) -> int:
    units = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
    text = text.strip().lower().rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def _parse_age(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text) * 86400


@cache_app.command("prune")
def cache_prune(
    older_than: Optional[str] = typer.Option(None, "--older-than", help="Remove unused for this long: 30d, 12h."),
    max_size: Optional[str] = typer.Option(None, "--max-size", help="Then shrink to this size: 5G, 500M."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir"),
) -> None:
    """Remove old artifacts, or the least recently used ones beyond a size."""
    from .paths import default_cache_dir
    from .store import Store

    if older_than is None and max_size is None:
        console.print("[bold red]error:[/] give --older-than AGE and/or --max-size SIZE")
        raise typer.Exit(2)
    try:
        age = _parse_age(older_than) if older_than else None
        size = _parse_size(max_size) if max_size else None
    except ValueError:
        console.print("[bold red]error:[/] --older-than takes e.g. 30d or 12h, --max-size e.g. 5G or 500M")
        raise typer.Exit(2)
    removed, freed = Store(cache_dir or default_cache_dir()).prune(older_than_s=age, max_bytes=size)
    out.print(f"removed {removed} artifacts, freed {freed / 1e6:.1f} MB")


@app.command("script")
def script_command(
    input: Path = typer.Argument(..., help="A recording."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The script file (.srt or .vtt); "
                                          "default INPUT's name with .script.srt, beside it."),
    profile: str = typer.Option("normal", "--profile", "-p", help="fast, normal, high, or a YAML file."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A YAML file of 'word: how to say it'."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Artifact store (default ./cache)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Write the script the voice reads: one cue per phrase, '+' before each stressed vowel, ⁇ after
    words Whisper was unsure of. Taken from the cache when INPUT was converted before (no model runs).
    Edit it and convert again with --script: only the phrases you changed are said again."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        from .audio import check_input
        from .paths import default_cache_dir
        from .pipeline import export_script
        from .store import Store
        from .subtitles import format_of

        check_input(input)
        target = output or input.with_name(f"{input.stem}.script.srt")
        format_of(target)
        settings = _settings(profile, None, lexicon=str(lexicon) if lexicon is not None else None)
        store = Store(cache_dir or default_cache_dir())
        cues, unsure = export_script(input, target, settings, store)
        console.print(f"{cues} cues; {unsure} hold words Whisper was unsure of (marked ⁇)", highlight=False)
        out.print(str(target))
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]")
        raise typer.Exit(130)
    except Exception as exc:
        _fail(exc, debug)


@app.command()
def voices() -> None:
    """List the voices, which are available here, and why others are not."""
    from .engines.tts import list_voices

    table = Table(header_style="bold")
    for column in ("voice", "available", "detail"):
        table.add_column(column, overflow="fold")
    for info in list_voices():
        table.add_row(info.spec, "yes" if info.available else "no", info.detail)
    out.print(table)


def main() -> None:
    started = time.perf_counter()
    try:
        app()
    finally:
        if os.environ.get("VOICE_TIMING"):
            print(f"voice: {time.perf_counter() - started:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

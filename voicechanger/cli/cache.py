"""`voice cache stats | prune`: what the artifact store holds, and removing old or surplus artifacts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import BAD_SETTING
from .app import CACHE_DIR_HELP, cache_app, console, out


@cache_app.command("stats")
def cache_stats(cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP)) -> None:
    """Size, entries per stage and hit counts."""
    from ..paths import default_cache_dir
    from ..stages import STAGES
    from ..store import Store

    root = cache_dir or default_cache_dir()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        console.print(f"[bold red]error:[/] cache folder {escape(str(root))}: {what}; pass the store with --cache-dir "
                      "(default ./cache)")
        raise typer.Exit(BAD_SETTING)
    store = Store(root)
    stats, skipped = store.stats()
    table = Table(title=escape(f"cache {store.root}"), header_style="bold")
    for column in ("stage", "entries", "MB", "hits", "writes", "corrupt"):
        table.add_column(column, justify="right")
    total = 0.0
    for stage, row in sorted(stats.items(), key=lambda kv: STAGES.rank(kv[0])):
        total += row["bytes"]
        table.add_row(stage, str(int(row["entries"])), f"{row['bytes'] / 1e6:.1f}", str(int(row["hit"])),
                      str(int(row["put"])), str(int(row["corrupt"])))
    out.print(table)
    out.print(f"total {total / 1e6:.1f} MB")
    if skipped:
        console.print(f"[bold yellow]warning:[/] {escape(str(store.root / 'events.jsonl'))}: {skipped} malformed lines "
                      "skipped (the counts leave them out)")


_SIZE_UNITS = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_AGE_UNITS: dict[str, float] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_amount(text: str, units: dict[str, float], bare: float) -> float:
    """A finite, non-negative number with an optional unit letter (a bare number counts ``bare``);
    ValueError for anything else, '' -5d inf nan included: prune must never guess what to delete."""
    text = text.strip().lower()
    scale = bare
    if text and text[-1] in units:
        text, scale = text[:-1], units[text[-1]]
    value = float(text) * scale  # ValueError on '' and on words
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _parse_size(text: str) -> int:
    return int(_parse_amount(text.strip().lower().removesuffix("b"), _SIZE_UNITS, 1))


def _parse_age(text: str) -> float:
    return _parse_amount(text, _AGE_UNITS, 86400)


@cache_app.command("prune")
def cache_prune(
    older_than: Optional[str] = typer.Option(None, "--older-than", help="Remove unused for this long: 30d, 12h."),
    max_size: Optional[str] = typer.Option(None, "--max-size", help="Then shrink to this size: 5G, 500M."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
) -> None:
    """Remove old artifacts, or the least recently used ones beyond a size."""
    from ..paths import default_cache_dir
    from ..store import Store

    if older_than is None and max_size is None:
        console.print("[bold red]error:[/] give --older-than AGE and/or --max-size SIZE")
        raise typer.Exit(BAD_SETTING)
    for option, given, parse, example in (("--older-than", older_than, _parse_age, "30d or 12h"),
                                          ("--max-size", max_size, _parse_size, "5G or 500M")):
        try:
            if given is not None:
                parse(given)
        except (ValueError, OverflowError):
            console.print(f"[bold red]error:[/] {option} {escape(repr(given))}: not an amount of zero or more; use e.g. "
                          f"{example}")
            raise typer.Exit(BAD_SETTING) from None
    age = _parse_age(older_than) if older_than is not None else None
    size = _parse_size(max_size) if max_size is not None else None
    removed, freed = Store(cache_dir or default_cache_dir()).prune(older_than_s=age, max_bytes=size)
    out.print(f"removed {removed} artifacts, freed {freed / 1e6:.1f} MB")

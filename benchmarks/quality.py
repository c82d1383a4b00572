"""The quality table over every recording condition (tests/conditions.py): the studio set and the
conditions like people's own, each converted with one profile and measured (tests/roundtrip.py).

    .venv/bin/python -m benchmarks.quality                       # all, normal profile
    .venv/bin/python -m benchmarks.quality --only clean,noise --work /tmp/q --json out.json

The conditions, the store and the referee's transcripts are kept in --work (default benchmarks/work/
quality), so a rerun after a change to prosody transcribes only the new outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

COLUMNS = [("name", "condition"), ("seconds", "s"), ("words", "words"), ("wer", "WER"),
           ("wer_input", "WER in/truth"), ("log_f0_r", "log-F0 r"), ("starts_within_100ms", "starts <=100ms"),
           ("start_median_ms", "start med ms"), ("over_silence", "over silence"), ("phrases", "phrases"),
           ("squeeze_median", "squeeze med"), ("squeeze_over_1_5", ">1.5x"), ("squeeze_over_2", ">2x"),
           ("squeeze_over_2_with_room", ">2x w/ room"), ("squeeze_max", "max")]


def markdown(rows: list[dict], columns: list[tuple[str, str]] = COLUMNS, text: tuple[str, ...] = ("name",)) -> str:
    """A Markdown table of ``rows``: (key, title) per column; the ``text`` columns left-aligned."""
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" if key in text else "---:" for key, _ in columns) + "|"]
    lines += ["| " + " | ".join(str(row[key]) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)


def report(rows: list[dict], table: str, json_path: Path | None) -> None:
    """Print the table; write the rows as JSON too when asked."""
    print(table)
    if json_path:
        json_path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "quality")
    parser.add_argument("--profile", default="normal")
    parser.add_argument("--only", default="", help="comma-separated condition names (clean and tests/conditions.py's)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--log", action="store_true", help="print every prompt's transcripts")
    args = parser.parse_args(argv)

    import conditions
    from conftest import QUALITY_PROMPTS, convert_with
    from roundtrip import Referee, measure

    from speech import assemble
    from voicechanger.store import Store

    wanted = [n for n in args.only.split(",") if n] or ["clean", *conditions.NAMES]
    folder = args.work / "conditions"
    folder.mkdir(parents=True, exist_ok=True)
    store, referee = Store(args.work / "store"), Referee(args.work / "referee.json")
    out_dir = args.work / "out"
    out_dir.mkdir(exist_ok=True)
    rows = []
    for name in wanted:
        if name == "clean":
            condition = conditions.clean(assemble(QUALITY_PROMPTS, folder / "clean.wav"))
        else:
            condition = conditions.build(name, folder)
        result = convert_with(condition, args.profile, store, out_dir)
        figures = measure(condition, result, store, referee, log=args.log)
        rows.append(figures.row())
        print(json.dumps(figures.row(), ensure_ascii=False), flush=True)
    report(rows, markdown(rows), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

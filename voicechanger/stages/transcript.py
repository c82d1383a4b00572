"""transcript: the whole recording's phrases and words as JSON (for tools) and Parquet (for people,
pandas or duckdb). Depends only on the stress stage, so another voice never rebuilds it.

Who says each phrase (issue 24): a "speaker" field in transcript.json's phrases and a "speaker"
column in segments.parquet (null for a phrase without one), both written only when some phrase of the
recording has a speaker, so a recording without speakers gets the same files as before."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import Settings
from ..text.phrases import StressedPhrase
from .base import Context, Output, Stage
from .contracts import TranscriptMeta


def run(ctx: Context) -> Output:
    import pyarrow as pa
    import pyarrow.parquet as pq

    recording = ctx.params["recording"]
    segments: dict[str, list] = {k: [] for k in ("recording", "chunk", "phrase", "start", "end", "text", "stressed")}
    words: dict[str, list] = {
        k: [] for k in ("recording", "chunk", "phrase", "word_index", "start", "end", "text", "probability")
    }
    document = []
    chunks = ctx.all("stress")
    # Files of recordings without speakers stay as they were: the field and column only with speakers.
    with_speakers = any(p.get("speaker") for chunk in chunks for p in chunk.meta["phrases"])
    if with_speakers:
        segments["speaker"] = []
    for chunk in chunks:
        index = chunk.meta["index"]
        phrases: list[StressedPhrase] = chunk.meta["phrases"]
        for number, phrase in enumerate(phrases):
            row = {"chunk": index, "phrase": number, "start": phrase["start"], "end": phrase["end"],
                   "text": phrase["text"], "stressed": phrase["stressed"]}
            if with_speakers:
                row["speaker"] = phrase.get("speaker")
            document.append({**row, "words": phrase["words"]})
            for name, value in {"recording": recording, **row}.items():
                segments[name].append(value)
            for position, word in enumerate(phrase["words"]):
                for name, value in (
                    ("recording", recording), ("chunk", index), ("phrase", number), ("word_index", position),
                    ("start", word["start"]), ("end", word["end"]), ("text", word["word"].strip()),
                    ("probability", word["probability"]),
                ):
                    words[name].append(value)
    pq.write_table(pa.table(segments), ctx.scratch / "segments.parquet")
    pq.write_table(pa.table(words), ctx.scratch / "words.parquet")
    (ctx.scratch / "transcript.json").write_text(
        json.dumps({"recording": recording, "phrases": document}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    names = ("segments.parquet", "words.parquet", "transcript.json")
    files: dict[str, Path | bytes] = {name: ctx.scratch / name for name in names}
    return Output(TranscriptMeta(recording=recording, phrase_count=len(document)), files=files)


def warm_up(settings: Settings) -> None:
    import pyarrow.parquet  # noqa: F401  (0.3 s, else spent after the last chunk)


STAGE = Stage("transcript", 2, (), run, key_params=("recording",), warm_up=warm_up, retries=0)

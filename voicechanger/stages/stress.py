"""stress-mark: normalise each phrase's words (numbers, abbreviations, Latin) and mark stress."""

from __future__ import annotations

from ..config import Settings
from .base import Context, Output, Stage


def run(ctx: Context) -> Output:
    from ..engines.normalize import normalize_words

    transcript = ctx.one("transcribe")
    phrases = []
    for phrase in transcript.meta["phrases"]:
        tokens = normalize_words([w["word"] for w in phrase["words"]])
        plain = [t.text for t in tokens]
        if ctx.settings.stress and plain:
            from ..engines.stress import stress_tokens

            stressed = stress_tokens(plain)
        else:
            stressed = plain
        phrases.append(
            {
                **phrase,
                "tokens": [{"text": s, "plain": t.text, "src": t.src} for s, t in zip(stressed, tokens)],
                "stressed": " ".join(stressed),
            }
        )
    return Output({"index": transcript.meta["index"], "span": transcript.meta["span"], "phrases": phrases})


def warm_up(settings: Settings) -> None:
    from ..engines import normalize  # noqa: F401  (its tables)

    if settings.stress:
        from ..engines.stress import warm_up as load_model

        load_model()


STAGE = Stage("stress", 1, ("stress",), run, warm_up=warm_up)

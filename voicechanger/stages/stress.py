"""stress-mark: label each phrase with its speaker (when the speakers stage runs), apply the lexicon, normalise each phrase's words (numbers, abbreviations, Latin) and
mark stress. The phrases come from transcribe, or from a script (the ``script`` stage).

Per phrase (memo): the key holds the phrase's words, the user's stress marks from a script, and only
the lexicon entries the phrase uses, so one edited cue or lexicon entry re-marks only its phrases.
"""

from __future__ import annotations

from ..config import Settings
from ..text.lexicon import expand
from ..text.phrases import Phrase, StressedPhrase, Token, Word
from ..text.script import letters, plain
from . import contracts
from .base import Context, Memo, Output, Stage
from .contracts import StressMeta

PHRASE_STAGE = "stress-phrase"
PHRASE_VERSION = 1


def say(words: list[Word], lexicon: dict[str, str], stress: bool) -> list[Token]:
    """The tokens the voice says for a phrase's words: ``text`` (stress-marked), ``plain``, ``src``
    (the index of the source word). A marked unit (a user's ``+``, a lexicon form) keeps its stress
    where it normalises to a single word; the stress model fills in the others."""
    from ..engines.normalize import normalize_words

    written = [w.get("stress") or w["word"].strip() for w in words]
    units, _used = expand(written, lexicon)
    tokens = normalize_words([plain(text) for text, _src in units])
    produced: dict[int, int] = {}
    for token in tokens:
        produced[token.src] = produced.get(token.src, 0) + 1
    texts = []
    for token in tokens:
        unit = units[token.src][0]
        if "+" in unit and produced[token.src] == 1 and letters(unit) == letters(token.text):
            mark = token.text[len(token.text.rstrip(".,!?")):]
            texts.append("".join(c for c in unit.lower() if c.isalpha() or c == "+").replace("ё", "е") + mark)
        else:
            texts.append(token.text)
    if stress and texts:
        from ..engines.stress import stress_tokens

        stressed = stress_tokens(texts)
    else:
        stressed = texts
    return [{"text": s, "plain": t.text, "src": units[t.src][1]} for s, t in zip(stressed, tokens)]


def phrase_key(phrase: Phrase, lexicon: dict[str, str], stress: bool) -> str:
    written = [w.get("stress") or w["word"].strip() for w in phrase["words"]]
    _units, used = expand(written, lexicon)
    return Memo.key(PHRASE_STAGE, PHRASE_VERSION, stress, written, sorted(used.items()))


def run(ctx: Context) -> Output:
    source = (ctx.all("transcribe") or ctx.all("script"))[0]
    lexicon = dict(ctx.settings.lexicon)
    heard: list[Phrase] = contracts.heard(source)["phrases"]
    who = ctx.all("speakers")
    if who:  # each phrase gets its speaker; one holding a turn change is split there
        from ..engines.speakers import label_phrases

        heard = label_phrases(heard, contracts.speakers_found(who[0])["turns"])
    phrases: list[StressedPhrase] = []
    for phrase in heard:
        key = phrase_key(phrase, lexicon, ctx.settings.stress)
        found = ctx.memo.get(PHRASE_STAGE, key)
        tokens: list[Token]
        if found is not None:
            tokens = found.meta["tokens"]
        else:
            tokens = say(phrase["words"], lexicon, ctx.settings.stress)
            ctx.memo.put(PHRASE_STAGE, key, {"tokens": tokens})
        phrases.append({**phrase, "tokens": tokens, "stressed": " ".join(t["text"] for t in tokens), "key": key})
    told = contracts.heard(source)
    return Output(StressMeta(index=told["index"], span=told["span"], phrases=phrases))


def warm_up(settings: Settings) -> None:
    from ..engines import normalize  # noqa: F401  (its tables)

    if settings.stress:
        from ..engines.stress import warm_up as load_model

        load_model()


STAGE = Stage("stress", 2, ("stress", "lexicon"), run, warm_up=warm_up)

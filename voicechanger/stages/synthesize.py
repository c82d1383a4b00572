"""synthesize: each phrase said by the chosen voice.

Where the voice has a native rate control (Silero's SSML rate), the phrase is first fitted to the
original's length with it, and PSOLA in the prosody stage only does the rest. Festival's clunits voice
ignores Duration_Stretch (measured: identical audio at 0.7, 1.0 and 1.5), so any fitting there would
be a second PSOLA pass on top of the prosody stage's: it is said once at its natural rate instead.

Only a phrase the voice cannot say (Unsayable: nothing in it it can read) is recorded as unsaid, with
its reason in ``error``; any other failure (an engine that died, hung or was interrupted) propagates,
so the stage fails and nothing is stored (version 1 stored those as unsaid phrases). Each phrase's
success is kept as a memo (base.Memo), so an edited script recomputes only the phrases it changed.
"""

from __future__ import annotations

import logging

import numpy as np

from ..config import Settings
from ..errors import VoiceError
from ..text.phrases import SaidPhrase, StressedPhrase
from . import contracts
from .base import Context, Memo, Output, Stage
from .contracts import SynthesizeMeta

log = logging.getLogger(__name__)


def _voice(settings: Settings, spec=None):
    """A voice (the settings' single voice by default) on the settings' device, loaded once per process
    (engines.tts.get_voice)."""
    from ..engines.asr import resolve_device
    from ..engines.tts import DEFAULT_VOICE, get_voice
    from ..voices.cast import AUTO

    if spec is None or spec == AUTO:  # auto without a speaker to cast (no speech): the backend's voice
        spec = DEFAULT_VOICE if settings.voice == AUTO else settings.voice
    return get_voice(spec, device=resolve_device(settings.device))


PHRASE_STAGE = "synthesize-phrase"
PHRASE_VERSION = 1
REFERENCE_STAGE = "voice-reference"
# What the voice says once (per voice, per store) so that its pitch range is measured on the voice
# itself, not on the text of a chunk: an edited phrase then leaves the other phrases' pitch mapping
# alone. Stress marked by hand, so no model is needed; statements, questions, a list and a request.
REFERENCE_TEXT = (
    "здр+авствуйте! спас+ибо, что позвон+или.",
    "сег+одня мы расск+ажем вам о н+овых возм+ожностях н+ашей сист+емы.",
    "пож+алуйста, остав+айтесь на л+инии, и опер+атор отв+етит вам в ближ+айшее вр+емя.",
    "вы хот+ите продолж+ить?",
    "нажм+ите од+ин, чт+обы просл+ушать сообщ+ения, +или два, чт+обы в+ыйти.",
    "м+ы раб+отаем к+аждый день с дев+яти утр+а до ш+ести в+ечера.",
)
REFERENCE_VERSION = 1


def voice_reference(voice, memo: Memo) -> np.ndarray:
    """The voice saying REFERENCE_TEXT (stored once per voice): its pitch range for the prosody stage."""
    key = Memo.key(REFERENCE_STAGE, REFERENCE_VERSION, voice.spec, REFERENCE_TEXT)
    found = memo.get(REFERENCE_STAGE, key)
    if found is not None:
        return found.array("audio")
    audio = np.concatenate([np.asarray(voice.synthesize(s.split()).audio, dtype=np.float32) for s in REFERENCE_TEXT])
    memo.put(REFERENCE_STAGE, key, {"voice": voice.spec, "sample_rate": voice.sample_rate}, {"audio": audio})
    return audio


def phrase_key(phrase: StressedPhrase, voice, fit: bool) -> str:
    tokens = [t["text"] for t in phrase["tokens"]]
    target = round(phrase["end"] - phrase["start"], 3) if fit else None
    return Memo.key(PHRASE_STAGE, PHRASE_VERSION, voice.spec, tokens, target)


def say_phrase(voice, phrase: StressedPhrase, fit: bool) -> dict:
    """One phrase said: {audio, length, word_spans, rate, error}. Only Unsayable is recorded (and logged);
    any other failure propagates, so that nothing of the chunk is stored."""
    from ..engines.tts import Unsayable, synthesize_to_fit

    tokens = [t["text"] for t in phrase["tokens"]]
    try:
        if fit:
            synthesis, rate = synthesize_to_fit(voice, tokens, phrase["end"] - phrase["start"])
        else:
            synthesis, rate = voice.synthesize(tokens), 1.0
    except Unsayable as exc:
        log.warning("phrase at %.2f s not synthesized: %s", phrase["start"], exc)
        return {"audio": None, "length": 0, "word_spans": None, "rate": 1.0, "error": str(exc)}
    audio = np.asarray(synthesis.audio, dtype=np.float32)
    return {"audio": audio, "length": len(audio), "word_spans": synthesis.word_spans, "rate": round(rate, 4),
            "error": None}


def phrase_voices(ctx: Context, phrases: list[StressedPhrase]) -> tuple[list, list[str | None]]:
    """The voice of each phrase and the speaker it was cast for (None: one voice says everything)."""
    found = ctx.all("speakers")
    if not found:
        return [_voice(ctx.settings)] * len(phrases), [None] * len(phrases)
    from ..voices.cast import cast_voices, speaker_at

    table, turns = contracts.speakers_found(found[0])["speakers"], contracts.speakers_found(found[0])["turns"]
    names = sorted({p["speaker"] for p in phrases if p.get("speaker")})
    cast = cast_voices(table, ctx.settings.voice, ctx.settings.voices, names)
    labels = [p.get("speaker") or speaker_at(turns, p["start"], p["end"]) for p in phrases]
    # A name typed in a script that no mapping gives a voice takes the voice of whoever speaks there.
    spoken = [label if label in cast else speaker_at(turns, p["start"], p["end"]) for label, p in zip(labels, phrases)]
    fallback = cast[table[0]["label"]] if table else ctx.settings.voice
    return [_voice(ctx.settings, cast.get(s, fallback) if s else fallback) for s in spoken], labels


def pitch_later(voice):
    """The voice the phrases are said in: a catalogue voice without its pitch move (its formants only),
    which the prosody stage makes together with the contour's, so the audio goes through one PSOLA
    (engines/tts/changed.py); any other voice as it is."""
    formants_only = getattr(voice, "formants_only", None)
    return formants_only() if formants_only is not None else voice


def run(ctx: Context) -> Output:
    stressed = ctx.one("stress")
    stressed_phrases: list[StressedPhrase] = contracts.stressed(stressed)["phrases"]
    voices, speakers = phrase_voices(ctx, stressed_phrases)
    voices = [pitch_later(v) for v in voices]
    distinct = list(dict.fromkeys(voices))  # in order of first use
    if len({v.sample_rate for v in distinct}) > 1:
        raise VoiceError("voices " + ", ".join(v.spec.split("=")[0] for v in distinct) + " speak at different "
                         "sample rates and cannot share a recording; cast voices of one backend")
    pieces: list[np.ndarray] = []
    phrases: list[SaidPhrase] = []
    offset = fresh = 0
    for phrase, voice, speaker in zip(stressed_phrases, voices, speakers):
        fit = bool(ctx.settings.prosody.fit_rate and getattr(voice, "native_rate", False))
        key = phrase_key(phrase, voice, fit)
        entry: SaidPhrase = {"offset": offset, "length": 0, "word_spans": None, "rate": 1.0, "error": None, "key": key}
        if speaker is not None:
            entry.update({"speaker": speaker, "voice": distinct.index(voice)})
        if phrase["tokens"]:
            found = ctx.memo.get(PHRASE_STAGE, key)
            if found is not None:
                said = {**found.meta, "audio": found.array("audio")}
            else:
                said = say_phrase(voice, phrase, fit)
                fresh += 1
                if said["error"] is None:  # store success only: a failure is tried again next time
                    ctx.memo.put(PHRASE_STAGE, key, {k: said[k] for k in ("length", "word_spans", "rate")},
                                 {"audio": said["audio"]})
            # A memo holds no error: only successes are stored.
            entry.update({"length": said["length"], "word_spans": said["word_spans"], "rate": said["rate"],
                          "error": said.get("error")})
            if said["audio"] is not None and said["length"]:
                pieces.append(np.asarray(said["audio"], dtype=np.float32))
                offset += said["length"]
        phrases.append(entry)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    first = distinct[0] if distinct else pitch_later(_voice(ctx.settings))
    arrays = {"audio": audio, "reference": voice_reference(first, ctx.memo)}
    arrays.update({f"reference-{i}": voice_reference(v, ctx.memo) for i, v in enumerate(distinct) if i})
    meta = SynthesizeMeta(index=contracts.stressed(stressed)["index"], sample_rate=first.sample_rate, voice=first.spec,
                          phrases=phrases, fresh=fresh,
                          registers=[getattr(v, "register", None) for v in distinct]
                          or [getattr(first, "register", None)])
    if any(s is not None for s in speakers):
        meta["voices"] = [v.spec for v in distinct]
    return Output(meta, arrays=arrays)


def warm_up(settings: Settings) -> None:
    start = getattr(_voice(settings), "warm_up", None)
    if start is not None:
        start()


STAGE = Stage("synthesize", 4, ("voice", "voices", "voice_catalogue", "prosody.fit_rate"), run, uses_model=True, warm_up=warm_up)

"""The speakers stage on real human voices (tests/dialogues.py): dialogues of 2 and 3 speakers, one
through the phone codec, and 10-minute monologues that must stay one speaker."""

from __future__ import annotations

import itertools

import dialogues as D
import numpy as np
import pytest

from speech import RATE
from voicechanger.engines import speakers as S
from voicechanger.engines import voice_encoder as encoder


def accuracy(recording: D.Recording, found: S.SpeakerMap) -> float:
    """Share of the placed clips (phrases) whose label is right under the best mapping of labels."""
    labelled = S.label_phrases(D.phrases(recording), found["turns"])
    assert len(labelled) == len(recording.pieces), "a phrase of one speaker was split"
    got, truth = [p["speaker"] for p in labelled], [p.speaker for p in recording.pieces]
    names = sorted(set(got))
    best = 0.0
    for chosen in itertools.permutations(recording.speakers, min(len(names), len(recording.speakers))):
        mapping = dict(zip(names, chosen))
        best = max(best, float(np.mean([mapping.get(g) == t for g, t in zip(got, truth)])))
    return best


DIALOGUES = {
    # a woman and a man; two women; two women and a man; the same through the phone codec
    "woman-man": lambda: D.dialogue(("ru", "cs"), 180, seed=11),
    "two-women": lambda: D.dialogue(("ru", "fr"), 180, seed=12),
    "three": lambda: D.dialogue(("ru", "en", "cs"), 180, seed=13),
    "woman-man-phone": lambda: D.through_phone(D.dialogue(("ru", "cs"), 180, seed=14)),
    "three-phone": lambda: D.through_phone(D.dialogue(("ru", "fr", "cs"), 180, seed=18)),
    # with the short clips too (0.2-0.8 s: "yes", a number), whose embeddings scatter
    "two-women-short": lambda: D.dialogue(("ru", "fr"), 180, seed=12, min_clip_s=0.0),
    "three-phone-short": lambda: D.through_phone(D.dialogue(("ru", "fr", "cs"), 180, seed=18, min_clip_s=0.0)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DIALOGUES))
def test_dialogue_speakers(name):
    recording = DIALOGUES[name]()
    found = S.find_speakers(recording.audio, RATE)
    assert len(found["speakers"]) == len(recording.speakers), found["speakers"]
    assert accuracy(recording, found) >= 0.9
    genders = {D.VOICES[v].gender for v in recording.speakers}
    assert {s["gender"] for s in found["speakers"]} == genders


@pytest.mark.slow
def test_forced_count():
    """count=N gives N speakers; on a two-speaker dialogue count=2 finds the same turns as auto."""
    recording = DIALOGUES["two-women"]()
    found = S.find_speakers(recording.audio, RATE, count=2)
    assert len(found["speakers"]) == 2 and accuracy(recording, found) >= 0.9
    assert len(S.find_speakers(recording.audio, RATE, count=1)["speakers"]) == 1


MONOLOGUES = {
    "clean": lambda m: m,
    "phone": D.through_phone,
    "noise-10dB": D.with_noise,
    "mixed": D.mixed_conditions,   # clean, then the phone codec, then quieter over a noise floor
}


@pytest.fixture(scope="module")
def monologue():
    return D.monologue("ru", 600, seed=21)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MONOLOGUES))
def test_monologue_is_one_speaker(monologue, name):
    recording = MONOLOGUES[name](monologue)
    found = S.find_speakers(recording.audio, RATE)
    assert [s["label"] for s in found["speakers"]] == ["Speaker 1"], found["speakers"]
    assert found["speakers"][0]["gender"] == "female"
    assert found["speakers"][0]["seconds"] > 400


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["ru", "en"])
def test_monologue_with_short_prompts_is_one_speaker(voice):
    """Every prompt of the voice, its 0.2-0.8 s ones too: short windows do not gather into a speaker."""
    found = S.find_speakers(D.through_phone(D.monologue(voice, 600, seed=31, min_clip_s=0.0)).audio, RATE)
    assert [s["label"] for s in found["speakers"]] == ["Speaker 1"], found["speakers"]


@pytest.mark.slow
def test_expressive_monologue_is_one_speaker():
    """An actor's lines in many moods (the big fish of Fish Fillets), 10 minutes: one man."""
    found = S.find_speakers(D.monologue("cs", 600, seed=22).audio, RATE)
    assert len(found["speakers"]) == 1 and found["speakers"][0]["gender"] == "male"


# --------------------------------------------------------------------------- label_phrases

TURNS = [[0.5, 4.0, "Speaker 1"], [4.4, 9.0, "Speaker 2"], [9.5, 12.0, "Speaker 1"]]


def _phrase(start: float, end: float, count: int) -> dict:
    edges = np.linspace(start, end, count + 1)
    words = [{"start": float(a), "end": float(b), "word": f" слово{k}", "probability": 0.9}
             for k, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
    return {"start": start, "end": end, "text": " ".join(w["word"].strip() for w in words), "words": words}


def test_phrase_holding_a_turn_change_is_split_at_it():
    phrase = _phrase(2.0, 7.0, 10)  # words every 0.5 s; the change lies in the pause 4.0-4.4
    pieces = S.label_phrases([phrase], TURNS)
    assert [p["speaker"] for p in pieces] == ["Speaker 1", "Speaker 2"]
    assert pieces[0]["end"] == 4.0 and pieces[1]["start"] == 4.0
    assert pieces[0]["text"] == "слово0 слово1 слово2 слово3"
    assert pieces[1]["text"] == " ".join(f"слово{k}" for k in range(4, 10))
    assert [w["word"] for p in pieces for w in p["words"]] == [w["word"] for w in phrase["words"]]


def test_brief_overlap_does_not_split():
    """Another speaker holding under a second of a phrase (an edge off by a little) labels, not splits."""
    pieces = S.label_phrases([_phrase(0.6, 4.6, 8)], TURNS)
    assert [(p["speaker"], p["start"], p["end"]) for p in pieces] == [("Speaker 1", 0.6, 4.6)]


def test_user_speaker_is_kept_and_wordless_phrase_gets_the_majority():
    named = {**_phrase(2.0, 7.0, 10), "speaker": "Olga"}
    wordless = {"start": 4.5, "end": 8.0, "text": "текст", "words": []}
    out = S.label_phrases([named, wordless], TURNS)
    assert out[0] == named and out[0] is not named
    assert out[1]["speaker"] == "Speaker 2" and out[1]["text"] == "текст"
    assert S.label_phrases([_phrase(20.0, 21.0, 2)], TURNS)[0]["speaker"] == "Speaker 1"  # nearest turn


# --------------------------------------------------------------------------- the encoder

def test_mel_frames_match_librosa():
    librosa = pytest.importorskip("librosa")
    audio = D.clip(D.clip_files("ru")[0])
    ours = encoder.mel_frames(audio)
    theirs = librosa.feature.melspectrogram(y=audio, sr=RATE, n_fft=400, hop_length=160, n_mels=40,
                                            pad_mode="reflect").T
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) <= 1e-4 * theirs.max()


def test_embed_tells_voices_apart():
    ru = [D.clip(p) for p in D.usable_clips("ru")[:6]]
    cs = [D.clip(p) for p in D.usable_clips("cs")[:6]]
    a, b = encoder.embed(np.concatenate(ru[:3]), RATE), encoder.embed(np.concatenate(ru[3:]), RATE)
    c = encoder.embed(np.concatenate(cs[:3]), RATE)
    assert a.shape == (256,) and abs(float(np.linalg.norm(a)) - 1) < 1e-5
    assert float(a @ b) > float(a @ c) + 0.15
    assert np.allclose(encoder.embed(np.concatenate(ru[:3])[::2], RATE // 2), a, atol=0.05)  # resampled input


def test_encoder_matches_resemblyzer():
    """The ONNX encoder, on windows of mixed lengths batched together, gives the embeddings of
    Resemblyzer's network as the package writes it (torch, one window at a time, the final hidden
    state through linear, ReLU and L2 norm), with the wheel's weights."""
    torch = pytest.importorskip("torch")
    audio = np.concatenate([D.clip(p) for p in D.usable_clips("ru")[:4]])
    mels = encoder.mel_frames(audio)
    power = encoder.frame_power(audio, len(mels))
    windows = [(0, 160), (40, 90), (100, 260), (300, 341), (200, 360)]
    ours = encoder.embed_frames(mels, power, windows)
    state = torch.load(encoder.weights_path(), map_location="cpu", weights_only=True)["model_state"]
    lstm, linear = torch.nn.LSTM(40, 256, 3, batch_first=True), torch.nn.Linear(256, 256)
    lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
    linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
    for (first, last), mine in zip(windows, ours):
        scaled = mels[first:last] * (1e-3 / float(np.mean(power[first:last])))  # -30 dBFS
        with torch.no_grad():
            _out, (hidden, _cell) = lstm(torch.from_numpy(scaled[None]))
            raw = torch.relu(linear(hidden[-1]))[0].numpy()
        assert float(mine @ (raw / np.linalg.norm(raw))) > 0.9999


def test_encoder_is_exported_where_missing_and_a_bad_file_is_one_line(tmp_path, monkeypatch):
    from voicechanger.errors import VoiceError

    audio = np.concatenate([D.clip(p) for p in D.usable_clips("ru")[:3]])
    before = encoder.embed(audio, RATE)
    monkeypatch.setenv("VOICECHANGER_MODELS", str(tmp_path))
    monkeypatch.setattr(encoder, "_model", None)
    assert np.array_equal(encoder.embed(audio, RATE), before)
    assert encoder.encoder_path().is_file() and str(encoder.encoder_path()).startswith(str(tmp_path))
    encoder.encoder_path().write_bytes(b"not a model")
    monkeypatch.setattr(encoder, "_model", None)
    with pytest.raises(VoiceError) as caught:
        encoder.embed(audio, RATE)
    assert str(encoder.encoder_path()) in str(caught.value) and "make install" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_encoder_is_one_clear_line(monkeypatch):
    import importlib.util

    from voicechanger.errors import VoiceError

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VoiceError) as caught:
        encoder.weights_path()
    assert "resemblyzer" in str(caught.value) and "make install" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_no_speech_gives_no_speakers():
    quiet = np.random.default_rng(0).standard_normal(RATE * 5).astype(np.float32) * 1e-4
    assert S.find_speakers(quiet, RATE) == {"speakers": [], "turns": []}


# --------------------------------------------------------------------------- the stage

@pytest.mark.slow
def test_stage_through_graph(tmp_path):
    """The stage as plan.py makes it: one node on the decode node; cached on a rerun; count in its key."""
    from speech import write_wav
    from voicechanger.config import load_settings
    from voicechanger.graph import Graph, make_node
    from voicechanger.stages import STAGES
    from voicechanger.store import Store, sha256_file

    recording = D.dialogue(("ru", "cs"), 60, seed=31)
    path = tmp_path / "talk.wav"
    write_wav(recording.audio, path)
    settings = load_settings("fast")
    decode = make_node(STAGES.decode, settings, root=sha256_file(path), path=str(path))
    node = make_node(STAGES.speakers, settings, (decode,))
    graph = Graph(Store(tmp_path / "cache"), settings)
    found = graph.ensure(node).meta
    assert len(found["speakers"]) == 2
    assert all(a < b <= c for (a, b, _), (c, _, _) in zip(found["turns"], found["turns"][1:]))
    assert graph.ensure(node).meta == found and graph.ran.count("speakers") == 1
    forced = load_settings("fast", overrides={"speakers.count": 3})
    assert make_node(STAGES.speakers, forced, (decode,)).key != node.key


def test_a_short_recording_is_one_speaker():
    """A prompt of a few seconds has too little speech for two speakers (each needs _MIN_SPEAKER_S): the
    flow's prompts came back as two women before."""
    import soundfile

    from speech import SOUNDS

    names = ["demo-thanks", "vm-intro", "demo-nogo", "demo-moreinfo", "vm-goodbye", "conf-getpin"]
    for name in names:
        audio, rate = soundfile.read(str(SOUNDS / f"{name}.wav"), dtype="float32")
        assert len(S.find_speakers(audio, rate)["speakers"]) == 1, name

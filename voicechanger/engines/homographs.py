"""silero-stress's homograph step (its ``HomoSolver``) in numpy, so that stress marking never imports torch.

silero-stress resolves a homograph (з+амок / зам+ок, всё / все) from the words around it: first by its
phrase patterns, then by a small BERT (3 layers, 312 wide, 12 heads) that reads up to 150 characters
on either side and picks one of the word's two readings. Importing torch and unpickling the model
for that costs about 3 s of CPU and 250 MB in every process that meets a homograph, which is nearly
every recording, and it ran beside Whisper, holding the interpreter's lock. So the model's weights,
its tokenizer's state, the homograph dictionary and the phrase patterns are exported once from the
loaded torch model (``export``, beside the word step's tables: engines/accentor.py) and this module
runs the same steps in numpy. ``tests/test_stress.py`` checks that it picks what the torch model picks.

The tokenizer is silero-stress's own pure-Python ``SimpleBertTokenizer`` (MIT), whose source is
copied from the package into the export folder and loaded from there with its exported state. The
steps below follow ``HomoSolver.__call__`` in order, with the options stress.py uses (stress and ё,
no stress on one-vowel words, no user patterns). As there, a batch of several homographs is padded
to its longest member and the padding is attended to (the model gets no attention mask), so a
homograph's reading can depend on the others of its phrase; the batch is formed the same way here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, Callable

import numpy as np

__all__ = ["HomographSolver", "export", "ready"]

META = "homographs.json"          # written last: its presence says the export is complete
WEIGHTS = "homographs.npz"
EMBEDDINGS = "homographs-embeddings.npy"  # the word embeddings, quantized as shipped (memory-mapped)
TOKENIZER_SOURCE = "bert_tokenizer.py"

_VOWELS = "аоуыэиеяёю"  # HomoSolver.vowels, in its order
_WORD = re.compile(r"(?=.*[а-яё])[а-яё+]+", re.IGNORECASE)
_WINDOW = 300  # HomoSolver.window_size: characters of context around a homograph, half on each side
_LAYER_NORM_EPS = np.float32(1e-12)
_CLEAN_STEPS = (  # HomoSolver._clean_text's substitutions, in its order
    (re.compile(r"[^a-zA-Zа-яА-ЯёЁ0-9\s.!?,\-]"), ""),
    (re.compile(r"\s+"), " "),
    (re.compile(r"-{2,}"), " - "),
    (re.compile(r"([.!?])\1+"), r"\1"),
    (re.compile(r",{2,}"), ","),
    (re.compile(r"\s+([.,!?])"), r"\1"),
    (re.compile(r"([.!?])\1+"), r"\1"),
    (re.compile(r",{2,}"), ","),
    (re.compile(r"([.,!?])(?=\S)"), r"\1 "),
    (re.compile(r"\s+"), " "),
)


def ready(folder: Path) -> bool:
    return (folder / META).is_file()


def export(model: Any, folder: Path, tokenizer_source: str) -> None:
    """Write the homograph step of a loaded silero-stress model (``model.homosolver``, with its word
    embeddings already dequantized as ``load_accentor`` does) into ``folder``; the metadata file goes
    last and atomically, so a reader never meets half an export."""
    if ready(folder):
        return
    solver = model.homosolver
    bert = solver.model.bert
    state = {k: v.detach().cpu().numpy() for k, v in solver.model.state_dict().items()}
    words = state.pop("bert.embeddings.word_embeddings.weight")
    scale = np.float32(bert.scale.item())
    zero_point = np.float32(bert.zero_point.item())
    quantized = np.rint(words / scale + zero_point)
    if quantized.min() < -128 or quantized.max() > 127:
        raise ValueError("silero-stress word embeddings: not int8-quantized as expected")
    quantized = quantized.astype(np.int8)
    if not np.array_equal(_dequantize(quantized, scale, zero_point), words):
        raise ValueError("silero-stress word embeddings: the int8 form does not give the model's values")
    state = {k: v for k, v in state.items() if not k.endswith(("position_ids", "token_type_ids"))}
    tokenizer = solver.tokenizer
    meta = {
        "scale": float(scale),
        "zero_point": float(zero_point),
        "heads": _heads(solver.model),
        "layers": len([k for k in state if k.endswith("attention.self.query.weight")]),
        "tokenizer": _plain_state(tokenizer),
        "basic_tokenizer": _plain_state(tokenizer.basic_tokenizer),
        "wordpiece_tokenizer": {k: v for k, v in _plain_state(tokenizer.wordpiece_tokenizer).items() if k != "vocab"},
        "homodict": solver.homodict,
        "phrases": {word: (pattern.pattern, pattern.flags) for word, pattern in solver.compiled_phrases.items()},
    }
    folder.mkdir(parents=True, exist_ok=True)
    part = f".{os.getpid()}.part"
    _write_atomic(folder / EMBEDDINGS, part, lambda f: np.save(f, quantized))
    _write_atomic(folder / WEIGHTS, part, lambda f: np.savez(f, **state))
    _write_atomic(folder / TOKENIZER_SOURCE, part, lambda f: f.write(tokenizer_source.encode("utf-8")))
    _write_atomic(folder / META, part, lambda f: f.write(json.dumps(meta, ensure_ascii=False).encode("utf-8")))


def _heads(model: Any) -> int:
    return int(getattr(model.bert.encoder.layer, "0").attention.self.num_attention_heads)


def _write_atomic(target: Path, part: str, write: Callable[[BinaryIO], Any]) -> None:
    tmp = target.with_name(target.name + part)
    with open(tmp, "wb") as handle:
        write(handle)
    os.replace(tmp, target)


def _plain_state(obj: Any) -> dict[str, Any]:
    """An object's attributes that JSON can hold (sets as sorted lists, mappings as they are)."""
    state: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if isinstance(value, (set, frozenset)):
            state[key] = {"set": sorted(value)}
        elif isinstance(value, dict):
            state[key] = dict(value)
        elif isinstance(value, (str, int, float, bool)) or value is None:
            state[key] = value
    return state


def _restore(value: Any) -> Any:
    return set(value["set"]) if isinstance(value, dict) and set(value) == {"set"} else value


def _dequantize(quantized: np.ndarray, scale: np.float32, zero_point: np.float32) -> np.ndarray:
    """``scale * (weight - zero_point)`` in float32, as silero-stress's loader computes it."""
    return scale * (quantized.astype(np.float32) - zero_point)


def _load_tokenizer_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("voicechanger_silero_bert_tokenizer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HomographSolver:
    """``HomoSolver(sentence, stress_single_vowel=False)`` of silero-stress, in numpy."""

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        self.homodict: dict[str, list[str]] = meta["homodict"]
        self._phrase_args: dict[str, tuple[str, int]] = {w: (a[0], a[1]) for w, a in meta["phrases"].items()}
        self._phrases: dict[str, re.Pattern[str]] = {}
        self.tokenizer = self._tokenizer(folder, meta)
        with np.load(folder / WEIGHTS) as weights:
            self.weights = {k: weights[k] for k in weights.files}
        self.embeddings = np.load(folder / EMBEDDINGS, mmap_mode="r")
        self.scale, self.zero_point = np.float32(meta["scale"]), np.float32(meta["zero_point"])
        self.heads, self.layers = int(meta["heads"]), int(meta["layers"])

    @staticmethod
    def _tokenizer(folder: Path, meta: dict[str, Any]) -> Any:
        """silero-stress's SimpleBertTokenizer with its exported state (no files of its own to read)."""
        module = _load_tokenizer_module(folder / TOKENIZER_SOURCE)
        tokenizer = module.SimpleBertTokenizer.__new__(module.SimpleBertTokenizer)
        tokenizer.__dict__.update({k: _restore(v) for k, v in meta["tokenizer"].items()})
        tokenizer.ids_to_tokens = {i: t for t, i in tokenizer.vocab.items()}
        basic = module.BasicTokenizer.__new__(module.BasicTokenizer)
        basic.__dict__.update({k: _restore(v) for k, v in meta["basic_tokenizer"].items()})
        wordpiece = module.WordpieceTokenizer.__new__(module.WordpieceTokenizer)
        wordpiece.__dict__.update(meta["wordpiece_tokenizer"])
        wordpiece.vocab = tokenizer.vocab
        tokenizer.basic_tokenizer, tokenizer.wordpiece_tokenizer = basic, wordpiece
        return tokenizer

    def is_homograph(self, word: str) -> bool:
        return word in self.homodict or word in self._phrase_args

    def context_free(self, words: list[str]) -> bool:
        """True when no word is one this step looks at: then it leaves the phrase as it is."""
        return not any(self.is_homograph(w) for w in words)

    # -- HomoSolver.__call__ ---------------------------------------------------------------------
    def __call__(self, sentence: str) -> str:
        places: list[tuple[int, int, str]] = []
        by_pattern: list[str | None] = []
        batch: list[list[int]] = []
        for match in _WORD.finditer(sentence):
            word = match.group()
            lower = word.lower()
            if not self.is_homograph(lower):
                continue
            start, end = match.span()
            before = _clean_text(sentence[:start], is_start=True)[-(_WINDOW // 2):]
            after = _clean_text(sentence[end:], is_start=False)[:_WINDOW // 2]
            marked = f"{before} [HOMO] {lower} [/HOMO] {after}".strip()
            reading = _by_pattern(self._phrase(lower), marked) if lower in self._phrase_args else None
            if reading is None:
                if lower not in self.homodict:
                    continue
                batch.append(self.tokenizer(marked))
            places.append((start, end, word))
            by_pattern.append(reading)
        if not places:
            return sentence
        chosen = iter(self._choose(batch) if batch else [])
        result, offset = sentence, 0
        for (start, end, word), reading in zip(places, by_pattern):
            if reading is None:
                reading = sorted(self.homodict[word.lower()])[next(chosen)]
            start, end = start + offset, end + offset
            vowels = sum(c.lower() in _VOWELS for c in reading)
            stress_at = reading.index("+")
            plain = reading.replace("+", "")
            plain = "".join(c2.lower() if c1.islower() else c2.upper() for c1, c2 in zip(word, plain))
            if vowels > 1:  # stress_single_vowel=False: a one-vowel word gets no mark
                plain = plain[:stress_at] + "+" + plain[stress_at:]
                offset += 1
            result = result[:start] + plain + result[end:]
        return result

    def _phrase(self, word: str) -> re.Pattern[str]:
        """The word's phrase pattern, compiled on first use (1,477 of them; a text meets a handful)."""
        pattern = self._phrases.get(word)
        if pattern is None:
            pattern = self._phrases[word] = re.compile(*self._phrase_args[word])
        return pattern

    # -- the model -------------------------------------------------------------------------------
    def _choose(self, batch: list[list[int]]) -> list[int]:
        """Which of its (sorted) readings each tokenized homograph context takes: 0 or 1."""
        logits = self.logits(batch)
        probability = (np.float32(1) / (np.float32(1) + np.exp(-logits))).astype(np.float32)
        return [int(p) for p in np.round(probability)]

    def logits(self, batch: list[list[int]]) -> np.ndarray:
        """The model's logit per sequence (``HomoSolverClean.forward``); the batch is padded as there."""
        tok = self.tokenizer
        longest = max(len(ids) for ids in batch)
        ids = np.full((len(batch), longest), tok.pad_token_id, dtype=np.int64)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)] = seq
        hidden = self._encode(ids)
        features = []
        for row, seq in enumerate(batch):
            start, end = seq.index(tok.homo_start_id), seq.index(tok.homo_end_id)
            word = hidden[row, start + 1:end].mean(axis=0, dtype=np.float32)
            features.append(np.concatenate([hidden[row, start], word]))
        w = self.weights
        x = np.maximum(np.stack(features) @ w["homo_clf.0.weight"].T + w["homo_clf.0.bias"], np.float32(0))
        return (x @ w["homo_clf.3.weight"].T + w["homo_clf.3.bias"])[:, 0]

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        w = self.weights
        x = _dequantize(self.embeddings[ids], self.scale, self.zero_point)
        x = x + w["bert.embeddings.token_type_embeddings.weight"][0]
        x = x + w["bert.embeddings.position_embeddings.weight"][:ids.shape[1]]
        x = _layer_norm(x, w, "bert.embeddings.LayerNorm")
        for layer in range(self.layers):
            x = self._layer(x, f"bert.encoder.layer.{layer}")
        return x

    def _layer(self, x: np.ndarray, name: str) -> np.ndarray:
        w = self.weights
        batch, length, width = x.shape
        size = width // self.heads

        def heads(part: str) -> np.ndarray:
            y = _linear(x, w, f"{name}.attention.self.{part}")
            return y.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        query, key, value = heads("query"), heads("key"), heads("value")
        scores = (query @ key.transpose(0, 1, 3, 2)) / np.sqrt(np.float32(size))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        context = (probs @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = _layer_norm(_linear(context, w, f"{name}.attention.output.dense") + x, w,
                        f"{name}.attention.output.LayerNorm")
        inner = _gelu(_linear(x, w, f"{name}.intermediate.dense"))
        return _layer_norm(_linear(inner, w, f"{name}.output.dense") + x, w, f"{name}.output.LayerNorm")


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True, dtype=np.float32)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True, dtype=np.float32)
    return (x - mean) / np.sqrt(var + _LAYER_NORM_EPS) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """torch.gelu (the exact, erf form)."""
    from scipy.special import erf

    return (x * np.float32(0.5) * (np.float32(1) + erf(x / np.float32(np.sqrt(2))))).astype(np.float32)


def _clean_text(text: str, is_start: bool) -> str:
    """HomoSolver._clean_text: the context on one side of a homograph, normalised as the model saw it."""
    if not text:
        return ""
    for pattern, replacement in _CLEAN_STEPS:
        text = pattern.sub(replacement, text)
    text = text.strip()
    if is_start:
        text = text.lstrip(" .,!?-")
        if text:
            text = text[0].upper() + text[1:].lower()
    else:
        if text:
            text = text[0] + text[1:].lower()
        if text and text[-1] not in ".!?":
            text += "."
    return text


def _by_pattern(pattern: re.Pattern[str], text: str) -> str | None:
    """HomoSolver._predict_with_pattern: the reading whose phrase matches (its group name holds the
    stressed vowel in upper case), or None."""
    match = pattern.search(text)
    if match:
        for name, matched in match.groupdict().items():
            if matched is not None:
                for i, c in enumerate(name):
                    if c.isupper():
                        return name[:i] + "+" + name[i:].lower()
                return None
    return None

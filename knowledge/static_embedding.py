"""A static embedding distilled from all-MiniLM-L6-v2: numpy and the standard library, no torch (issue 15).

One vector per word piece of MiniLM's vocabulary (`knowledge/static/`, made once by
bench/distill_static_embedding.py from the packaged model; nothing is downloaded); a text's vector is the
mean of its word pieces' vectors, L2-normalised. The command line embeds a query this way in milliseconds
where the transformer takes ~6 s and ~500 MB to load (docs/benchmarks.md, "First hour").

Word pieces are cut as BERT's uncased tokenizer cuts them (the one MiniLM was trained with): text cleaned of
control characters, lower-cased, accents stripped, split on white space and punctuation, then each word
greedily into the longest pieces of the vocabulary, continuations prefixed `##`
(https://github.com/google-research/bert/blob/master/tokenization.py, `BasicTokenizer` and
`WordpieceTokenizer`, described there; tests/test_kb_static_embedding.py checks the pieces against the
model's own tokenizer on real log lines).
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from knowledge.config import STATIC_MODEL

TABLE_DIR = Path(__file__).with_name("static")
_MAX_WORD = 100  # BERT's limit: a longer "word" is one unknown piece
_MAX_PIECES = 512  # a text's first pieces only; MAX_EMBED_CHARS (knowledge/text.py) cuts texts first anyway


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    # BERT treats every non-alphanumeric ASCII character as punctuation, and Unicode's P* categories
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


# CJK ideographs are words of their own for BERT (its `_is_chinese_char` ranges)
_CJK = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)  # fmt: skip


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _CJK)


def _words(text: str) -> list[str]:
    """BERT's basic tokenizer, uncased: clean, lower-case, strip accents, split on spaces and punctuation."""
    out: list[str] = []
    for raw in text.lower().split():
        word = "".join(
            c
            for c in unicodedata.normalize("NFD", raw)
            if unicodedata.category(c) != "Mn" and not unicodedata.category(c).startswith("C")
        )
        start = 0
        for i, char in enumerate(word):
            if _is_punctuation(char) or _is_cjk(char):
                if i > start:
                    out.append(word[start:i])
                out.append(char)
                start = i + 1
        if start < len(word):
            out.append(word[start:])
    return out


class WordPieces:
    """The vocabulary and the greedy longest-match-first split of a word into its pieces."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self._ids = {piece: i for i, piece in enumerate(vocab)}
        self._unknown = self._ids["[UNK]"]
        self.split = functools.lru_cache(maxsize=65536)(self._split)  # log words repeat a lot

    def _split(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD:
            return (self._unknown,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self._ids.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self._unknown,)
            pieces.append(found)
            start = end
        return tuple(pieces)

    def ids(self, text: str) -> list[int]:
        out: list[int] = []
        for word in _words(text):
            out.extend(self.split(word))
            if len(out) >= _MAX_PIECES:
                return out[:_MAX_PIECES]
        return out


@functools.cache
def _load(directory: Path) -> tuple[WordPieces, npt.NDArray[np.float32]]:
    vocab = (directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
    table = np.load(directory / "minilm-static.npy").astype(np.float32)
    if table.shape[0] != len(vocab):
        raise ValueError(f"{directory}: {table.shape[0]} vectors for {len(vocab)} word pieces")
    return WordPieces(vocab), table


class StaticEmbedder:
    """Mean of the distilled word-piece vectors, L2-normalised; loads its table (~8 MB) on first use."""

    def __init__(self, directory: Path = TABLE_DIR) -> None:
        self._directory = directory
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return STATIC_MODEL

    @property
    def dims(self) -> int:
        return int(self._table()[1].shape[1])

    def _table(self) -> tuple[WordPieces, npt.NDArray[np.float32]]:
        with self._lock:  # functools.cache does not stop two threads loading at once
            return _load(self._directory)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        pieces, table = self._table()
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = pieces.ids(text)
            if ids:
                out[row] = table[ids].mean(axis=0)
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:  # an empty text still needs a valid unit vector for cosine space
                out[row, 0] = 1.0
        return out

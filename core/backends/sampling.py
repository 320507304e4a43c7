"""Log-softmax and next-token choice in numpy, identical for every backend.

Doing this outside torch and onnxruntime means a model and its ONNX export make the same
choices from the same logits, and a seed gives the same text on any machine.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, float32, with a float64-accumulated normaliser."""
    x = np.asarray(logits, dtype=np.float32)
    top = x.max(axis=-1, keepdims=True)
    total = np.exp(x - top).sum(axis=-1, keepdims=True, dtype=np.float64)
    return (x - top - np.log(total)).astype(np.float32)


def token_logprobs(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Log-probability (float64) of ``targets[t]`` under the distribution ``logits[t]``."""
    x = np.asarray(logits, dtype=np.float32)
    top = x.max(axis=-1)
    total = np.exp(x - top[:, None]).sum(axis=-1, dtype=np.float64)
    picked = x[np.arange(x.shape[0]), targets].astype(np.float64)
    return picked - top.astype(np.float64) - np.log(total)


def prompt_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of prompt ``index``: independent of batching and of other prompts."""
    return np.random.default_rng([int(seed) % 2**63, int(index)])


def choose_token(
    logits: np.ndarray,
    rng: np.random.Generator | None,
    greedy: bool,
    temperature: float = 1.0,
    top_p: float = 1.0,
) -> int:
    """Pick the next token: argmax when greedy, else temperature + nucleus (top-p) sampling."""
    x = np.asarray(logits, dtype=np.float64)
    if greedy or rng is None:
        return int(np.argmax(x))
    x = x / temperature
    probs = np.exp(x - x.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    sorted_probs = probs[order]
    if top_p < 1.0:
        cumulative = np.cumsum(sorted_probs)
        keep = int(np.searchsorted(cumulative, top_p) + 1)  # smallest set reaching top_p
        sorted_probs = sorted_probs[:keep] / sorted_probs[:keep].sum()
        order = order[:keep]
    cdf = np.cumsum(sorted_probs)
    pick = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return int(order[min(pick, len(order) - 1)])


def check_sampling_args(
    max_new_tokens: int, greedy: bool, temperature: float, top_p: float
) -> None:
    """Reject settings that have no meaning, with a message naming the setting."""
    if max_new_tokens < 0:
        raise ValueError("max_new_tokens must be 0 or more")
    if not greedy and not temperature > 0:
        raise ValueError("temperature must be greater than 0 when sampling")
    if not 0.0 < top_p <= 1.0:
        raise ValueError("top_p must be in (0, 1]")

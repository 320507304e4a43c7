"""Aligning two networks' hidden units, and the exact independence test, for weight lineage.

A network computes the same function after two kinds of relabelling that a fine-tuner (or
someone hiding a fine-tune) can apply without retraining:

* an orthogonal change of basis of the residual stream (a rotation; a permutation of the
  residual dimensions is the special case). The embedding and every matrix reading the
  residual stream are multiplied by ``Q``, every matrix writing to it by ``Qᵀ``, and the
  normalisation gains are folded into the readers. For LayerNorm (which centres) ``Q`` must
  keep the all-ones direction; for RMSNorm any ``Q`` works;
* a permutation of each MLP's hidden units (rows of its input matrix, columns of its output
  matrix, together).

This module undoes both. The residual basis is recovered by **orthogonal Procrustes** on
the input embeddings (rows of the same tokens; columns centred over those rows): the
orthogonal ``R`` that maps the suspect's embedding closest to the base's. ``R`` undoes any
rotation, not only permutations, so a rotated copy is aligned exactly. Each MLP's units are
then matched with the Hungarian algorithm on the rows of the input matrices (normalisation
gains folded in, then rotated by ``R``).

It also holds the basic exact test of Zhu, Ahmed, Kuditipudi & Liang, "Independence tests
for language models" (ICML 2025): under the null that the two models were initialised
independently, with an initialisation that is invariant to permutations of MLP units and a
training procedure that is equivariant to them (true of Gaussian initialisation and SGD or
Adam), the matching of one layer's units is a uniformly random permutation, so its Spearman
correlation with the identity has a known null distribution; layers are independent
permutations. The test is exact whatever data either model was trained on. Nothing here
reads the MLP units' own order when computing ``R``, so aligning the residual stream first
keeps it exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_NORM_BEFORE_MLP = ("ln_2", "post_attention_layernorm", "ffn_norm", "final_layer_norm", "ln_mlp")
_LAYER = re.compile(r"\.(\d+)\.")


def standardise_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length, so a dot product is a Pearson correlation."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def match(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """perm such that row i of ``a`` is matched with row perm[i] of ``b`` (largest total
    Pearson correlation, Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    corr = standardise_rows(a) @ standardise_rows(b).T
    rows, cols = linear_sum_assignment(corr, maximize=True)
    perm = np.empty(a.shape[0], dtype=np.int64)
    perm[rows] = cols
    return perm


def cross_block(suspect: np.ndarray, base: np.ndarray) -> np.ndarray:
    """One block's share of the Procrustes cross-product: ``sᵀ·b`` of the column-centred
    blocks (rows paired: the same token, or matched units), scaled to unit Frobenius norm
    each, so that blocks of any size and scale weigh alike. Centring columns commutes with a
    rotation, so a rotated copy still gives back its rotation exactly."""
    s = np.asarray(suspect, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    s = s - s.mean(axis=0, keepdims=True)
    b = b - b.mean(axis=0, keepdims=True)
    ns, nb = float(np.linalg.norm(s)), float(np.linalg.norm(b))
    return (s.T @ b) / (ns * nb if ns > 0 and nb > 0 else 1.0)


def rotation_from(cross: np.ndarray) -> np.ndarray:
    """The orthogonal ``R`` maximising ``trace(Rᵀ·cross)``: with ``cross`` the sum of
    :func:`cross_block` over paired blocks, the ``R`` minimising ``|suspect·R - base|``."""
    u, _, vt = np.linalg.svd(cross)
    return u @ vt


def procrustes(suspect: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The orthogonal ``R`` minimising ``|suspect·R - base|`` for [rows, hidden] blocks."""
    return rotation_from(cross_block(suspect, base))


def norm_gain(w: Mapping[str, np.ndarray], layer: int, hidden: int) -> np.ndarray | None:
    """The gain of the normalisation feeding a layer's MLP (folded into its input matrix)."""
    for name in sorted(w):
        m = _LAYER.search(name)
        if (
            m
            and int(m.group(1)) == layer
            and name.endswith(".weight")
            and name.rsplit(".", 2)[-2] in _NORM_BEFORE_MLP
            and shape_of(w, name) == (hidden,)
        ):
            return np.asarray(w[name], dtype=np.float64)
    return None


def shape_of(w: Mapping[str, np.ndarray], name: str) -> tuple[int, ...]:
    """A tensor's shape; read from the file header, not the data, when ``w`` streams
    (:class:`core.checks.lineage.StreamedWeights`)."""
    shape = getattr(w, "shape", None)
    if callable(shape):
        return tuple(shape(name))
    return tuple(w[name].shape)


def token_rows(
    base_folder: str | Path, suspect_folder: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the tokens both tokenizers share (same token string), base then suspect.

    Lets the embeddings be compared token by token even when the vocabularies differ (an
    extended vocabulary, or an unrelated tokenizer). Empty arrays when either folder has no
    readable ``tokenizer.json``.
    """
    vocabs = [_vocab(Path(f)) for f in (base_folder, suspect_folder)]
    if not all(vocabs):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    vb, vs = vocabs
    shared = sorted(set(vb) & set(vs), key=lambda t: vb[t])
    return (
        np.array([vb[t] for t in shared], dtype=np.int64),
        np.array([vs[t] for t in shared], dtype=np.int64),
    )


def _vocab(folder: Path) -> dict[str, int]:
    try:
        data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    model = data.get("model") or {}
    vocab = model.get("vocab")
    out: dict[str, int] = {}
    if isinstance(vocab, dict):
        out = {str(k): int(v) for k, v in vocab.items()}
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        out = {str(p[0]): i for i, p in enumerate(vocab) if isinstance(p, list) and p}
    for tok in data.get("added_tokens") or []:
        if isinstance(tok, dict) and "content" in tok and "id" in tok:
            out[str(tok["content"])] = int(tok["id"])
    return out


def spearman_with_identity(perm: np.ndarray) -> float:
    """Spearman's rho between a permutation and the identity (1: the order is kept)."""
    m = perm.shape[0]
    if m < 2:
        return 0.0
    d = perm.astype(np.float64) - np.arange(m, dtype=np.float64)
    return float(1.0 - 6.0 * float(d @ d) / (m * (m * m - 1.0)))


@dataclass(frozen=True)
class ExactTest:
    """Zhu et al.'s exact test: mean Spearman rho of the unit matchings, its exact p."""

    statistic: float  # mean over layers of Spearman(matching, identity)
    per_layer: tuple[float, ...]
    p_value: float  # (1 + k) / (N + 1)
    exceed: int  # k: null draws at least as large as the statistic
    n_resamples: int
    residual_aligned: bool  # True: residual basis aligned by Procrustes first

    def to_dict(self) -> dict[str, object]:
        return {
            "statistic": self.statistic,
            "per_layer": list(self.per_layer),
            "p_value": self.p_value,
            "exceed": self.exceed,
            "n_resamples": self.n_resamples,
            "residual_aligned": self.residual_aligned,
        }


def exact_independence_test(
    matchings: Sequence[np.ndarray],
    *,
    n_resamples: int,
    rng: np.random.Generator,
    residual_aligned: bool,
) -> ExactTest:
    """PERMTEST of Zhu et al. with the Spearman statistic, by Monte Carlo.

    Permuting the suspect's units of layer l by a uniform π turns that layer's matching σ
    into π∘σ (the matching is equivariant), so each null draw is the mean over layers of
    Spearman(π_l, identity) for independent uniform π_l; p = (1 + k) / (N + 1) is exact.
    """
    rho = tuple(spearman_with_identity(p) for p in matchings)
    observed = float(np.mean(rho))
    null = np.empty(n_resamples)
    for k in range(n_resamples):
        null[k] = np.mean([spearman_with_identity(rng.permutation(p.shape[0])) for p in matchings])
    exceed = int(np.count_nonzero(null >= observed - 1e-12))
    return ExactTest(
        statistic=observed,
        per_layer=rho,
        p_value=(1 + exceed) / (n_resamples + 1),
        exceed=exceed,
        n_resamples=n_resamples,
        residual_aligned=residual_aligned,
    )

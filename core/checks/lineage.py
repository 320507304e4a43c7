"""Check 5, weight lineage (white-box): is the suspect a fine-tune of a given base model?

This check answers "derived from the base model?", never anything about outputs or
distillation, so it speaks on its own scale ("consistent with derivation from the base",
"no evidence of derivation"), never of Hp or Hd.

A network computes the same function after its residual stream is rotated (embedding and
readers multiplied by an orthogonal Q, writers by Qᵀ, normalisation gains folded in) or its
MLP units are reordered, so the suspect is first aligned to the base
(:mod:`core.checks.lineage_align`): the residual basis by orthogonal Procrustes on the
input embeddings (rows of the tokens both tokenizers share), then each compared layer's MLP
units by the Hungarian algorithm on the rows of the MLP *input* matrices.

Two statistics, each with its own null and p = (1+k)/(N+1) (printed "≤ 1/(N+1)" when no
resample reached the observed value):

* **aligned weight match** (the effect size): the mean, over residual rows, of the Pearson
  correlation between the base's and the aligned suspect's MLP *output* matrices, tensors
  the alignment never saw. It is invariant to rotations of the residual stream and to
  reorderings of units. Its null is that the aligned units and residual rows are paired
  with the base's no better than a random pairing; the permutation test over N random
  pairings is exact for that null. Independently trained models can share structure
  (convergent learning) beyond a random pairing, so a match counts only at a mean
  correlation of at least the minimum fixed in the specification (0.3).
* **exact independence test** (Zhu, Ahmed, Kuditipudi & Liang 2025): the mean over layers
  of the Spearman correlation between the unit matching and the identity. Its null is
  *independent initialisation*; it is exact (whatever the training data) when the
  initialisation is invariant to, and training equivariant to, permutations of MLP units.
  It is computed after the residual alignment (which does not read the units' order, so it
  stays exact); the published form without that alignment is reported too. A statistic
  that undoes every reordering is invariant to the very permutations such a test draws, so
  no test of this kind is exact for reordered units: a suspect whose units were reordered is
  "consistent with derivation only after realigning reordered units", without an exact p,
  and only when its realigned weights are nearly identical to the base's (r ≥ 0.9).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.backends.folders import safetensors_files
from core.checks import lineage_align as la
from core.checks.available import AvailableInputs
from core.checks.framework import (
    WEIGHTS_PASS,
    CheckResult,
    CheckSpec,
    ReferenceComparison,
    Verdict,
    declined,
)
from core.checks.plugin import Check, CheckData, RunContext
from core.checks.stats import bootstrap_ci
from core.errors import DeclinedError, ModelLoadError
from core.jobs import JobState

MIN_SIMILARITY = 0.3
# Reordered units leave no exact test (see the module docstring), and independent models
# that share much structure can match at 0.6 (tests/test_lineage_null.py): a reordered copy
# is recognised only when nearly identical to the base once realigned.
MIN_REALIGNED = 0.9
_EMBED = re.compile(r"(^|\.)(wte|embed_tokens|word_embeddings|tok_embeddings|embed_in)\.weight$")
_LAYER = re.compile(r"\.(\d+)\.")
_MLP_IN = ("c_fc", "up_proj", "fc1", "fc_in", "dense_h_to_4h", "w1", "gate_proj", "w3")
_MLP_OUT = ("c_proj", "down_proj", "fc2", "fc_out", "dense_4h_to_h", "w2")
_MLP_SCOPE = ("mlp", "ffn", "feed_forward", "feedforward")
NULL_LABEL = "random pairing of the aligned hidden units"
EXACT_LABEL = "independent initialisation (exact test of Zhu et al. 2025)"
DERIVED: Verdict = "consistent with derivation"
NOT_DERIVED: Verdict = "no evidence of derivation"
P_MEANING = (
    "A p-value here describes how unusual this match of weights would be if the suspect had "
    "been initialised independently of the base model; it is not the chance that the suspect "
    "was derived from the base, and it says nothing about training on the protected model's "
    "outputs."
)


@dataclass(frozen=True)
class LineageLevel:
    """One step of the weight check's own scale (it never speaks of Hp or Hd)."""

    key: str
    label: str
    definition: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


STRONG = LineageLevel(
    "derived_strong",
    "strongly consistent with derivation from the base",
    "The aligned weights match the base's (mean correlation at least the minimum) and the "
    "exact test rejects independent initialisation at p ≤ 0.001.",
)
CONSISTENT = LineageLevel(
    "derived",
    "consistent with derivation from the base",
    "The aligned weights match the base's (mean correlation at least the minimum) and the "
    "exact test rejects independent initialisation at the chosen alpha.",
)
REALIGNED = LineageLevel(
    "derived_realigned",
    "consistent with derivation from the base only after realigning reordered units",
    "The suspect's hidden units were reordered, so the exact test of independent "
    "initialisation cannot be applied and no exact p-value is given; once realigned, its "
    f"weights are nearly identical to the base's (mean correlation at least {MIN_REALIGNED}), "
    "beyond what independently trained models have been seen to share.",
)
NO_EVIDENCE = LineageLevel(
    "no_evidence",
    "no evidence of derivation from the base",
    "The aligned weights do not match the base's beyond what independently trained models "
    "share. This does not show that the suspect was trained independently.",
)
SCALE: tuple[LineageLevel, ...] = (STRONG, CONSISTENT, REALIGNED, NO_EVIDENCE)

SPEC = CheckSpec(
    key="lineage",
    title="Weight lineage",
    question="Is the suspect derived from the given base model (a fine-tune of its weights), "
    "rather than initialised independently? (This check does not address training on the "
    "protected model's outputs.)",
    access="weights",
    null_hypothesis="The suspect was initialised independently of the base model: its weights, "
    "once aligned, match the base's no better than independently initialised weights would.",
    alternative="The suspect is derived from the base model: its aligned weights match the "
    "base's far better than random pairings of units, and than independent initialisation.",
    test="Residual stream aligned by orthogonal Procrustes on the input embeddings (invariant "
    "to rotations and permutations), MLP units by the Hungarian algorithm on the MLP input "
    "matrices. Statistic: mean row correlation of the MLP output matrices (not used for the "
    "alignment), permutation test against N seeded random pairings, p = (1+k)/(N+1), BCa "
    "bootstrap CI over rows, and a minimum of 0.3. Exact test of independent initialisation "
    "(Zhu et al. 2025): mean Spearman rho of the unit matchings with the identity against N "
    "uniform permutations, p = (1+k)/(N+1).",
    minimum_inputs="The suspect and the base as safetensors folders with the same architecture "
    "(hidden and MLP sizes), at least one MLP layer, and the same vocabulary or tokenizers "
    "sharing at least twice as many tokens as the hidden size.",
    min_effect=MIN_SIMILARITY,
    can_show="Can show that the suspect's weights derive from the given base model; cannot "
    "say anything about training on the protected model's outputs.",
    answers=("weights", "same"),
    addresses_hp=False,
    not_hp_reason="The weight-lineage check answers a different question (is the suspect "
    "derived from the given base model?), so it takes no part in the combined Hp-vs-Hd summary.",
    passes=(WEIGHTS_PASS,),
    inputs=("base_model",),
    effect_name="mean aligned row correlation of the MLP output weights",
)


def p_text(p: float | None, n_resamples: int | None) -> str:
    """'≤ 0.001 (= 1/(N+1), N = 999)' at the Monte Carlo floor, else 'p (N = 999)'."""
    if p is None:
        return "—"
    if not n_resamples:
        return f"{p:.3g}"
    if p <= 1.0 / (n_resamples + 1) + 1e-15:
        return f"≤ {1.0 / (n_resamples + 1):.3g} (= 1/(N+1), N = {n_resamples:,})"
    return f"{p:.3g} (N = {n_resamples:,})"


def read_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeclinedError(
            f"{folder} has no readable config.json ({exc}); the weight check needs the "
            "model's Hugging Face folder."
        ) from exc


class StreamedWeights(Mapping[str, np.ndarray]):
    """The tensors of a model's safetensors files, each read (as float32) only when asked for.

    Names and shapes come from the file headers, so the check holds one layer's matrices of
    each model at a time (plus the embeddings) instead of both whole models: memory is
    bounded by the largest layer, not by the model (a 7B pair stays within a few GB).
    """

    def __init__(self, files: list[Path]) -> None:
        from safetensors import safe_open

        self._where: dict[str, Path] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        for f in files:
            with safe_open(str(f), framework="pt") as fh:
                for key in fh.keys():
                    self._where[key] = f
                    self._shapes[key] = tuple(fh.get_slice(key).get_shape())

    def shape(self, name: str) -> tuple[int, ...]:
        return self._shapes[name]

    def __getitem__(self, name: str) -> np.ndarray:
        from safetensors import safe_open

        with safe_open(str(self._where[name]), framework="pt") as fh:
            return np.asarray(fh.get_tensor(name).float().numpy())

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def read_weights(folder: str | Path) -> StreamedWeights:
    """The model's safetensors tensors, streamed per tensor (no pickle is ever read).

    Reads exactly the files the import hashed (the shard index's files, or the one weights
    file; :func:`core.backends.folders.safetensors_files`), never a stray file beside them.
    """
    try:
        files = safetensors_files(Path(folder))
    except ModelLoadError as exc:
        raise DeclinedError(str(exc)) from exc
    if not files:
        raise DeclinedError(
            f"{folder} holds no safetensors weights; the weight check reads weights "
            "only from safetensors (an ONNX export cannot be aligned)."
        )
    return StreamedWeights(files)


def _sizes(config: Mapping[str, Any]) -> tuple[int, int]:
    cfg = config.get("text_config") or config
    hidden = cfg.get("hidden_size") or cfg.get("n_embd") or cfg.get("d_model")
    inner = cfg.get("intermediate_size") or cfg.get("n_inner") or cfg.get("ffn_dim")
    if inner is None and hidden and cfg.get("model_type") == "gpt2":
        inner = 4 * int(hidden)
    if not hidden or not inner:
        raise DeclinedError("The model's config does not state its hidden and MLP sizes.")
    return int(hidden), int(inner)


def _embedding(w: Mapping[str, np.ndarray], hidden: int) -> np.ndarray:
    for name in sorted(w):
        shape = la.shape_of(w, name) if _EMBED.search(name) else ()
        if len(shape) == 2 and shape[1] == hidden:
            return w[name]
    raise DeclinedError("No input embedding matrix was found to align the hidden dimensions.")


def _mlp_pairs(w: Mapping[str, np.ndarray], hidden: int, inner: int) -> dict[int, tuple[str, str]]:
    """layer -> (input matrix name, output matrix name) of its MLP."""
    layers: dict[int, dict[str, str]] = {}
    for name in w:
        m = _LAYER.search(name)
        if not m or not name.endswith(".weight"):
            continue
        shape = la.shape_of(w, name)
        if len(shape) != 2 or set(shape) != {hidden, inner}:
            continue
        if not any(s in name for s in _MLP_SCOPE):
            continue
        part = name.rsplit(".", 2)[-2]
        slot = layers.setdefault(int(m.group(1)), {})
        if part in _MLP_IN and (
            "in" not in slot or _MLP_IN.index(part) < _MLP_IN.index(slot["in_part"])
        ):
            slot["in"], slot["in_part"] = name, part
        elif part in _MLP_OUT:
            slot["out"] = name
    return {k: (v["in"], v["out"]) for k, v in sorted(layers.items()) if "in" in v and "out" in v}


def _oriented(t: np.ndarray, rows: int, name: str) -> np.ndarray:
    """The matrix with ``rows`` rows (transposing GPT-2 Conv1D [in, out] storage when needed)."""
    if t.shape[0] == rows and t.shape[1] != rows:
        return t
    if t.shape[1] == rows and t.shape[0] != rows:
        return t.T
    return t.T if any(k in name for k in ("c_fc", "c_proj")) else t  # square: Conv1D vs Linear


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    d = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / d) if d > 0 else 0.0


def _embedding_rows(
    eb: np.ndarray,
    es: np.ndarray,
    hidden: int,
    token_rows: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """The embedding rows to align on: shared tokens when known, else the same token ids."""
    if token_rows is not None:
        rb, rs = (np.asarray(r, dtype=np.int64) for r in token_rows)
        keep = (rb < eb.shape[0]) & (rs < es.shape[0])
        rb, rs = rb[keep], rs[keep]
        if rb.size >= 2 * hidden:
            return eb[rb], es[rs], f"{rb.size} tokens both tokenizers share"
    if eb.shape == es.shape:
        return eb, es, f"all {eb.shape[0]} token ids"
    raise DeclinedError(
        f"The embedding matrices differ in shape ({eb.shape} vs {es.shape}) and the "
        f"tokenizers share fewer than {2 * hidden} tokens, so the hidden dimensions cannot be "
        "aligned through them (which does not show independence either)."
    )


def _inputs(
    w: Mapping[str, np.ndarray], name: str, layer: int, hidden: int, inner: int
) -> np.ndarray:
    """A layer's MLP input matrix [units, hidden] with the preceding normalisation gain folded
    in (so that a rotated copy, whose gains were folded into its weights, compares alike)."""
    m = _oriented(w[name], inner, name).astype(np.float64)
    gain = la.norm_gain(w, layer, hidden)
    return m * gain[None, :] if gain is not None else m


def lineage_check(
    base: Mapping[str, np.ndarray],
    suspect: Mapping[str, np.ndarray],
    base_config: Mapping[str, Any],
    suspect_config: Mapping[str, Any],
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 999,
    max_layers: int = 4,
    token_rows: tuple[np.ndarray, np.ndarray] | None = None,
    state: JobState | None = None,
) -> CheckResult:
    """The weight-lineage check on two already read weight sets (see the module docstring).

    ``token_rows``: (base rows, suspect rows) of the tokens both tokenizers share
    (:func:`core.checks.lineage_align.token_rows`); without it the embeddings are compared
    by token id, which needs equal vocabularies.
    """
    state = state or JobState()
    try:
        hidden, inner = _sizes(base_config)
        if _sizes(suspect_config) != (hidden, inner):
            raise DeclinedError(
                f"The suspect's hidden/MLP sizes {_sizes(suspect_config)} differ from the "
                f"base's {(hidden, inner)}: a fine-tune keeps its base's shapes, so this "
                "test does not apply (which does not show independence either)."
            )
        eb, es, rows_by = _embedding_rows(
            _embedding(base, hidden), _embedding(suspect, hidden), hidden, token_rows
        )
        pairs_b, pairs_s = _mlp_pairs(base, hidden, inner), _mlp_pairs(suspect, hidden, inner)
        common = sorted(set(pairs_b) & set(pairs_s))
        if not common:
            raise DeclinedError(
                "No MLP layers with matching names and shapes were found in both models."
            )
    except DeclinedError as exc:
        return declined(SPEC, str(exc), seed=seed, alpha=alpha)
    picks = sorted(
        {
            common[int(round(i))]
            for i in np.linspace(0, len(common) - 1, min(max_layers, len(common)))
        }
    )
    state.set_status("Aligning the residual stream on the embeddings (orthogonal Procrustes)")
    cross = la.cross_block(es, eb)
    rot0 = la.rotation_from(cross)
    del eb, es
    # Refinement: the MLP input rows, matched under the first rotation, are paired vectors of
    # the residual stream too. The pairs do not depend on the order of the suspect's units, so
    # the refined rotation does not either (the exact test stays exact); it never reads the
    # MLP output matrices the statistic is measured on.
    matched_plain = []
    for n, layer in enumerate(picks):
        state.check_cancelled()
        in_b, in_s = pairs_b[layer][0], pairs_s[layer][0]
        w1b = _inputs(base, in_b, layer, hidden, inner)
        w1s = _inputs(suspect, in_s, layer, hidden, inner)
        matched_plain.append(la.match(w1b, w1s))  # Zhu et al. as published: no residual step
        cross = cross + la.cross_block(w1s[la.match(w1b, w1s @ rot0)], w1b)
        del w1b, w1s
        state.set_progress(n + 1, 2 * len(picks) + 2)
    rot = la.rotation_from(cross)
    zb, zs, zs_raw, tensors = [], [], [], {}
    matched = []
    for n, layer in enumerate(picks):
        state.check_cancelled()
        (in_b, out_b), (in_s, out_s) = pairs_b[layer], pairs_s[layer]
        w1b = _inputs(base, in_b, layer, hidden, inner)
        w1s = _inputs(suspect, in_s, layer, hidden, inner) @ rot
        perm_i = la.match(w1b, w1s)
        matched.append(perm_i)
        w2b = _oriented(base[out_b], hidden, out_b).astype(np.float64)
        w2s = _oriented(suspect[out_s], hidden, out_s).astype(np.float64)
        aligned = (rot.T @ w2s)[:, perm_i]
        zb.append(la.standardise_rows(w2b))
        zs.append(la.standardise_rows(aligned))
        zs_raw.append(la.standardise_rows(w2s))
        tensors[out_b] = {
            "aligned_cosine": _cosine(w2b, aligned),
            "unaligned_cosine": _cosine(w2b, w2s),
            "input_aligned_cosine": _cosine(w1b, w1s[perm_i]),
        }
        del w1b, w1s, w2b, w2s, aligned
        state.set_progress(len(picks) + n + 1, 2 * len(picks) + 2)
    row_corr = np.concatenate([(b * s).sum(1) for b, s in zip(zb, zs, strict=True)])
    raw_corr = np.concatenate([(b * s).sum(1) for b, s in zip(zb, zs_raw, strict=True)])
    del zs_raw
    observed, unaligned = float(row_corr.mean()), float(raw_corr.mean())
    state.set_status("Permutation test against random pairings of units")
    rng = np.random.default_rng(seed)
    null = np.empty(n_resamples)
    for k in range(n_resamples):
        if k % 50 == 0:
            state.check_cancelled()
        total = 0.0
        sigma_h = rng.permutation(hidden)
        for b, s in zip(zb, zs, strict=True):
            total += float((b * s[sigma_h][:, rng.permutation(inner)]).sum())
        null[k] = total / row_corr.size
    k_ext = int(np.count_nonzero(null >= observed - 1e-12))
    p = (1 + k_ext) / (n_resamples + 1)
    ci = bootstrap_ci(row_corr, n_resamples=2000, seed=[seed, 1])
    p_unaligned = (1 + int(np.count_nonzero(null >= unaligned - 1e-12))) / (n_resamples + 1)
    state.set_status("Exact test of independent initialisation (Zhu et al.)")
    exact = la.exact_independence_test(
        matched,
        n_resamples=n_resamples,
        rng=np.random.default_rng([seed, 2]),
        residual_aligned=True,
    )
    plain = la.exact_independence_test(
        matched_plain,
        n_resamples=n_resamples,
        rng=np.random.default_rng([seed, 3]),
        residual_aligned=False,
    )
    state.set_progress(100)
    pairing = ReferenceComparison(
        reference=NULL_LABEL,
        statistic=observed,
        p_value=p,
        n=int(row_corr.size),
        effect_size=observed,
        ci=(ci.low, ci.high),
        p_holm=p,
        n_resamples=n_resamples,
        method=f"Permutation test, N = {n_resamples} random pairings of residual rows and "
        f"MLP units, seed {seed} (descriptive: independent models share more than a random "
        f"pairing); p {p_text(p, n_resamples)}",
    )
    exact_comp = ReferenceComparison(
        reference=EXACT_LABEL,
        statistic=exact.statistic,
        p_value=exact.p_value,
        n=len(picks),
        effect_size=exact.statistic,
        p_holm=exact.p_value,
        n_resamples=n_resamples,
        method=f"Exact permutation test of independent initialisation (Zhu et al. 2025): "
        f"mean Spearman rho of {len(picks)} layers' unit matchings with the identity, "
        f"N = {n_resamples} uniform permutations, seed [{seed}, 2]; "
        f"p {p_text(exact.p_value, n_resamples)}",
    )
    level, verdict, reason = _verdict(observed, (ci.low, ci.high), p, exact, len(picks), alpha)
    details = {
        "layers_compared": picks,
        "hidden_size": hidden,
        "mlp_size": inner,
        "embedding_rows": rows_by,
        "residual_rotation_distance": float(np.linalg.norm(rot - np.eye(hidden)))
        / np.sqrt(2.0 * hidden),
        "mean_row_correlation_aligned": observed,
        "mean_row_correlation_unaligned": unaligned,
        "p_value_unaligned": p_unaligned,
        "p_text": p_text(exact.p_value, n_resamples),
        "p_at_floor": exact.exceed == 0,
        "p_value_random_pairing": p,
        "p_text_random_pairing": p_text(p, n_resamples),
        "exact_test": {**exact.to_dict(), "p_text": p_text(exact.p_value, n_resamples)},
        "exact_test_unaligned": {**plain.to_dict(), "p_text": p_text(plain.p_value, n_resamples)},
        "units_reordered": bool(observed - unaligned > 0.2),
        "null_mean": float(null.mean()),
        "null_max": float(null.max()),
        "tensors": tensors,
        "tensor_cosines_unaligned": {  # one pair of tensors in memory at a time
            k: _cosine(base[k], suspect[k])
            for k in base
            if k in suspect and la.shape_of(suspect, k) == la.shape_of(base, k)
        },
        "min_similarity": SPEC.min_effect,
        "level": level.key,
        "scale": [lv.to_dict() for lv in SCALE],
        "p_meaning": P_MEANING,
    }
    return CheckResult(
        spec_key=SPEC.key,
        verdict=verdict,
        reason=reason,
        strength=level.label,
        null_hypothesis=SPEC.null_hypothesis,
        test=SPEC.test,
        statistic=observed,
        effect_size=observed,
        ci=(ci.low, ci.high),
        p_value=exact.p_value,  # the test whose null is independent initialisation
        p_value_any=exact.p_value,
        alpha=alpha,
        n_probes=len(picks),
        n_references=0,
        comparisons=(exact_comp, pairing),
        seed=seed,
        details=details,
    )


def _verdict(
    observed: float,
    ci: tuple[float, float],
    p_pairing: float,
    exact: la.ExactTest,
    layers: int,
    alpha: float,
) -> tuple[LineageLevel, Verdict, str]:
    """The level, verdict and reason on the weight check's own scale.

    The exact test decides (its null is independent initialisation); the aligned match must
    also reach the minimum. When the match is there but the exact test does not reject, the
    units were reordered: derivation is stated without an exact p-value for independence.
    """
    n = exact.n_resamples
    match = (
        f"after aligning the residual stream and the MLP units, the suspect's MLP output "
        f"weights correlate with the base's at {observed:.3f} on average (95% CI {ci[0]:.3f} "
        f"to {ci[1]:.3f}) over {layers} layers (against random pairings of units p "
        f"{p_text(p_pairing, n)})"
    )
    exact_txt = (
        f"the exact test of independent initialisation (Zhu et al. 2025) gives a mean "
        f"Spearman rho of {exact.statistic:.3f} between the unit matchings and the units' "
        f"order, p {p_text(exact.p_value, n)}"
    )
    tail = "; it says nothing about training on the protected model's outputs."
    matches = observed >= MIN_SIMILARITY and p_pairing <= alpha
    if matches and exact.p_value <= alpha:
        level = STRONG if exact.p_value <= 0.001 else CONSISTENT
        return (
            level,
            DERIVED,
            f"{exact_txt[0].upper()}{exact_txt[1:]}, and {match}. This is {level.label}{tail}",
        )
    if matches and observed >= MIN_REALIGNED:
        return (
            REALIGNED,
            DERIVED,
            f"The weights match once realigned: {match}. But {exact_txt}: the suspect's units "
            "were reordered, so no exact p-value for independence can be given. This is "
            f"{REALIGNED.label}{tail}",
        )
    short = (
        f"below the minimum of {MIN_SIMILARITY:g} fixed for this check (independently trained "
        "models can share that much structure)"
        if observed < MIN_SIMILARITY
        else f"not beyond random pairings at alpha = {alpha:g}"
        if p_pairing > alpha
        else f"below the {MIN_REALIGNED:g} required when the exact test cannot apply (the units "
        "may have been reordered; independently trained models can share that much structure)"
    )
    exact_part = (
        f"{exact_txt}, so independent initialisation is not rejected"
        if exact.p_value > alpha
        else f"{exact_txt}, yet the weights themselves do not match"
    )
    return (
        NO_EVIDENCE,
        NOT_DERIVED,
        f"The suspect's weights are not shown to come from the base model: {match}, {short}; "
        f"{exact_part}. This is {NO_EVIDENCE.label}; it does not show that the suspect was "
        "trained independently.",
    )


# --- what the runner calls (core.checks.plugin) ----------------------------------------------
def fits(available: AvailableInputs) -> str | None:
    """Why the weight check cannot run with this evidence (None: it can)."""
    if available.base_model:
        return None
    return (
        "The weight-lineage check needs the base model the suspect may be derived from: "
        f"{available.hint('base_model')}."
    )


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """Read both weight sets (after the model passes) and run the lineage test, aligning the
    embeddings on the tokens both tokenizers share."""
    base, sus = ctx.evidence.base, ctx.evidence.suspect
    assert base is not None  # fits() declined otherwise
    state.set_status(f"Reading the weights of {base.label} and {sus.label}")
    wb, ws = read_weights(base.path), read_weights(sus.path)
    cb, cs = read_config(base.path), read_config(sus.path)
    s = ctx.settings
    return lineage_check(
        wb,
        ws,
        cb,
        cs,
        seed=ctx.seed,
        alpha=s.alpha,
        n_resamples=s.lineage_resamples,
        max_layers=s.lineage_max_layers,
        token_rows=la.token_rows(base.path, sus.path),
        state=state,
    )


CHECK = Check(SPEC, fits=fits, evaluate=evaluate)

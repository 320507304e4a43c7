"""Weight lineage on the demonstration world (resources/demo), whose lineage is known, with
both statistics: the aligned weight match (Procrustes + Hungarian) and the exact test of
independent initialisation of Zhu et al. (with and without the residual alignment).

suspect-osprey and clean-osprey are fine-tunes of osprey-base; ref-b-tern was trained
independently (another tokenizer: the embeddings are aligned on the tokens both share); a
rotated copy of osprey-base computes the same logits in another residual basis.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.checks import lineage
from core.checks import lineage_align as la
from tests.rotations import rotated_copy

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo" / "models"
pytestmark = pytest.mark.skipif(
    not (DEMO / "osprey-base" / "model.safetensors").is_file(),
    reason="the demo world is not built (resources/demo/models)",
)


def _run(base: Path, suspect: Path) -> lineage.CheckResult:
    return lineage.lineage_check(
        lineage.read_weights(base),
        lineage.read_weights(suspect),
        lineage.read_config(base),
        lineage.read_config(suspect),
        seed=0,
        n_resamples=999,
        token_rows=la.token_rows(base, suspect),
    )


def test_demo_lineage_both_statistics(tmp_path: Path) -> None:
    base = DEMO / "osprey-base"
    cases = {
        "suspect-osprey": (DEMO / "suspect-osprey", True),
        "clean-osprey": (DEMO / "clean-osprey", True),
        "ref-b-tern": (DEMO / "ref-b-tern", False),
        "rotated osprey-base": (rotated_copy(base, tmp_path / "rotated"), True),
    }
    print()
    for name, (path, derived) in cases.items():
        res = _run(base, path)
        d = res.details
        ex, plain = d["exact_test"], d["exact_test_unaligned"]
        print(
            f"{name:20s} {res.verdict:27s} aligned r {res.effect_size:6.3f} (pairing p "
            f"{d['p_text_random_pairing']}); exact rho {ex['statistic']:6.3f} p {ex['p_text']}; "
            f"published (no residual alignment) rho {plain['statistic']:6.3f} p "
            f"{plain['p_text']}; old-style unaligned r {d['mean_row_correlation_unaligned']:.3f}"
        )
        assert "Hp" not in res.reason + res.strength
        if derived:
            assert res.verdict == "consistent with derivation", (name, res.reason)
            assert res.strength == lineage.STRONG.label and ex["exceed"] == 0
            assert "p ≤ 0.001 (= 1/(N+1), N = 999)" in res.reason
        else:
            assert res.verdict == "no evidence of derivation", (name, res.reason)
            assert res.effect_size < lineage.MIN_SIMILARITY and ex["p_value"] > 0.05
            assert "tokens both tokenizers share" in d["embedding_rows"]
    # the published test, without the residual alignment, misses the rotated copy
    assert plain["p_value"] > 0.05 and d["mean_row_correlation_unaligned"] < 0.1


def test_demo_lineage_declines_without_shared_tokens() -> None:
    base, other = DEMO / "osprey-base", DEMO / "ref-b-tern"
    res = lineage.lineage_check(
        lineage.read_weights(base),
        lineage.read_weights(other),
        lineage.read_config(base),
        lineage.read_config(other),
        seed=0,
        n_resamples=99,
    )
    assert res.verdict == "declined" and "does not show independence" in res.reason

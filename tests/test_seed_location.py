"""The derived seed depends on the evidence and the settings' content, never on where files lie."""

from __future__ import annotations

from pathlib import Path

from core.checks.runner import derive_seed
from core.checks.settings import CheckSettings

EVIDENCE = {"suspect": {"manifest_sha256": "a" * 64}, "references": []}


def test_a_suite_file_counts_by_its_content_not_its_path(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for folder in (one, two):
        (folder / "suite.jsonl").write_text('{"prompt": "Who made you?"}\n', encoding="utf-8")
    seeds = {
        derive_seed(EVIDENCE, CheckSettings(identity_suite=str(f / "suite.jsonl")))
        for f in (one, two)
    }
    assert len(seeds) == 1  # the same file in two places: one seed
    (two / "suite.jsonl").write_text('{"prompt": "Who trained you?"}\n', encoding="utf-8")
    changed = derive_seed(EVIDENCE, CheckSettings(identity_suite=str(two / "suite.jsonl")))
    assert changed not in seeds  # other content: another seed

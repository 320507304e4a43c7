"""Shared fixtures: real case files in tmp_path and real tiny models built offline."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read or write the developer's own case file or settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("DISTILL_AUDIT_DB", raising=False)


_SHARING_MODULE: list[str] = []  # the module whose tests currently share measurements


@pytest.fixture(autouse=True)
def _fresh_measurement_cache(request: pytest.FixtureRequest) -> None:
    """Every test starts with an empty process-wide measurement cache.

    Otherwise a test's numbers could come from measurements an earlier test left behind,
    and whether a check really measured would depend on which tests ran before it. A
    module marked ``shares_measurements`` (same world, same settings, test after test)
    starts empty and then keeps what its own tests measured, as a real re-run would.
    """
    from core.checks.cache import MEASUREMENTS

    module = getattr(getattr(request.node, "module", None), "__name__", "")
    if request.node.get_closest_marker("shares_measurements") is None:
        MEASUREMENTS.clear()
        _SHARING_MODULE.clear()
    elif _SHARING_MODULE != [module]:
        MEASUREMENTS.clear()
        _SHARING_MODULE[:] = [module]


@pytest.fixture
def case_file(tmp_path: Path) -> Iterator:
    from core.store.db import open_case_file

    cf = open_case_file(tmp_path / "case.dacase")
    yield cf
    cf.close()


@pytest.fixture
def case_id(case_file) -> int:
    from core.store.cases import create_case

    return create_case(
        case_file,
        "Halcyon Labs v Quillmark AI",
        "DA-TEST-1",
        parties=["Halcyon Labs", "Quillmark AI"],
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny GPT-2 folder (safetensors + tokenizer), built once per session."""
    from tests.tinymodels import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2", seed=0)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def transcript_file(tmp_path: Path) -> Path:
    records = [
        {
            "id": f"p{i:03d}",
            "prompt": f"Question number {i}?",
            "response": f"Answer {i}.",
            "model": "Lumen",
            "provider": "Halcyon Labs",
            "collected_at": "2025-09-02T14:03:11Z",
            "sampling": {"temperature": 0.8, "top_p": 0.95, "seed": 7},
        }
        for i in range(20)
    ]
    return write_jsonl(tmp_path / "answers.jsonl", records)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that drives widgets (it uses ``qtbot``) must run under the dangling-thread check."""
    missing = [
        item.nodeid
        for item in items
        if "qtbot" in getattr(item, "fixturenames", ())
        and "no_dangling_threads" not in getattr(item, "fixturenames", ())
    ]
    if missing:
        raise pytest.UsageError(
            "These Qt tests run without the dangling-thread check; move them under tests/gui "
            "or import tests.gui.fixtures.no_dangling_threads: " + ", ".join(missing[:5])
        )

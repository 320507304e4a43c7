"""Fuzzing every importer (issue 19, fuzzing scope): transcripts (JSONL, CSV), model folders
(config.json, safetensors header, shard index), ONNX files and terms documents.

Each target writes a generated file, imports it into a real case file through the core
use case, and asserts the contract: success, or a typed ``DistillAuditError`` (the CLI
prints it in one line); never any other exception; and after a refusal, every evidence and
audit table has exactly the rows it had (no partial write), and SQLite's integrity check
passes. The inputs mix valid records with the hostile shapes of issue 19: deep nesting,
lone surrogate escapes, NULs, bytes that are not UTF-8, lying lengths, forged shapes and
offsets, ``../`` paths.

``make test`` runs a few examples per target (seconds); ``make fuzz`` runs many
(``DISTILL_AUDIT_FUZZ_EXAMPLES``, 2,000 by default there). Hypothesis is a dev
dependency; where it is not installed the module is skipped.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.errors import DistillAuditError
from core.evidence.importer import import_model, import_transcripts
from core.policy.persist import import_policy
from core.store.cases import create_case
from core.store.db import CaseFile, open_case_file
from tests.hostile_models import row_counts, safetensors_bytes

EXAMPLES = int(os.environ.get("DISTILL_AUDIT_FUZZ_EXAMPLES", "8"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=20),  # a shared CI machine; a hang is what this catches
    database=None,  # nothing written beside the sources
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the contract ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CaseFile, int, Path]]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.dacase"
    with open_case_file(db) as cf:
        yield cf, create_case(cf, "Fuzzing", "DA-FUZZ-1"), db


def holds_the_contract(db: Path, action: Callable[[], object]) -> str:
    """Run one import: "imported" or "refused" (typed, nothing written); else it raises."""
    before = row_counts(db)
    try:
        action()
    except DistillAuditError as exc:
        assert str(exc).strip(), "a refusal must say why"
        assert row_counts(db) == before, "a refused import wrote rows"
        outcome = "refused"
    else:
        outcome = "imported"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    event(outcome)  # --hypothesis-show-statistics: how many imported, how many refused
    return outcome


@contextmanager
def workdir() -> Iterator[Path]:
    """A fresh folder for one example's files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        yield Path(d)


# --- strategies ---------------------------------------------------------------------------

HOSTILE_FRAGMENTS = (
    "\\ud800",
    "\\udfff",
    "\\ud83d\\ude00",
    "\\u0000",
    "[" * 300,
    "{" * 300,
    "]" * 5,
    '"',
    "\\",
    "../../etc/passwd",
    "/etc/passwd",
    "1e99999",
    "-0",
    "NaN",
    "Infinity",
    "9" * 400,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


fragment = st.sampled_from(HOSTILE_FRAGMENTS)
hostile_text = st.lists(st.one_of(st.text(max_size=30), fragment), max_size=6).map("".join)

record = st.fixed_dictionaries(
    {"prompt": st.text(max_size=60), "response": st.text(max_size=60)},
    optional={
        "id": st.one_of(st.text(max_size=10), st.integers()),
        "collected_at": st.one_of(st.text(max_size=25), st.just("2025-09-02T14:03:11Z")),
        "model": st.text(max_size=10),
        "sampling": json_values,
        "extra": json_values,
    },
)

jsonl_line = st.one_of(
    record.map(json.dumps),  # valid records (ASCII escapes)
    record.map(lambda r: json.dumps(r, ensure_ascii=False)),
    json_values.map(json.dumps),  # valid JSON, maybe not a record
    hostile_text.map(lambda t: '{"prompt": "' + t + '", "response": "ok"}'),
    st.integers(50, 150_000).map(lambda d: '{"prompt": "p", "response": ' + deep(d) + "}"),
    hostile_text,  # not JSON at all
)


def lines_as_bytes(lines: list[Any]) -> bytes:
    return b"\n".join(
        x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass") for x in lines
    )


jsonl_files = st.one_of(
    st.lists(st.one_of(jsonl_line, st.binary(max_size=40)), max_size=8),
    st.lists(record.map(lambda r: json.dumps(r, ensure_ascii=False)), min_size=1, max_size=8),
).map(lines_as_bytes)

csv_cell = st.one_of(
    st.text(max_size=40), hostile_text, st.sampled_from(['"', '""', "\x00", "a\nb"])
)
csv_files = st.tuples(
    st.sampled_from(["prompt,response", "question,answer,id", "prompt", "x,y", ""]),
    st.lists(st.lists(csv_cell, min_size=1, max_size=4), max_size=8),
    st.binary(max_size=30),
    st.booleans(),
).map(
    lambda t: (
        (
            t[0]
            + "\n"
            + "\n".join(
                ",".join('"' + c.replace('"', '""') + '"' if "," in c else c for c in row)
                for row in t[1]
            )
        ).encode("utf-8", "surrogatepass")
        + (t[2] if t[3] else b"")
    )
)


# --- transcripts ----------------------------------------------------------------------------


@FUZZ
@given(content=jsonl_files, role=st.sampled_from(["protected-answers", "probes"]))
def test_fuzz_jsonl_transcripts(case, content: bytes, role: str) -> None:
    cf, case_id, db = case
    with workdir() as d:
        path = d / "answers.jsonl"
        path.write_bytes(content)
        holds_the_contract(db, lambda: import_transcripts(cf, case_id, path, role))


@FUZZ
@given(content=csv_files)
def test_fuzz_csv_transcripts(case, content: bytes) -> None:
    cf, case_id, db = case
    with workdir() as d:
        path = d / "answers.csv"
        path.write_bytes(content)
        holds_the_contract(db, lambda: import_transcripts(cf, case_id, path, "protected-answers"))


# --- model folders --------------------------------------------------------------------------

DTYPES = ["F32", "F16", "BF16", "I8", "BOOL", "F4", "F64", "X9", ""]
dimension = st.one_of(
    st.integers(0, 8), st.integers(-3, 2**70), st.text(max_size=3), st.none(), st.booleans()
)
tensor_entry = st.one_of(
    st.fixed_dictionaries(
        {
            "dtype": st.sampled_from(DTYPES),
            "shape": st.one_of(st.lists(dimension, max_size=3), json_values),
            "data_offsets": st.one_of(
                st.lists(st.integers(-2, 300), min_size=2, max_size=2),
                st.lists(st.integers(0, 2**70), min_size=2, max_size=2),
                json_values,
            ),
        }
    ),
    json_values,
)
header_dict = st.dictionaries(
    st.one_of(st.text(max_size=8), st.just("__metadata__")), tensor_entry, max_size=4
)
safetensors_files = st.one_of(
    st.tuples(header_dict, st.binary(max_size=300)).map(lambda t: safetensors_bytes(*t)),
    st.tuples(st.integers(0, 2**64 - 1), st.binary(max_size=200)).map(
        lambda t: struct.pack("<Q", t[0]) + t[1]  # a length that lies
    ),
    st.integers(50, 150_000).map(lambda d: safetensors_bytes(deep(d).encode())),
    st.binary(max_size=64),
)
config_files = st.one_of(
    st.just(b'{"model_type": "gpt2", "vocab_size": 5}'),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["model_type", "vocab_size", "architectures", "auto_map"]), json_values
    ).map(lambda d: json.dumps(d).encode()),
    st.integers(50, 150_000).map(lambda d: ('{"a": ' + deep(d) + "}").encode()),
    st.binary(max_size=40),
)
index_files = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(
            st.sampled_from(
                ["model.safetensors", "../outside.safetensors", "/etc/passwd", "sub/x.safetensors"]
            ),
            json_values,
        ),
        max_size=3,
    ).map(lambda m: json.dumps({"weight_map": m}).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(
    config=config_files,
    weights=safetensors_files,
    index=index_files,
    tokenizer_config=st.one_of(st.none(), config_files),
)
def test_fuzz_model_folders(
    case, config: bytes, weights: bytes, index: bytes | None, tokenizer_config
) -> None:
    cf, case_id, db = case
    with workdir() as root:
        (root / "outside.safetensors").write_bytes(weights)
        folder = root / "model"
        folder.mkdir()
        (folder / "config.json").write_bytes(config)
        (folder / "model.safetensors").write_bytes(weights)
        (folder / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\n", encoding="utf-8")
        if index is not None:
            (folder / "model.safetensors.index.json").write_bytes(index)
        if tokenizer_config is not None:
            (folder / "tokenizer_config.json").write_bytes(tokenizer_config)
        holds_the_contract(db, lambda: import_model(cf, case_id, folder, "suspect"))


def _tiny_onnx() -> bytes:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [0.5] * 4)
    inp = helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, [2, 2])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 2])
    graph = helper.make_graph(
        [helper.make_node("Add", ["input_ids", "w"], ["logits"])], "g", [inp], [out], [weight]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="producer", value="fuzz")
    return bytes(model.SerializeToString())


TINY_ONNX = _tiny_onnx()


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, len(TINY_ONNX))),
)
def test_fuzz_onnx_files(case, edits: list[tuple[int, int]], cut: int | None) -> None:
    cf, case_id, db = case
    with workdir() as folder:
        (folder / "model.onnx").write_bytes(mutate(TINY_ONNX, edits, cut))
        (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
        holds_the_contract(db, lambda: import_model(cf, case_id, folder, "suspect"))


# --- terms documents --------------------------------------------------------------------------

policy_text = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            ["1. Use", "1.1 Outputs", "(a) item", "Version 2.", "Effective 1 March 2025.", "1."]
        ),
        st.integers(1, 400).map(lambda n: "1. " * n),
    ),
    max_size=12,
).map("\n".join)
html_text = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["<ol>", "</ol>", "<li>", "<div>", "</div>", "<script>", "<!--", "&#0;"]),
        st.integers(1, 3000).map(lambda n: "<div>" * n),
    ),
    max_size=12,
).map(lambda parts: "<html><body><h1>Terms</h1><p>Version 2.</p>" + "".join(parts))


def docx_bytes(body: str, raw: bytes | None) -> bytes:
    if raw is not None:
        return raw
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", body)
    return buf.getvalue()


@FUZZ
@given(
    kind=st.sampled_from(["txt", "md", "html", "docx"]),
    text=policy_text,
    html=html_text,
    raw=st.one_of(st.none(), st.binary(max_size=200)),
)
def test_fuzz_terms_documents(case, kind: str, text: str, html: str, raw) -> None:
    cf, case_id, db = case
    with workdir() as d:
        path = d / f"terms.{kind}"
        if kind == "html":
            path.write_text(html, encoding="utf-8", errors="surrogatepass")
        elif kind == "docx":
            path.write_bytes(docx_bytes(html, raw))
        else:
            path.write_bytes(raw if raw is not None else text.encode("utf-8", "surrogatepass"))
        holds_the_contract(
            db, lambda: import_policy(cf, case_id, path, provider="Acme", version="2025-01")
        )

"""Public pretraining text of the demonstration world: docstrings of installed software.

Each fictional lineage is pretrained on a different corpus. The corpora are English
prose taken from docstrings of software whose licence allows redistribution and reuse
(listed in ``SOURCES``). They are extracted once with ``python corpora.py --refresh``
and shipped as gzip snapshots under ``corpora/`` so that the build does not depend on
which versions of those packages happen to be installed.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import inspect
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT_DIR = Path(__file__).resolve().parent / "corpora"

# Standard-library modules never imported by the extractor (side effects, GUI, tests).
_STDLIB_SKIP = {
    "this", "antigravity", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3",
    "ensurepip", "venv", "pydoc_data", "xxsubtype", "xxlimited", "xxlimited_35", "webbrowser",
}  # fmt: skip


@dataclass(frozen=True)
class CorpusSource:
    """Where one corpus comes from and under which licence."""

    name: str
    description: str
    licence: str
    modules: tuple[str, ...]
    max_bytes: int = 1_000_000


def _stdlib_modules() -> tuple[str, ...]:
    names = sorted(sys.stdlib_module_names)
    return tuple(n for n in names if not n.startswith("_") and n not in _STDLIB_SKIP)


SOURCES: dict[str, CorpusSource] = {
    "stdlib": CorpusSource(
        "stdlib",
        "Docstrings of the CPython 3.11 standard library",
        "PSF-2.0 (Python Software Foundation License)",
        (),  # filled lazily from sys.stdlib_module_names
    ),
    "numpy-scipy": CorpusSource(
        "numpy-scipy",
        "Docstrings of NumPy and SciPy",
        "BSD-3-Clause",
        ("numpy", "numpy.linalg", "numpy.fft", "numpy.random", "numpy.ma", "numpy.polynomial",
         "numpy.lib", "scipy.stats", "scipy.linalg", "scipy.optimize", "scipy.signal",
         "scipy.sparse", "scipy.integrate", "scipy.interpolate", "scipy.special",
         "scipy.spatial", "scipy.ndimage", "scipy.cluster", "scipy.io", "scipy.fft"),
    ),
    "torch": CorpusSource(
        "torch",
        "Docstrings of PyTorch",
        "BSD-3-Clause",
        ("torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch.utils.data",
         "torch.distributions", "torch.linalg", "torch.fft", "torch.autograd", "torch.special"),
    ),
    "plotting-web": CorpusSource(
        "plotting-web",
        "Docstrings of Matplotlib, SQLAlchemy, Jinja2 and PyYAML",
        "Matplotlib License (PSF-based, BSD-compatible); MIT (SQLAlchemy, PyYAML); "
        "BSD-3-Clause (Jinja2)",
        ("matplotlib.pyplot", "matplotlib.axes", "matplotlib.figure", "matplotlib.colors",
         "matplotlib.text", "matplotlib.lines", "matplotlib.patches", "matplotlib.ticker",
         "matplotlib.artist", "matplotlib.legend", "matplotlib.axis", "matplotlib.collections",
         "matplotlib.image", "matplotlib.backend_bases", "matplotlib.dates", "sqlalchemy",
         "sqlalchemy.orm", "sqlalchemy.engine", "sqlalchemy.sql", "jinja2", "yaml"),
    ),
}  # fmt: skip

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]+?)(?:\s*<[^>]+>)?`")
_TICKS = re.compile(r"``([^`]+)``|`([^`]+)`")
_SPACE = re.compile(r"\s+")


def clean_docstring(doc: str) -> list[str]:
    """Prose paragraphs of a docstring: no examples, tables, code or reST headings."""
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", doc):
        lines = [ln.strip() for ln in block.splitlines()]
        if not lines or any(ln.startswith((">>>", "...", "..", "$", "|", "+-")) for ln in lines):
            continue
        lines = [ln for ln in lines if ln and not set(ln) <= set("-=~^*#_ ")]
        text = _SPACE.sub(" ", " ".join(lines)).strip()
        text = _ROLE.sub(r"\1", text)
        text = _TICKS.sub(lambda m: m.group(1) or m.group(2), text)
        if len(text) < 60:
            continue
        letters = sum(c.isalpha() or c == " " for c in text)
        if letters / len(text) < 0.85 or not text[0].isupper() or text.count(" ") < 8:
            continue
        if not text.isascii():
            continue
        paragraphs.append(text)
    return paragraphs


def _objects(module: object) -> list[object]:
    found = [module]
    for name, value in sorted(vars(module).items()):
        if name.startswith("_"):
            continue
        if inspect.isclass(value) or inspect.isroutine(value):
            found.append(value)
            if inspect.isclass(value):
                found.extend(
                    v for k, v in sorted(vars(value).items())
                    if not k.startswith("_") and inspect.isroutine(v)
                )  # fmt: skip
    return found


def extract(source: CorpusSource) -> str:
    """Collect, clean and de-duplicate docstring paragraphs, up to ``max_bytes``."""
    modules = source.modules or _stdlib_modules()
    seen: set[str] = set()
    out: list[str] = []
    size = 0
    for mod_name in modules:
        try:
            silent = io.StringIO()
            stdout, sys.stdout = sys.stdout, silent
            try:
                module = importlib.import_module(mod_name)
            finally:
                sys.stdout = stdout
        except Exception:
            continue
        for obj in _objects(module):
            doc = inspect.getdoc(obj)
            if not doc:
                continue
            for para in clean_docstring(doc):
                if para in seen:
                    continue
                seen.add(para)
                out.append(para)
                size += len(para) + 1
                if size >= source.max_bytes:
                    return "\n".join(out) + "\n"
    return "\n".join(out) + "\n"


def snapshot_path(name: str) -> Path:
    return SNAPSHOT_DIR / f"{name}.txt.gz"


def load(name: str) -> list[str]:
    """Paragraphs of a shipped corpus snapshot."""
    with gzip.open(snapshot_path(name), "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh if line.strip()]


def refresh() -> None:
    """Re-extract every corpus from the installed packages and rewrite the snapshots."""
    SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for source in SOURCES.values():
        text = extract(source)
        data = text.encode("utf-8")
        with open(snapshot_path(source.name), "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
                gz.write(data)
        print(f"{source.name}: {len(data):,} bytes, {text.count(chr(10)):,} paragraphs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--refresh", action="store_true", help="re-extract the snapshots")
    if parser.parse_args().refresh:
        refresh()

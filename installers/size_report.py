"""What takes the space in a built bundle: totals by package and the largest files.

Usage: ``python installers/size_report.py BUNDLE_DIR [--top N]`` (``make installer``
prints it after every build). BUNDLE_DIR is the folder holding ``distill-audit`` and
``_internal``. Sizes are apparent file sizes in MB (10^6 bytes), symlinks not followed.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

MB = 1_000_000


def file_sizes(bundle: Path) -> dict[Path, int]:
    return {
        p.relative_to(bundle): p.stat().st_size
        for p in bundle.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


# Parts split out of their package, because they are where the size is.
SPLIT = ("torch/lib", "PySide6/Qt/lib", "PySide6/Qt/plugins", "resources/demo")


def group_of(rel: Path) -> str:
    """The part of the bundle a file belongs to: its package, or one of SPLIT."""
    parts = rel.parts
    if parts[0] != "_internal" or len(parts) == 2:
        return "(top level: executables, libpython, loose libraries)"
    inner = "/".join(parts[1:])
    for prefix in SPLIT:
        if inner.startswith(prefix + "/"):
            return prefix
    name = parts[1]
    if name.endswith(".libs"):  # auditwheel-vendored libraries belong to their package
        return f"{name[:-5]} (vendored .libs)"
    return name


def report(bundle: Path, top: int = 25) -> str:
    sizes = file_sizes(bundle)
    total = sum(sizes.values())
    groups: dict[str, int] = defaultdict(int)
    for rel, size in sizes.items():
        groups[group_of(rel)] += size
    lines = [
        f"Bundle {bundle}: {total / MB:.1f} MB in {len(sizes)} files",
        "",
        f"{'MB':>8}  {'share':>6}  part",
    ]
    for name, size in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{size / MB:8.1f}  {100 * size / total:5.1f}%  {name}")
    rest = sum(sorted(groups.values(), reverse=True)[top:])
    if rest:
        lines.append(
            f"{rest / MB:8.1f}  {100 * rest / total:5.1f}%  ({len(groups) - top} smaller parts)"
        )
    lines += ["", "Largest files:", f"{'MB':>8}  file"]
    for rel, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{size / MB:8.1f}  {rel}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if not (args.bundle / "_internal").is_dir():
        print(f"{args.bundle} is not a bundle folder (no _internal)", file=sys.stderr)
        return 2
    print(report(args.bundle, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

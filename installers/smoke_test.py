"""Smoke test of the built Linux installer: the frozen app, offline, from the tarball.

``make installer-smoke`` runs it (not part of ``make test``: it needs the 4-7 minute
build, and itself takes about 1.5 minutes on 2 cores, 6 with ``--full-demo``). In a
fresh temporary folder it:

1. unpacks dist/distill-audit-<version>-linux-<arch>.tar.gz (``--build-if-missing``
   runs ``installers/build_linux.py`` first when there is none);
2. runs every frozen program with HOME pointing into the temporary folder, without the
   project's virtual environment or source tree, and - where ``unshare --net`` works
   (root or user namespaces) - with no network at all;
3. frozen CLI: ``demo`` builds the demonstration case from the bundled demo world
   (``--no-review``: its own review runs every check; ``--full-demo`` lets it); one
   check (``likelihood``, the distilled suspect against the bundled reference models);
   ``report`` exports the PDF and the JSON bundle; a tiny distillation experiment
   (torch training, ONNX export, onnxruntime parity); terms imported from HTML and
   .docx; the default case file is created in the user's data folder; run provenance
   names every package's version;
4. frozen GUI, offscreen: ``--self-test`` opens the demo case file and exits 0;
5. ``install.sh`` into the temporary HOME: desktop entry, MIME type (by name and by
   content), icons, default-application association; then the desktop entry's own
   Exec line is run on the case file (what a double-click does); then ``--uninstall``;
6. the bundle folder is unchanged afterwards (a read-only /opt install works).

Prints each step's time; exits 0 only if everything passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from installers.build_linux import NAME, tarball_path  # noqa: E402

CASE_MIME = "application/x-distill-audit-case"
DEMO_REFERENCE = "DEMO-2025-001"


class SmokeFailure(Exception):
    pass


class Smoke:
    def __init__(self, work: Path, isolate_network: bool, full_demo: bool = False) -> None:
        self.work = work
        self.full_demo = full_demo
        self.home = work / "home"
        self.home.mkdir()
        self.isolate = isolate_network and _unshare_works()
        self.times: list[tuple[str, float]] = []

    def env(self, **extra: str) -> dict[str, str]:
        """A user's session: own HOME, no venv, no source tree, no Python settings."""
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        env.setdefault("LANG", "C.UTF-8")  # as a desktop session has; Qt warns otherwise
        env.update(HOME=str(self.home), QT_QPA_PLATFORM="offscreen", **extra)
        return env

    def run(
        self, label: str, argv: list[str], timeout: int = 900, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = (["unshare", "--net"] if self.isolate else []) + argv
        started = time.monotonic()
        out = subprocess.run(
            cmd,
            cwd=self.work,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        took = time.monotonic() - started
        self.times.append((label, took))
        status = "ok" if out.returncode == 0 else f"FAILED (exit {out.returncode})"
        print(f"[{took:6.1f} s] {label}: {status}", flush=True)
        if out.returncode != 0:
            raise SmokeFailure(
                f"{label}: {' '.join(argv)}\n--- stdout\n{out.stdout[-4000:]}"
                f"\n--- stderr\n{out.stderr[-4000:]}"
            )
        return out


def _unshare_works() -> bool:
    try:
        return (
            subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=30).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, int(p.lstat().st_mtime))
        for p in folder.rglob("*")
    }


def run_cli_and_gui(s: Smoke, app: Path) -> Path:
    cli, gui = str(app / NAME), str(app / f"{NAME}-gui")
    s.run("CLI --version", [cli, "--version"])
    case = s.work / "demo.dacase"
    demo_argv = [cli, "--quiet", "--db", str(case), "demo"]
    review = (
        s.full_demo or "--no-review" not in s.run("CLI demo --help", demo_argv + ["--help"]).stdout
    )
    if not review:  # the demo's own review runs every check (minutes); one check follows
        demo_argv.append("--no-review")
    s.run(
        "CLI demo (the demo case from the bundled world"
        + (", with its full review: all checks and the report)" if review else ")"),
        demo_argv,
    )
    demo = app / "_internal" / "resources" / "demo"
    lineage = json.loads((demo / "lineage.json").read_text(encoding="utf-8"))
    models = lineage["models"]
    suspect = lineage["ground_truth"]["distilled"][0]
    refs = [n for n, m in models.items() if m["role"] == "reference"]
    tx = lineage["transcripts"]
    check_json = s.work / "check.json"
    argv = [
        cli,
        "--quiet",
        "--db",
        str(case),
        "check",
        "--case",
        DEMO_REFERENCE,
        "--suspect",
        str(demo / models[suspect]["path"]),
        "--protected-transcripts",
        str(demo / tx["protected_probe_answers"]),
        "--control-answers",
        str(demo / tx["human_probe_answers"]),
        "--template",
        lineage["chat_template"]["prompt"],
        "--checks",
        "likelihood",
        "--max-probes",
        "40",
        "--resamples",
        "999",
        "--json",
        str(check_json),
    ]
    for ref in refs:
        argv += ["--reference", str(demo / models[ref]["path"])]
    s.run("CLI check (likelihood: distilled suspect vs reference panel)", argv)
    result = json.loads(check_json.read_text(encoding="utf-8"))
    likelihood = result["checks"]["likelihood"]
    print(
        f"           likelihood: {likelihood['verdict']}, p = {likelihood['p_value']:.3g}, "
        f"{likelihood['n_probes']} probes, {likelihood['n_references']} references"
    )
    _check(likelihood["n_references"] == len(refs), "the check did not use every reference")
    con = sqlite3.connect(f"file:{case}?mode=ro", uri=True)
    software = json.loads(con.execute("SELECT software FROM runs ORDER BY id DESC").fetchone()[0])
    con.close()
    missing = sorted(k for k, v in software.items() if v == "not installed")
    _check(not missing, f"the frozen run records no version for {missing}")
    pdf, bundle = s.work / "report.pdf", s.work / "report.json"
    s.run(
        "CLI report (PDF + JSON bundle)",
        [
            cli,
            "--quiet",
            "--db",
            str(case),
            "report",
            "--case",
            DEMO_REFERENCE,
            "--out",
            str(pdf),
            "--json",
            str(bundle),
        ],
    )
    _check(
        pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000, "the report is not a PDF"
    )
    json.loads(bundle.read_text(encoding="utf-8"))
    print(f"           report: {pdf.stat().st_size / 1e3:.0f} kB PDF")
    exp_json = s.work / "experiment.json"
    s.run(
        "CLI experiment (tiny distillation: torch training, ONNX export, parity)",
        [
            cli,
            "--quiet",
            "--db",
            str(case),
            "experiment",
            "run",
            "--case",
            DEMO_REFERENCE,
            "--teacher",
            str(demo / models[lineage["ground_truth"]["protected"]]["path"]),
            "--student-preset",
            "tiny",
            "--transcripts",
            str(demo / tx["protected_probe_answers"]),
            "--samples",
            "40",
            "--steps",
            "4",
            "--eval-every",
            "2",
            "--checkpoint-every",
            "2",
            "--out",
            str(s.work / "experiment"),
            "--json",
            str(exp_json),
        ],
    )
    onnx = json.loads(exp_json.read_text(encoding="utf-8"))["experiments"][0]["onnx"]
    _check(bool(onnx and onnx["parity"]["passed"]), f"ONNX export or parity failed: {onnx}")
    print(
        f"           ONNX export ({onnx['exporter']}): parity max |diff| "
        f"{onnx['parity']['max_abs_diff']:.1e}"
    )
    import_policies(s, cli, demo)
    s.run(
        "CLI case list on the default case file (user's data folder)",
        [cli, "--quiet", "case", "list"],
    )
    default = s.home / ".local" / "share" / "DistillAudit" / "workspace.dacase"
    _check(default.is_file(), f"no default case file at {default}")
    qt = app / "_internal" / "PySide6" / "Qt"
    for part in (
        "plugins/iconengines/libqsvgicon.so",
        "plugins/imageformats/libqsvg.so",
        "lib/libQt6Svg.so.6",
        "plugins/platforms/libqxcb.so",
        "plugins/platforms/libqwayland.so",
    ):
        _check((qt / part).exists(), f"the bundle lacks Qt's {part}")
    out = s.run(
        "GUI --self-test on the demo case (offscreen)", [gui, "--self-test", str(case)], timeout=300
    )
    _check("cases=1" in out.stdout, f"the GUI did not show the demo case: {out.stdout!r}")
    log = s.home / ".local" / "state" / "DistillAudit" / "log" / "distill-audit-gui.log"
    _check(log.is_file(), f"the GUI wrote no log in the user's folder ({log})")
    return case


def import_policies(s: Smoke, cli: str, demo: Path) -> None:
    """Terms in HTML (BeautifulSoup, lxml) and .docx (python-docx), in their own case file."""
    from docx import Document

    md = sorted((demo / "policies").glob("*.md"))[-1]
    docx_path = s.work / "terms.docx"
    document = Document()
    for block in md.read_text(encoding="utf-8").split("\n\n"):
        document.add_paragraph(block.strip().lstrip("#").strip())
    document.save(str(docx_path))
    html = sorted((demo / "policies").glob("*.html"))[0]
    db = str(s.work / "policies.dacase")
    s.run(
        "CLI case new (second case file)",
        [
            cli,
            "--quiet",
            "--db",
            db,
            "case",
            "new",
            "--title",
            "Terms import",
            "--reference",
            "T-1",
        ],
    )
    for path, version in ((html, "html-copy"), (docx_path, "docx-copy")):
        s.run(
            f"CLI policy import {path.suffix}",
            [
                cli,
                "--quiet",
                "--db",
                db,
                "policy",
                "import",
                str(path),
                "--case",
                "T-1",
                "--provider",
                "Halcyon Labs",
                "--version",
                version,
            ],
        )


def desktop_integration(s: Smoke, unpacked: Path, case: Path) -> None:
    s.run(
        "install.sh (per-user)",
        ["sh", str(unpacked / "install.sh")],
        env=s.env(XDG_DATA_HOME=str(s.home / ".local/share")),
    )
    share = s.home / ".local" / "share"
    desktop = share / "applications" / f"{NAME}.desktop"
    installed = s.home / ".local" / "opt" / NAME
    _check((installed / f"{NAME}-gui").is_file(), "install.sh did not install the program")
    _check((s.home / ".local" / "bin" / NAME).is_symlink(), "no command link in ~/.local/bin")
    _check((share / "icons/hicolor/256x256/apps/distill-audit.png").is_file(), "no app icon")
    text = desktop.read_text(encoding="utf-8")
    _check(f"MimeType={CASE_MIME};" in text, "the desktop entry lacks the case-file type")
    if shutil.which("desktop-file-validate"):
        s.run("desktop-file-validate", ["desktop-file-validate", str(desktop)])
    mime_types = check_mime(s, share, case)
    print(f"           MIME: {mime_types}")
    if shutil.which("xdg-mime"):
        out = s.run(
            "xdg-mime query default",
            ["xdg-mime", "query", "default", CASE_MIME],
            env=s.env(XDG_DATA_HOME=str(share)),
        )
        _check(
            out.stdout.strip() == f"{NAME}.desktop",
            f"case files are not associated with the app: {out.stdout!r}",
        )
    # What a double-click runs: the entry's Exec line with %f replaced by the file.
    exec_line = next(
        line.split("=", 1)[1] for line in text.splitlines() if line.startswith("Exec=")
    )
    argv = [str(case) if a == "%f" else a for a in shlex.split(exec_line)]
    _check(argv[0] == str(installed / f"{NAME}-gui"), f"unexpected Exec line {exec_line!r}")
    out = s.run(
        "desktop Exec line on the case file (a double-click), --self-test",
        [argv[0], "--self-test", *argv[1:]],
        timeout=300,
    )
    _check("cases=1" in out.stdout, f"double-click did not open the case: {out.stdout!r}")
    s.run(
        "install.sh --uninstall (the copy kept in the program folder)",
        ["sh", str(installed / "install.sh"), "--uninstall"],
        env=s.env(XDG_DATA_HOME=str(share)),
    )
    _check(not installed.exists() and not desktop.exists(), "uninstall left files behind")


def check_mime(s: Smoke, share: Path, case: Path) -> dict[str, str]:
    """The registered type, by file name and by content (a copy without the extension)."""
    nameless = s.work / "renamed-case-file"
    shutil.copy2(case, nameless)
    code = (
        "import sys\nfrom PySide6.QtCore import QMimeDatabase\n"
        "db = QMimeDatabase()\n"
        "print(db.mimeTypeForFile(sys.argv[1]).name())\n"
        "print(db.mimeTypeForFile(sys.argv[2], QMimeDatabase.MatchMode.MatchContent).name())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(case), str(nameless)],
        env=s.env(XDG_DATA_HOME=str(share)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = out.stdout.split()
    found = {
        "by name": lines[0] if lines else "?",
        "by content": lines[1] if len(lines) > 1 else "?",
    }
    _check(
        found == {"by name": CASE_MIME, "by content": CASE_MIME},
        f"the case-file MIME type is not recognised: {found} {out.stderr[-2000:]}",
    )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke test of the built Linux installer.")
    parser.add_argument("--tarball", type=Path, default=None)
    parser.add_argument("--build-if-missing", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--full-demo",
        action="store_true",
        help="let `demo` run its full review (every check and the report; "
        "about 5 minutes more on 2 cores)",
    )
    parser.add_argument(
        "--with-network",
        action="store_true",
        help="do not cut the network off (unshare --net) for the frozen app",
    )
    args = parser.parse_args(argv)
    tarball = args.tarball or tarball_path()
    if not tarball.is_file():
        if not args.build_if_missing:
            print(f"{tarball} does not exist; run `make installer`", file=sys.stderr)
            return 2
        subprocess.run([sys.executable, str(HERE / "build_linux.py")], check=True)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="distill-audit-smoke-"))
    try:
        s = Smoke(work, isolate_network=not args.with_network, full_demo=args.full_demo)
        print(
            f"Smoke test of {tarball} in {work}; network "
            f"{'cut off (unshare --net)' if s.isolate else 'NOT isolated'}",
            flush=True,
        )
        t0 = time.monotonic()
        with tarfile.open(tarball) as tar:
            tar.extractall(work / "unpacked", filter="tar")
        s.times.append(("unpack", time.monotonic() - t0))
        print(f"[{time.monotonic() - t0:6.1f} s] unpack: ok", flush=True)
        unpacked = next((work / "unpacked").iterdir())
        before = snapshot(unpacked)
        case = run_cli_and_gui(s, unpacked)
        desktop_integration(s, unpacked, case)
        after = snapshot(unpacked)
        changed = sorted(set(before.items()) ^ set(after.items()))
        _check(not changed, f"running the app changed its own folder: {changed[:10]}")
    except SmokeFailure as exc:
        print(f"\nSMOKE TEST FAILED: {exc}", file=sys.stderr)
        print(f"(kept {work})", file=sys.stderr)
        return 1
    total = time.monotonic() - started
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nSmoke test passed in {total:.0f} s"
        + ("" if args.keep else " (temporary folder removed)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

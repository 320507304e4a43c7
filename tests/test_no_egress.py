"""No egress, proven: a check with the demo's ONNX suspect opens no connection, resolves no name.

onnxruntime's native library uploads telemetry (1DS) about ten seconds after its first
session: it resolves ``mobile.events.data.microsoft.com`` and connects to it. A minimal
script that exits at once never shows it; the ``check`` command lives long enough. The test
runs that command in a child process inside a network namespace without any network
(``unshare -n``), traced with ``strace -f``, keeps the child alive for a grace period after
the check (so a pending uploader has time to fire), and asserts that the trace shows no
internet socket connection or datagram, no DNS query and no read of the resolver's files.
It also asserts that nothing was written to onnxruntime's telemetry store under the
child's own home folder. Where namespaces or strace are unavailable it is skipped, and
pytest's summary (``-ra``) prints why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.resources import resource_path

ROOT = Path(__file__).resolve().parents[1]
DEMO = Path(resource_path("demo"))
GRACE_S = 20  # the uploader's first DNS query came ~9 s after the first session
RESOLVER_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/gai.conf", "/etc/host.conf")
CHILD = """
import sys, time
from core.cli import main
code = main(sys.argv[2:])
time.sleep(float(sys.argv[1]))
sys.exit(code)
"""


def _sandbox() -> tuple[list[str], str]:
    """(command prefix: unshare + strace, strace path) or a skip with the reason."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the no-egress proof needs Linux network namespaces and strace")
    strace, unshare = shutil.which("strace"), shutil.which("unshare")
    if strace is None or unshare is None:
        missing = " and ".join(n for n, p in (("strace", strace), ("unshare", unshare)) if not p)
        pytest.skip(f"the no-egress proof needs {missing} (apt-get install strace util-linux)")
    namespace = None
    errors = []
    for prefix in ([unshare, "--net"], [unshare, "--map-root-user", "--net"]):
        probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            namespace = prefix
            break
        errors.append(probe.stderr.strip().splitlines()[-1:] or ["failed"])
    if namespace is None:
        pytest.skip(f"network namespaces are not available here (unshare: {errors[-1][0]})")
    traced = subprocess.run(
        [*namespace, strace, "-f", "-o", os.devnull, "true"], capture_output=True, timeout=60
    )
    if traced.returncode != 0:
        pytest.skip("strace cannot trace processes here (ptrace is not permitted)")
    return namespace, strace


def _inet_activity(trace: str) -> tuple[list[str], list[str]]:
    """(internet connection attempts or datagrams, DNS look-ups) found in an strace log."""
    connections, lookups = [], []
    for line in trace.splitlines():
        call = re.search(r"\b(connect|sendto|sendmsg|sendmmsg|open|openat)\(", line)
        if call is None:
            continue
        if call.group(1).startswith("open"):
            if any(f'"{name}"' in line for name in RESOLVER_FILES):
                lookups.append(line)
            continue
        if "AF_INET" in line:  # AF_INET and AF_INET6; AF_UNIX is local (nscd, D-Bus)
            connections.append(line)
            if "htons(53)" in line:
                lookups.append(line)
    return connections, lookups


@pytest.mark.skipif(
    not (DEMO / "models" / "suspect-osprey-onnx" / "model.onnx").is_file(),
    reason="the demo world's ONNX suspect is not built (resources/demo/models)",
)
def test_check_with_onnx_suspect_makes_no_network_call(tmp_path: Path) -> None:
    namespace, strace = _sandbox()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_", "DISTILL_AUDIT"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        PYTHONPATH=str(ROOT),
    )
    trace_path, out = tmp_path / "strace.log", tmp_path / "check.json"
    check = [
        "--quiet",
        "check",
        "--suspect",
        str(DEMO / "models" / "suspect-osprey-onnx"),
        "--reference",
        str(DEMO / "models" / "ref-a-wren"),
        "--reference",  # the model-level test needs two references to give a p-value
        str(DEMO / "models" / "ref-b-tern"),
        "--protected-transcripts",
        str(DEMO / "transcripts" / "protected_probe_answers.jsonl"),
        "--control-answers",
        str(DEMO / "transcripts" / "human_probe_answers.jsonl"),
        "--checks",
        "likelihood",
        "--max-probes",
        "12",
        "--resamples",
        "200",
        "--json",
        str(out),
    ]
    command = [
        *namespace,
        strace,
        "-f",
        "-qq",
        "-e",
        "trace=connect,sendto,sendmsg,sendmmsg,open,openat",
        "-o",
        str(trace_path),
        sys.executable,
        "-c",
        CHILD,
        str(GRACE_S),
        *check,
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["checks"]["likelihood"]["p_value"] is not None  # the ONNX model really ran
    connections, lookups = _inet_activity(trace_path.read_text(encoding="utf-8"))
    assert lookups == [], "DNS look-ups:\n" + "\n".join(lookups[:10])
    assert connections == [], "network connection attempts:\n" + "\n".join(connections[:10])
    telemetry_store = home / ".cache" / "Microsoft"
    assert not telemetry_store.exists(), sorted(str(p) for p in telemetry_store.rglob("*"))


def test_trace_parser_sees_what_onnxruntime_did() -> None:
    """The lines the uploader left in a trace before the fix are caught (and AF_UNIX is not)."""
    trace = "\n".join(
        [
            '7 openat(AT_FDCWD, "/etc/resolv.conf", O_RDONLY|O_CLOEXEC) = 14',
            '7 connect(14, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.53")'
            "}, 16) = 0",
            '7 sendto(14, "*\\342\\1\\0\\0\\1\\0\\0\\0\\0\\0\\0\\6mobile\\6events", 50, '
            "MSG_NOSIGNAL, NULL, 0) = 50",
            "8 connect(15, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0)"
            "}, 28) = -1 ENETUNREACH",
            '6 connect(6, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
            '6 openat(AT_FDCWD, "/work/core/__init__.py", O_RDONLY|O_CLOEXEC) = 3',
        ]
    )
    connections, lookups = _inet_activity(trace)
    assert len(lookups) == 2 and "resolv.conf" in lookups[0] and "htons(53)" in lookups[1]
    assert len(connections) == 2 and all("AF_INET" in c for c in connections)

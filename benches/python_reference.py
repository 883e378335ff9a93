#!/usr/bin/env python3
"""Throughput of the Python reference's JSONL sink, beside ours.

Times the reference implementation (``xerxes-agent`` 0.2.5,
``xerxes/audit/collector.py``: ``JSONLSinkCollector``) writing N
``ToolCallAttemptEvent``s -- the same record as the Rust benches: tool
``web_search``, agent ``agent-1``, a 12-hex-character turn id, a session id
and a 160-character arguments preview -- to a file on tmpfs, from 1 and 2
threads, two ways: the agent's path, ``AuditEmitter.emit_tool_call_attempt``
(builds the event, truncates the preview, stamps the session id, takes the
emitter's lock; what our ``Emitter`` does), and ``sink.emit(event)`` with
the event built in the loop. The clock stops after ``close()`` (everything
flushed). Prints events/s and MB/s per thread count, and our figure beside
it with the ratio.

Standard library only. Only ``events.py``, ``collector.py`` and
``emitter.py`` are loaded from the wheel, under a synthetic package name so
that their relative imports work; nothing else of ``xerxes`` is imported.

Usage::

    python3 benches/python_reference.py [--wheel PATH] [--events N]
        [--threads 1,2] [--repeat 3] [--out-dir /dev/shm]
        [--ours-cmd CMD | --ours-eps N [N ...]]

``--wheel PATH``
    The reference: a ``.whl`` file, an unzipped wheel (the directory that
    holds ``xerxes/``), or the ``audit`` directory itself (the one holding
    ``events.py``, ``collector.py`` and, optionally, ``emitter.py``). Without it the wheel is fetched
    with ``pip download --no-deps xerxes-agent==0.2.5`` into a temporary
    directory.

``--ours-cmd CMD``
    A command that runs our side and prints a JSON object with
    ``events_per_sec`` (the last line of its output that is a JSON object is
    used). ``{out}``, ``{events}`` and ``{threads}`` are replaced (nothing
    else is: the command may contain other braces), e.g.::

        --ours-cmd "target/release/agent-audit stress --out {out} \\
                    --events {events} --threads {threads} --format python --json"

``--ours-eps N [N ...]``
    Our events/s, one figure per thread count in ``--threads`` order (a
    single figure is used for all), e.g. from ``cargo bench --bench
    throughput``'s summary table.

Example::

    python3 benches/python_reference.py --wheel /tmp/xerxes \\
        --events 200000 --ours-eps 1150000 1300000

Not run in CI: it only measures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import types
import zipfile
from pathlib import Path

WHEEL_SPEC = "xerxes-agent==0.2.5"
PACKAGE = "_xerxes_audit_reference"

TOOL = "web_search"
AGENT = "agent-1"
TURN = "3f2a9c01b7de"
SESSION = "sess-8c1e5f0a2b7d"
ARGS = (
    '{"query": "acme corp quarterly revenue report 2026 q1 results versus '
    'analyst consensus and prior year guidance", "max_results": 10, '
    '"lang": "en-us", "fresh": 1}'
)
assert len(ARGS) == 160


def find_audit_dir(path: Path, scratch: Path) -> Path:
    """The directory holding the reference's events.py and collector.py."""
    if path.is_file():
        with zipfile.ZipFile(path) as wheel:
            for name in ("events.py", "collector.py", "emitter.py"):
                member = f"xerxes/audit/{name}"
                target = scratch / "audit" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(member))
        return scratch / "audit"
    for candidate in (path, path / "audit", path / "xerxes" / "audit"):
        if (candidate / "events.py").is_file() and (candidate / "collector.py").is_file():
            return candidate
    sys.exit(f"no xerxes/audit/events.py and collector.py under {path}")


def download_wheel(scratch: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(scratch), WHEEL_SPEC],
        check=True,
    )
    wheels = sorted(scratch.glob("xerxes_agent-*.whl"))
    if not wheels:
        sys.exit(f"pip download {WHEEL_SPEC} produced no wheel")
    return wheels[0]


def load_reference(audit_dir: Path):
    """Loads events.py, collector.py and (when present) emitter.py as
    PACKAGE.events, PACKAGE.collector, PACKAGE.emitter."""
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(audit_dir)]
    sys.modules[PACKAGE] = package
    modules = {"emitter": None}
    for name in ("events", "collector", "emitter"):
        if name == "emitter" and not (audit_dir / "emitter.py").is_file():
            continue
        full = f"{PACKAGE}.{name}"
        spec = importlib.util.spec_from_file_location(full, audit_dir / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules["events"], modules["collector"], modules["emitter"]


def time_reference(ref, via: str, path: Path, n: int, threads: int) -> tuple[float, int]:
    """Seconds to build and emit n events from `threads` threads and close."""
    events, collector, emitter = ref
    if path.exists():
        path.unlink()
    sink = collector.JSONLSinkCollector(str(path))
    per = n // threads
    make = events.ToolCallAttemptEvent
    start_gate = threading.Barrier(threads + 1)
    audit = emitter.AuditEmitter(collector=sink, session_id=SESSION) if via == "emitter" else None

    def produce():
        start_gate.wait()
        if audit is not None:
            emit_attempt = audit.emit_tool_call_attempt
            for _ in range(per):
                emit_attempt(TOOL, ARGS, AGENT, TURN)
        else:
            emit = sink.emit
            for _ in range(per):
                emit(
                    make(
                        tool_name=TOOL,
                        arguments_preview=ARGS,
                        agent_id=AGENT,
                        turn_id=TURN,
                        session_id=SESSION,
                    )
                )

    workers = [threading.Thread(target=produce) for _ in range(threads)]
    for w in workers:
        w.start()
    start = time.perf_counter()
    start_gate.wait()
    for w in workers:
        w.join()
    sink.close()
    seconds = time.perf_counter() - start
    size = path.stat().st_size
    with open(path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    if lines != per * threads:
        sys.exit(f"reference wrote {lines} lines, expected {per * threads}")
    path.unlink()
    return seconds, size


def run_ours(template: str, out: Path, n: int, threads: int) -> float:
    cmd = (
        template.replace("{out}", shlex.quote(str(out)))
        .replace("{events}", str(n))
        .replace("{threads}", str(threads))
    )
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"--ours-cmd failed ({done.returncode}): {cmd}\n{done.stderr}")
    try:
        os.unlink(out)
    except FileNotFoundError:
        pass
    for line in reversed(done.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return float(json.loads(line)["events_per_sec"])
            except (ValueError, KeyError):
                continue
    sys.exit(f"--ours-cmd printed no JSON object with events_per_sec: {cmd}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--wheel", type=Path, help="reference wheel, unzipped wheel or audit dir")
    parser.add_argument("--events", type=int, default=200_000, help="events per run (200000)")
    parser.add_argument("--threads", default="1,2", help="thread counts (1,2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per thread count; best is kept (3)")
    parser.add_argument("--out-dir", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir()
                        else Path(tempfile.gettempdir()), help="where the files go (/dev/shm)")
    ours = parser.add_mutually_exclusive_group()
    ours.add_argument("--ours-cmd", help="command printing our events_per_sec as JSON")
    ours.add_argument("--ours-eps", type=float, nargs="+", help="our events/s per thread count")
    args = parser.parse_args()

    thread_counts = [int(t) for t in args.threads.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="audit-ref-") as tmp:
        scratch = Path(tmp)
        wheel = args.wheel or download_wheel(scratch)
        ref = load_reference(find_audit_dir(wheel, scratch))
        paths = ["emitter", "sink"] if ref[2] is not None else ["sink"]

        print(f"reference: {ref[0].__file__}")
        print(f"python {sys.version.split()[0]}, {args.events} events per run, best of {args.repeat}, "
              f"files in {args.out_dir}")
        header = f"{'reference path':<16} {'threads':>7} {'reference ev/s':>15} {'MB/s':>8} {'bytes/line':>10}"
        if args.ours_cmd or args.ours_eps:
            header += f" {'ours ev/s':>12} {'ours/ref':>9}"
        print(header)
        ours_by_threads = {}
        for via in paths:
            for i, threads in enumerate(thread_counts):
                path = args.out_dir / f"audit-ref-{os.getpid()}-{threads}.jsonl"
                best, size = min(time_reference(ref, via, path, args.events, threads)
                                 for _ in range(args.repeat))
                n = args.events // threads * threads
                eps = n / best
                label = "AuditEmitter" if via == "emitter" else "sink.emit(event)"
                row = f"{label:<16} {threads:>7} {eps:>15,.0f} {size / best / 1e6:>8.1f} {size / n:>10.1f}"
                if args.ours_cmd:
                    if threads not in ours_by_threads:
                        ours_path = args.out_dir / f"audit-ours-{os.getpid()}-{threads}.jsonl"
                        ours_by_threads[threads] = max(
                            run_ours(args.ours_cmd, ours_path, args.events, threads)
                            for _ in range(args.repeat))
                    ours_eps = ours_by_threads[threads]
                elif args.ours_eps:
                    ours_eps = args.ours_eps[min(i, len(args.ours_eps) - 1)]
                else:
                    ours_eps = None
                if ours_eps is not None:
                    row += f" {ours_eps:>12,.0f} {ours_eps / eps:>8.0f}x"
                print(row)

if __name__ == "__main__":
    main()

"""Rank where a profiled worker spent its time, from py-spy's raw (collapsed) stacks.

    python -m benchmarks.profile_summary FILE [FILE ...] [--top 20] [--thread MainThread]

FILE is what ``python -m benchmarks.e2e --py-spy FILE`` (or ``py-spy record --format raw
--threads``) wrote: one line per distinct stack, ``thread (tid): name;frame;...;leaf count``, each frame
``function (path:line)``. Without ``--native`` (the default), time in C extensions (pydantic-core's
validation, orjson, hashlib) is charged to the Python frame that called them, which is what is wanted:
``parse_command`` includes the JSON decode and validation it hands to pydantic-core.

Printed, as shares of all samples (py-spy samples only threads that are running, not idle ones):
  threads      which thread the samples came from (the event loop vs aiokafka's consumer thread);
  spans        inclusive share of named spans of the pipeline (a sample counts once per span, spans nest);
  packages     self time by the package of the innermost frame;
  functions    the innermost frames with the most self time, and the project's functions by inclusive time.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_LINE = re.compile(r"^thread \((?P<tid>[^)]*)\): (?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
PROJECT: Final = ("streams/", "schemas/", "producers/", "benchmarks/")

# (label, function regex, path regex, mode): "any" - a sample belongs to the span if any frame matches both
# (inclusive time); "leaf" - only if its innermost frame does (self time).
SPANS: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "command agent: one batch of commands, all of it",
        r"^add_command_agent\.<locals>\.process$",
        r"agents\.py",
        "any",
    ),
    ("  CommandProcessor.handle_batch (decode, decide, rows)", r"^CommandProcessor\.handle_batch$", r"", "any"),
    ("    parse_command (JSON decode + pydantic validation)", r"^parse_command$", r"schemas/commands\.py", "any"),
    ("    ArenaStore.load (cache check, rebuild)", r"^ArenaStore\.load$", r"arena_store\.py", "any"),
    ("    execute (decide, seal, evolve, checks)", r"^execute$", r"streams/domain/", "any"),
    ("      decide", r"^decide", r"streams/domain/", "any"),
    ("      seal (postings, hash chain)", r"^seal$", r"streams/domain/", "any"),
    ("      evolve", r"^evolve", r"streams/domain/", "any"),
    ("    ArenaStore.save (row diff into the batch's buffer)", r"^ArenaStore\.save$", r"arena_store\.py", "any"),
    ("      row_changes (diff of the state)", r"^row_changes$", r"streams/domain/", "any"),
    ("  ArenaStore.flush (changed rows, once per batch)", r"^ArenaStore\.flush$", r"arena_store\.py", "any"),
    ("ledger agent: one batch of events", r"^add_ledger_agent\.<locals>\.process$", r"agents\.py", "any"),
    ("  LedgerProcessor.handle_batch", r"^LedgerProcessor\.handle_batch$", r"", "any"),
    ("    decode_event_with_digest (orjson, sha256, pydantic)", r"^decode_event", r"schemas/events\.py", "any"),
    ("records -> the partition's producer in batches", r".", r"streams/eos/batch_sender\.py", "any"),
    (
        "processing gate: a unit (admit, process, ack)",
        r"^ProcessingGate\.(run\w*|_unit)$",
        r"streams/eos/gate\.py",
        "any",
    ),
    (
        "commit (gate, drain, transactions)",
        r"^(ProcessingGate\.commit|\w+\.commit)$",
        r"streams/eos/(gate|transport)\.py",
        "any",
    ),
    ("sequencer (duplicates, holes)", r".", r"streams/eos/offset_sequencer\.py", "any"),
    ("broker probe (transaction markers)", r".", r"streams/eos/broker_probe\.py", "any"),
    ("producer: aiokafka accumulator (batches, futures)", r"MessageAccumulator|MessageBatch", r"aiokafka/", "any"),
    (
        "producer: aiokafka sender (produce requests, txn)",
        r"^Sender\.|Handler\.do$|handle_response",
        r"aiokafka/producer",
        "any",
    ),
    ("consumer: aiokafka fetcher + Faust fetch loop", r".", r"aiokafka/consumer|drivers/aiokafka\.py", "any"),
    ("Faust stream/agent/event machinery", r".", r"faust/(streams|agents|channels|events)", "any"),
    ("logging", r".", r"^logging/|colorlog|mode/utils/logging", "any"),
    ("self: event loop + selectors (incl. idle polling)", r".", r"^asyncio/|selectors\.py", "leaf"),
    ("self: aiokafka", r".", r"^aiokafka/", "leaf"),
    ("self: faust + mode", r".", r"^(faust|mode)/", "leaf"),
    ("self: project code (incl. C it calls: pydantic-core, orjson, hashlib)", r".", r"^(streams|schemas)/", "leaf"),
    ("self: pydantic (Python side)", r".", r"^pydantic/", "leaf"),
)


@dataclass(frozen=True, slots=True)
class Frame:
    func: str
    path: str

    @property
    def package(self) -> str:
        path = self.path
        if path.startswith(PROJECT):
            return path.split("/")[0] + "/" + (path.split("/")[1] if path.count("/") > 1 else "")
        head = path.split("/")[0]
        return head if "/" in path else f"{head} (stdlib/other)"

    def __str__(self) -> str:
        return f"{self.func} ({self.path})"


@dataclass(frozen=True, slots=True)
class Stack:
    thread: str
    frames: tuple[Frame, ...]
    count: int


def _normalise(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path.lstrip("/")


def parse(lines: Iterable[str]) -> list[Stack]:
    stacks: list[Stack] = []
    for raw in lines:
        match = _LINE.match(raw.rstrip("\n"))
        if match is None:
            continue
        parts = match.group("stack").split(";")
        thread = parts[0].strip()
        frames = []
        for text in parts[1:]:
            frame = _FRAME.match(text.strip())
            if frame is not None:
                frames.append(Frame(frame.group("func"), _normalise(frame.group("path"))))
        stacks.append(Stack(thread, tuple(frames), int(match.group("count"))))
    return stacks


def _share(part: int, total: int) -> str:
    return f"{100 * part / total:5.1f} %"


def summarise(stacks: Sequence[Stack], top: int) -> str:
    total = sum(s.count for s in stacks)
    if not total:
        return "no samples"
    lines = [f"{total:,} samples (py-spy samples running threads only)", "", "threads:"]
    threads: Counter[str] = Counter()
    for s in stacks:
        threads[re.sub(r"\s*\(\d+\)", "", s.thread)] += s.count
    lines += [f"  {_share(n, total)}  {name}" for name, n in threads.most_common()]

    lines += ["", "spans (inclusive; nested spans are indented and included in their parents):"]
    for label, func, path, mode in SPANS:
        func_re, path_re = re.compile(func), re.compile(path)
        n = 0
        for stack in stacks:
            frames = stack.frames[-1:] if mode == "leaf" else stack.frames
            if any(func_re.search(f.func) and path_re.search(f.path) for f in frames):
                n += stack.count
        lines.append(f"  {_share(n, total)}  {label}")

    packages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for s in stacks:
        if not s.frames:
            continue
        packages[s.frames[-1].package] += s.count
        leaves[str(s.frames[-1])] += s.count
        for name in {str(f) for f in s.frames if f.path.startswith(PROJECT)}:
            inclusive[name] += s.count
    lines += ["", "self time by package of the innermost frame:"]
    lines += [f"  {_share(n, total)}  {name}" for name, n in packages.most_common(top)]
    lines += ["", f"top {top} innermost frames (self time):"]
    lines += [f"  {_share(n, total)}  {name}" for name, n in leaves.most_common(top)]
    lines += ["", f"top {top} project functions (inclusive):"]
    lines += [f"  {_share(n, total)}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_summary", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--thread", help="only threads whose name contains this")
    args = parser.parse_args(argv)
    stacks = [s for path in args.files for s in parse(path.read_text(errors="replace").splitlines())]
    if args.thread:
        stacks = [s for s in stacks if args.thread in s.thread]
    print(summarise(stacks, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

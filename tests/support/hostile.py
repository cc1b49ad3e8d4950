"""Hostile traffic for the command topic: a seeded, pure generator of bad messages among valid ones.

Every message carries what must become of it, read off the code rather than guessed:

* ``DEAD_LETTER`` with a reason: the routing checks of ``streams.processors.command_processor`` (null value,
  null key, key vs payload arena id, owning partition) and the decode errors of
  ``schemas.commands.parse_command`` (``DecodeReason``).
* ``REJECTED`` with an event type and a reason: well-typed commands that the pure core refuses
  (``streams.domain.decide`` / ``execute``): out-of-range, negative, zero or overflowing amounts,
  genomes that break the gene rules, currency mismatches, unknown arenas, stale ``expected_seq``.
  AllocateCapital/ReleaseCapital refusals are ``AllocationError``, every other one ``CommandRejected``.
* ``DECIDED``: a command of a real arena history; its events are whatever the pure core decides.
* ``DUPLICATE``: the exact bytes of a command the arena already processed (valid or rejected): no
  event at all.

Ordering contract (what makes the rejections' reasons independent of interleaving): every message
that reaches the core is keyed by its arena, so it lands on the arena's partition in publish order.
A rejection kind only targets a real arena after that arena's CreateArena, FundArena and the
SpawnAgent of ``a0`` were emitted, and no valid history command ever kills ``a0`` or drains the arena.

Nothing here does I/O; the same seed always gives the same messages.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from aiokafka.partitioner import murmur2

from schemas.commands import DecodeReason
from schemas.genome import MAX_GENES
from schemas.money import MAX_MINOR
from schemas.rejections import Reason
from streams.kafka.partitioning import partition_for
from streams.processors.dead_letter import RoutingReason
from tests.support.builders import small_policies

ISSUED_AT: Final = 1_700_000_000_000
CURRENCY: Final = "EUR"


class Outcome(StrEnum):
    DEAD_LETTER = "dead_letter"
    REJECTED = "rejected"
    DECIDED = "decided"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Expected:
    outcome: Outcome
    reason: str | None = None  # dead-letter reason or rejection reason
    event_type: str | None = None  # rejections only: "CommandRejected" | "AllocationError"


@dataclass(frozen=True, slots=True)
class Hostile:
    """One message for the command topic and what must become of it."""

    kind: str
    key: bytes | None
    value: bytes | None
    expected: Expected
    partition: int | None = None  # only for messages that must land off their key's partition

    @property
    def reaches_core(self) -> bool:
        return self.expected.outcome is not Outcome.DEAD_LETTER

    @property
    def arena(self) -> str:
        """The arena whose ordered stream a core-reaching message belongs to (its key)."""
        if self.key is None:
            raise ValueError(f"a {self.kind} message has no key")
        return self.key.decode("utf-8")


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives ``key``, for any bytes (not only arena ids)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def _dead(reason: DecodeReason | RoutingReason) -> Expected:
    return Expected(Outcome.DEAD_LETTER, reason.value)


# Every kind and the single reason it must end with (rejections' event type depends on the command).
KIND_REASONS: Final[dict[str, Expected]] = {
    # dead letters: decode errors
    "truncated_json": _dead(DecodeReason.INVALID_JSON),
    "not_json": _dead(DecodeReason.INVALID_JSON),
    "not_utf8": _dead(DecodeReason.NOT_UTF8),
    "not_an_object": _dead(DecodeReason.NOT_AN_OBJECT),
    "missing_type": _dead(DecodeReason.MISSING_TYPE),
    "unknown_type": _dead(DecodeReason.UNKNOWN_TYPE),
    "wrong_types": _dead(DecodeReason.SCHEMA_VIOLATION),
    "missing_field": _dead(DecodeReason.SCHEMA_VIOLATION),
    "float_money": _dead(DecodeReason.SCHEMA_VIOLATION),
    "unknown_field": _dead(DecodeReason.SCHEMA_VIOLATION),
    "bad_field_shape": _dead(DecodeReason.SCHEMA_VIOLATION),
    # dead letters: routing
    "null_key": _dead(RoutingReason.NULL_KEY),
    "tombstone": _dead(RoutingReason.NULL_VALUE),
    "key_mismatch": _dead(RoutingReason.KEY_MISMATCH),
    "wrong_partition": _dead(RoutingReason.WRONG_PARTITION),
    # typed rejections decided by the core
    "negative_amount": Expected(Outcome.REJECTED, Reason.AMOUNT_OUT_OF_RANGE.value),
    "zero_amount": Expected(Outcome.REJECTED, Reason.AMOUNT_OUT_OF_RANGE.value),
    "huge_amount": Expected(Outcome.REJECTED, Reason.AMOUNT_OUT_OF_RANGE.value),
    "overflow_amount": Expected(Outcome.REJECTED, Reason.AMOUNT_OUT_OF_RANGE.value),
    "oversized_genome": Expected(Outcome.REJECTED, Reason.INVALID_GENOME.value),
    "invalid_genome": Expected(Outcome.REJECTED, Reason.INVALID_GENOME.value),
    "currency_mismatch": Expected(Outcome.REJECTED, Reason.CURRENCY_MISMATCH.value),
    "unknown_arena": Expected(Outcome.REJECTED, Reason.ARENA_NOT_FOUND.value),
    "stale_expected_seq": Expected(Outcome.REJECTED, Reason.SEQ_MISMATCH.value),
}
BAD_KINDS: Final[tuple[str, ...]] = tuple(KIND_REASONS)
VALID_KIND: Final = "valid"
DUPLICATE_KIND: Final = "duplicate"
ALL_KINDS: Final[tuple[str, ...]] = (*BAD_KINDS, VALID_KIND, DUPLICATE_KIND)
# Kinds whose outcome does not depend on any arena's state, so they may come before the arenas exist.
STATELESS_KINDS: Final[tuple[str, ...]] = tuple(
    k for k, e in KIND_REASONS.items() if e.outcome is Outcome.DEAD_LETTER or k == "unknown_arena"
)
ALLOCATION_COMMANDS: Final = frozenset({"AllocateCapital", "ReleaseCapital"})


def _doc(type_: str, arena: str, command_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "command_id": command_id, "arena_id": arena, "issued_at": ISSUED_AT, **fields}


def _money(amount: int, currency: str = CURRENCY) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _json(doc: Any) -> bytes:
    # json, not orjson: amounts beyond 64 bits must be written as they are
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def _with_number(doc: dict[str, Any], path: tuple[str, ...], number_text: str) -> bytes:
    """``doc`` as JSON with the value at ``path`` replaced by a literal number (e.g. 1e400, -0.0)."""
    sentinel = "__NUMBER__"
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = sentinel
    return _json(doc).replace(f'"{sentinel}"'.encode(), number_text.encode())


SETUP_COMMANDS: Final = 3  # CreateArena, FundArena, SpawnAgent a0: after these, rejections are state-independent


def arena_history(arena: str, salt: int) -> list[dict[str, Any]]:
    """A real arena's life: create, fund, three agents with capital, PnL days, moves and refusals.

    ``a0`` is never killed and the treasury never empties, so the hostile rejections stay what
    ``KIND_REASONS`` says whatever lands between these commands.
    """

    def cid(n: int) -> str:
        return f"{arena}.v{n}"

    docs: list[dict[str, Any]] = [
        _doc("CreateArena", arena, cid(0), currency=CURRENCY, seed=salt, **small_policies()),
        _doc("FundArena", arena, cid(1), amount=_money(1_000_000)),
    ]
    for n in range(3):
        docs.append(_doc("SpawnAgent", arena, cid(len(docs)), agent_id=f"a{n}", genome={"exposure_bps": 100 * (n + 1)}))
    for n in range(3):
        docs.append(_doc("AllocateCapital", arena, cid(len(docs)), agent_id=f"a{n}", amount=_money(10_000)))
    for day in range(1, 4):
        for n in range(3):
            pnl = (salt * 37 + day * 11 + n * 5) % 900 - 450
            docs.append(
                _doc(
                    "RecordPnL",
                    arena,
                    cid(len(docs)),
                    agent_id=f"a{n}",
                    amount=_money(pnl),
                    period=day,
                    source="trading",
                    fill_ref=f"{arena}-fill-{day}-{n}",
                )
            )
    tail: list[tuple[str, dict[str, Any]]] = [
        ("ReleaseCapital", {"agent_id": "a1", "amount": _money(1_000)}),
        ("WithdrawFunds", {"amount": _money(5_000)}),
        ("GraduateAgent", {"agent_id": "a0"}),
        ("MutateAgent", {"parent_id": "a1", "child_id": "m1", "seed": salt + 7}),
        ("KillAgent", {"agent_id": "a2", "reason": "hostile-input test"}),
        ("AllocateCapital", {"agent_id": "a0", "amount": _money(10**15)}),  # refused: the treasury is short
        ("WithdrawFunds", {"amount": _money(10**12)}),  # refused: the treasury is short
    ]
    for type_, fields in tail:
        docs.append(_doc(type_, arena, cid(len(docs)), **fields))
    return docs


def _sample(rng: random.Random, arena: str, command_id: str) -> dict[str, Any]:
    """A well-formed command with required fields only (so dropping any of them is a schema violation)."""
    agent = rng.choice(["a0", "a1", "a2", "zz9"])
    makers: list[Callable[[], dict[str, Any]]] = [
        lambda: _doc("FundArena", arena, command_id, amount=_money(rng.randint(1, 10_000))),
        lambda: _doc("WithdrawFunds", arena, command_id, amount=_money(rng.randint(1, 10_000))),
        lambda: _doc("AllocateCapital", arena, command_id, agent_id=agent, amount=_money(rng.randint(1, 10_000))),
        lambda: _doc("ReleaseCapital", arena, command_id, agent_id=agent, amount=_money(rng.randint(1, 10_000))),
        lambda: _doc(
            "RecordPnL",
            arena,
            command_id,
            agent_id=agent,
            amount=_money(rng.randint(-500, 500)),
            period=rng.randint(0, 50),
            source="simulation",
        ),
        lambda: _doc("SpawnAgent", arena, command_id, agent_id=f"s{command_id}", genome={"risk": rng.randint(1, 9)}),
        lambda: _doc("KillAgent", arena, command_id, agent_id=agent, reason="x"),
        lambda: _doc("GraduateAgent", arena, command_id, agent_id=agent),
        lambda: _doc("MutateAgent", arena, command_id, parent_id=agent, child_id=f"c{command_id}", seed=3),
        lambda: _doc("RunEvolutionCycle", arena, command_id, cycle=rng.randint(1, 9)),
        lambda: _doc("CreateArena", arena, command_id, currency=CURRENCY, seed=rng.randint(0, 99)),
    ]
    return rng.choice(makers)()


def _wrong_type(rng: random.Random, value: Any) -> Any:
    """A JSON value of another type than ``value`` (strict models accept no coercion)."""
    if isinstance(value, bool):
        return rng.choice([1, "true", None])
    if isinstance(value, int):
        return rng.choice([str(value), True, float(value) + 0.5, None, [value], {"v": value}])
    if isinstance(value, str):
        return rng.choice([42, None, True, [value], {"v": value}, 1.5])
    if isinstance(value, dict):
        return rng.choice(["{}", 7, [], None, True])
    raise TypeError(type(value))


@dataclass
class _Context:
    rng: random.Random
    arenas: list[str]
    ghosts: list[str]
    partitions: int
    counter: int = 0

    def cid(self) -> str:
        self.counter += 1
        return f"h{self.counter}"

    def arena(self) -> str:
        return self.rng.choice(self.arenas)


class _Same:
    """Marker: keep the draw's own key (None is a real choice: a null key)."""


SAME: Final = _Same()


@dataclass(frozen=True, slots=True)
class _Draw:
    """What one bad message is made from: the kind, a random real arena and a fresh command id."""

    kind: str
    ctx: _Context
    arena: str
    cid: str

    @property
    def rng(self) -> random.Random:
        return self.ctx.rng

    @property
    def key(self) -> bytes:
        return self.arena.encode()

    def sample(self) -> dict[str, Any]:
        return _sample(self.rng, self.arena, self.cid)

    def doc(self, type_: str, **fields: Any) -> dict[str, Any]:
        return _doc(type_, self.arena, self.cid, **fields)

    def dead(self, value: bytes | None, *, key: bytes | _Same | None = SAME, partition: int | None = None) -> Hostile:
        chosen = self.key if isinstance(key, _Same) else key
        return Hostile(self.kind, chosen, value, KIND_REASONS[self.kind], partition)

    def rejected(self, doc: dict[str, Any], *, arena: str | None = None) -> Hostile:
        event_type = "AllocationError" if doc["type"] in ALLOCATION_COMMANDS else "CommandRejected"
        reason = KIND_REASONS[self.kind].reason
        key = (arena or self.arena).encode()
        return Hostile(self.kind, key, _json(doc), Expected(Outcome.REJECTED, reason, event_type))


def _truncated_json(d: _Draw) -> Hostile:
    raw = _json(d.sample())
    return d.dead(raw[: d.rng.randint(0, len(raw) - 1)])


def _not_json(d: _Draw) -> Hostile:
    good = _json(d.sample())
    choices = [
        b"",
        b"   ",
        b"hello",
        b"{",
        b"}",
        b"{'type': 'FundArena'}",
        good + b" trailing",
        good + good,
        b"\xef\xbb\xbf" + good,  # a byte-order mark
        good.replace(b'"arena_id"', b'"arena\x01_id"'),  # a raw control character in a string
        b'{"type":"FundArena","amount":1' + b"0" * 5000 + b"}",  # a number no parser holds
        b'{"type":"FundArena",}',
        b"\x00",
        # RFC 8259 has no non-finite numbers, though Python's and pydantic-core's parsers read them
        good.replace(b'"issued_at":', b'"issued_at":NaN,"was":', 1),
        good.replace(b'"issued_at":', b'"issued_at":Infinity,"was":', 1),
        good.replace(b'"issued_at":', b'"issued_at":-Infinity,"was":', 1),
    ]
    return d.dead(d.rng.choice(choices))


def _not_utf8(d: _Draw) -> Hostile:
    good = _json(d.sample())
    cut = good.index(b'"command_id":"') + len(b'"command_id":"')
    invalid = d.rng.choice([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9t\xe9", b"\x80", b"\xf8\x88\x80"])
    choices = [
        good[:cut] + invalid + good[cut:],  # one bad sequence inside an otherwise valid command
        b"\xff" + d.rng.randbytes(d.rng.randint(0, 200)),
        good.decode().encode("utf-16"),
        good.decode().encode("utf-32"),
    ]
    return d.dead(d.rng.choice(choices))


def _not_an_object(d: _Draw) -> Hostile:
    good = _json(d.sample())
    choices = [b"[]", b"[1,2,3]", b"42", b"-1.5", b'"FundArena"', b"null", b"true", b"[" + good + b"]"]
    return d.dead(d.rng.choice(choices))


def _missing_type(d: _Draw) -> Hostile:
    doc = d.sample()
    type_ = doc.pop("type")
    if d.rng.random() < 0.5:
        doc["Type"] = type_
    return d.dead(_json(doc))


def _unknown_type(d: _Draw) -> Hostile:
    doc = d.sample()
    doc["type"] = d.rng.choice(
        ["TransferFunds", "fundarena", "FundArena ", "", 42, None, ["FundArena"], "DROP TABLE arena", "Command"]
    )
    return d.dead(_json(doc))


def _wrong_types(d: _Draw) -> Hostile:
    doc = d.sample()
    field = d.rng.choice([f for f in doc if f != "type"])
    value = doc[field]
    if isinstance(value, dict) and value and d.rng.random() < 0.6:  # one level down: amount, genome
        inner = d.rng.choice(sorted(value))
        value[inner] = 3 if isinstance(value[inner], dict) else _wrong_type(d.rng, value[inner])
    else:
        doc[field] = _wrong_type(d.rng, value)
    return d.dead(_json(doc))


def _missing_field(d: _Draw) -> Hostile:
    doc = d.sample()
    if isinstance(doc.get("amount"), dict) and d.rng.random() < 0.3:
        del doc["amount"][d.rng.choice(["amount", "currency"])]
    else:
        del doc[d.rng.choice([f for f in doc if f != "type"])]
    return d.dead(_json(doc))


def _float_money(d: _Draw) -> Hostile:
    number = d.rng.choice(["12.5", "100.0", "1e3", "-0.0", "1e400", "0.1", "9007199254740991.0", "-250.75"])
    type_ = d.rng.choice(["FundArena", "WithdrawFunds", "AllocateCapital", "ReleaseCapital", "RecordPnL"])
    if type_ == "RecordPnL" and d.rng.random() < 0.5:  # v1 form: a bare amount (still accepted)
        doc = d.doc(type_, agent_id="a0", amount=0, currency=CURRENCY, period=1, source="trading")
        return d.dead(_with_number(doc, ("amount",), number))
    if type_ == "RecordPnL":
        doc = d.doc(type_, agent_id="a0", amount=_money(0), period=1, source="trading")
        return d.dead(_with_number(doc, ("amount", "amount"), number))
    doc = d.doc(type_, amount=_money(0))
    if type_ in ALLOCATION_COMMANDS:
        doc["agent_id"] = "a0"
    return d.dead(_with_number(doc, ("amount", "amount"), number))


def _unknown_field(d: _Draw) -> Hostile:
    doc = d.sample()
    if isinstance(doc.get("amount"), dict) and d.rng.random() < 0.4:
        doc["amount"]["fx_rate"] = 1
    else:
        doc[d.rng.choice(["memo", "Amount", "arenaId", "__proto__", "sig"])] = "x"
    return d.dead(_json(doc))


def _bad_field_shape(d: _Draw) -> Hostile:
    """Well-typed JSON whose technical fields are out of shape: still a decode error, not a business rule."""
    rng = d.rng
    shapes: dict[str, Callable[[], dict[str, Any]]] = {
        "command_id": lambda: {**d.sample(), "command_id": rng.choice(["", "c" * 129])},
        "issued_at": lambda: {**d.sample(), "issued_at": rng.choice([-1, MAX_MINOR + 1])},
        "expected_seq": lambda: {**d.sample(), "expected_seq": rng.choice([-1, MAX_MINOR + 1])},
        "currency": lambda: d.doc("FundArena", amount=_money(5, rng.choice(["eur", "EURO", "E1R", ""]))),
        "agent_id": lambda: d.doc("KillAgent", agent_id=rng.choice(["-a", "a b", "", "x" * 65]), reason="x"),
        "reason": lambda: d.doc("KillAgent", agent_id="a0", reason="r" * 513),
        "tier": lambda: d.doc("SpawnAgent", agent_id="t1", genome={"g": 1}, tier=rng.choice(["elite", "Arena", ""])),
        "source": lambda: d.doc("RecordPnL", agent_id="a0", amount=1, currency=CURRENCY, period=1, source="manual"),
        "cycle": lambda: d.doc("RunEvolutionCycle", cycle=rng.choice([0, -3])),
    }
    shape = rng.choice([*shapes, "arena_id"])
    if shape == "arena_id":
        bad_id = rng.choice(["bad arena!", "-leading", "a" * 65, "", "ar/../x"])
        return d.dead(_json(_doc("FundArena", bad_id, d.cid, amount=_money(5))), key=bad_id.encode())
    return d.dead(_json(shapes[shape]()))


def _null_key(d: _Draw) -> Hostile:
    valid = _json(d.doc("FundArena", amount=_money(1)))  # a command that would count if it slipped through
    return d.dead(d.rng.choice([valid, valid, b"garbage", b"{}"]), key=None)


def _tombstone(d: _Draw) -> Hostile:
    return d.dead(None, key=d.rng.choice([d.key, d.key, None]))


def _key_mismatch(d: _Draw) -> Hostile:
    other = d.rng.choice([a for a in d.ctx.arenas if a != d.arena])
    valid = _json(d.doc("FundArena", amount=_money(1)))
    key = d.key
    wrong = d.rng.choice([other.encode(), b"", d.arena.upper().encode(), key + b" ", key + b"\x00", b"\xff" + key])
    return d.dead(valid, key=wrong)


def _wrong_partition(d: _Draw) -> Hostile:
    owner = partition_for(d.arena, d.ctx.partitions)
    elsewhere = (owner + d.rng.randint(1, d.ctx.partitions - 1)) % d.ctx.partitions
    return d.dead(_json(d.doc("FundArena", amount=_money(1))), key=SAME, partition=elsewhere)


def _movement(d: _Draw, amount: int) -> dict[str, Any]:
    type_ = d.rng.choice(["FundArena", "WithdrawFunds", "AllocateCapital", "ReleaseCapital"])
    doc = d.doc(type_, amount=_money(amount))
    if type_ in ALLOCATION_COMMANDS:
        doc["agent_id"] = d.rng.choice(["a0", "a1", "nobody"])  # the range is checked before the agent
    return doc


def _negative_amount(d: _Draw) -> Hostile:
    return d.rejected(_movement(d, -d.rng.choice([1, 2, 100, 10_000, MAX_MINOR, MAX_MINOR + 1, 2**63, 10**40])))


def _zero_amount(d: _Draw) -> Hostile:
    return d.rejected(_movement(d, 0))


def _huge_amount(d: _Draw) -> Hostile:
    amount = d.rng.choice([MAX_MINOR + 1, 2**53, 2**63 - 1, 2**63, 2**64 + 1, 10**30, 10**400])
    if d.rng.random() < 0.3:  # |PnL| is judged after the agent: a0 is alive in every arena
        signed = amount if d.rng.random() < 0.5 else -amount
        # RecordPnL v1 (a bare amount beside the currency): still accepted, see schemas.command_versions
        return d.rejected(
            d.doc("RecordPnL", agent_id="a0", amount=signed, currency=CURRENCY, period=7, source="simulation")
        )
    return d.rejected(_movement(d, amount))


def _overflow_amount(d: _Draw) -> Hostile:
    """In range on its own, but the arena already holds capital: a total would pass MAX_MINOR."""
    if d.rng.random() < 0.5:
        return d.rejected(d.doc("FundArena", amount=_money(MAX_MINOR - d.rng.randint(0, 100))))
    return d.rejected(d.doc("RecordPnL", agent_id="a0", amount=_money(MAX_MINOR), period=9, source="trading"))


def _oversized_genome(d: _Draw) -> Hostile:
    genes = d.rng.choice([MAX_GENES + 1, MAX_GENES + 2, 40, 100, 1_000, 5_000])
    genome = {f"g{i}": d.rng.randint(-1000, 1000) for i in range(genes)}
    return d.rejected(d.doc("SpawnAgent", agent_id=f"big-{d.cid}", genome=genome))


def _invalid_genome(d: _Draw) -> Hostile:
    flaws: dict[str, dict[str, int]] = {
        "high": {"lookback": 1_000_001},
        "low": {"lookback": -(10**20)},
        "name": {"bad-name": 1},
        "upper": {"Risk": 1},
        "long_name": {"g" * 33: 1},
        "digit": {"9lives": 1},
    }
    flaw = d.rng.choice(sorted(flaws))
    genome = {"risk": 5, **flaws[flaw]}
    if d.rng.random() < 0.3:  # the same rules judge a mutation's result
        delta = {"exposure_bps": 10**9 if flaw == "high" else -(10**9)} if flaw in {"high", "low"} else genome
        return d.rejected(d.doc("MutateAgent", parent_id="a0", child_id=f"mut-{d.cid}", seed=1, genome_delta=delta))
    return d.rejected(d.doc("SpawnAgent", agent_id=f"bad-{d.cid}", genome=genome))


def _currency_mismatch(d: _Draw) -> Hostile:
    currency = d.rng.choice(["USD", "GBP", "JPY", "XXX"])
    type_ = d.rng.choice(["FundArena", "WithdrawFunds", "AllocateCapital", "RecordPnL"])
    if type_ == "RecordPnL":
        return d.rejected(d.doc(type_, agent_id="a0", amount=5, currency=currency, period=3, source="simulation"))
    doc = d.doc(type_, amount=_money(5, currency))
    if type_ in ALLOCATION_COMMANDS:
        doc["agent_id"] = "a0"
    return d.rejected(doc)


def _unknown_arena(d: _Draw) -> Hostile:
    ghost = d.rng.choice(d.ctx.ghosts)
    by_type: dict[str, dict[str, Any]] = {
        "FundArena": {"amount": _money(100)},
        "AllocateCapital": {"agent_id": "a0", "amount": _money(100)},
        "ReleaseCapital": {"agent_id": "a0", "amount": _money(100)},
        "SpawnAgent": {"agent_id": "a0", "genome": {"risk": 1}},
        "KillAgent": {"agent_id": "a0", "reason": "x"},
        "RecordPnL": {"agent_id": "a0", "amount": _money(1), "period": 1, "source": "trading"},
    }
    type_ = d.rng.choice(sorted(by_type))
    return d.rejected(_doc(type_, ghost, d.cid, **by_type[type_]), arena=ghost)


def _stale_expected_seq(d: _Draw) -> Hostile:
    doc = d.sample()
    doc["expected_seq"] = d.rng.choice([0, 10**9, MAX_MINOR])  # an existing arena is past 0 and far from 10**9
    return d.rejected(doc)


_MAKERS: Final[dict[str, Callable[[_Draw], Hostile]]] = {
    "truncated_json": _truncated_json,
    "not_json": _not_json,
    "not_utf8": _not_utf8,
    "not_an_object": _not_an_object,
    "missing_type": _missing_type,
    "unknown_type": _unknown_type,
    "wrong_types": _wrong_types,
    "missing_field": _missing_field,
    "float_money": _float_money,
    "unknown_field": _unknown_field,
    "bad_field_shape": _bad_field_shape,
    "null_key": _null_key,
    "tombstone": _tombstone,
    "key_mismatch": _key_mismatch,
    "wrong_partition": _wrong_partition,
    "negative_amount": _negative_amount,
    "zero_amount": _zero_amount,
    "huge_amount": _huge_amount,
    "overflow_amount": _overflow_amount,
    "oversized_genome": _oversized_genome,
    "invalid_genome": _invalid_genome,
    "currency_mismatch": _currency_mismatch,
    "unknown_arena": _unknown_arena,
    "stale_expected_seq": _stale_expected_seq,
}


def _make_bad(kind: str, ctx: _Context) -> Hostile:
    return _MAKERS[kind](_Draw(kind, ctx, ctx.arena(), ctx.cid()))


def huge_genome_spawn(arena: str, command_id: str, genes: int) -> Hostile:
    """A SpawnAgent of ~``genes`` * 12 bytes: well-typed (so a rejection, not a dead letter) and big."""
    genome = {f"g{i:06d}": i % 1000 for i in range(genes)}
    doc = _doc("SpawnAgent", arena, command_id, agent_id=f"huge-{command_id}", genome=genome)
    return Hostile(
        "oversized_genome",
        arena.encode(),
        _json(doc),
        Expected(Outcome.REJECTED, Reason.INVALID_GENOME.value, "CommandRejected"),
    )


def generate(
    seed: int,
    *,
    arenas: int = 40,
    bad: int = 10_000,
    partitions: int = 4,
    duplicate_rate: float = 0.08,
    huge_genomes: int = 3,
    huge_genome_genes: int = 60_000,
) -> Iterator[Hostile]:
    """Real arena histories interleaved with ``bad`` hostile messages and a few exact resends.

    ``huge_genomes`` SpawnAgents of roughly ``huge_genome_genes`` * 12 bytes each (well under the
    producer's default 1,000,000-byte limit) are spread over the run as extra oversized genomes.
    """
    if partitions < 2:
        raise ValueError("wrong-partition messages need at least two partitions")
    rng = random.Random(seed)
    names = [f"arena-{i:03d}" for i in range(arenas)]
    ctx = _Context(rng, names, [f"ghost-{i}" for i in range(5)], partitions)
    histories = {name: arena_history(name, salt) for salt, name in enumerate(names)}
    # Setup of every arena first (create, fund, spawn a0), then the rest round-robin.
    slots: list[dict[str, Any]] = [h[i] for i in range(SETUP_COMMANDS) for h in histories.values()]
    longest = max(len(h) for h in histories.values())
    slots += [h[i] for i in range(SETUP_COMMANDS, longest) for h in histories.values() if i < len(h)]
    setup_slots = SETUP_COMMANDS * arenas
    later = len(slots) - setup_slots
    huge_at = {setup_slots + later * (k + 1) // (huge_genomes + 1) for k in range(huge_genomes)}
    recent: list[Hostile] = []  # core-reaching messages that may be resent

    emitted_bad = 0
    for index, doc in enumerate(slots):
        arena = doc["arena_id"]
        valid = Hostile(VALID_KIND, arena.encode(), _json(doc), Expected(Outcome.DECIDED))
        yield valid
        recent.append(valid)
        if index in huge_at:
            yield huge_genome_spawn(arena, ctx.cid(), huge_genome_genes)
        quota = (index + 1) * bad // len(slots) - emitted_bad
        kinds = STATELESS_KINDS if index < setup_slots else BAD_KINDS
        for _ in range(quota):
            message = _make_bad(rng.choice(kinds), ctx)
            emitted_bad += 1
            yield message
            if message.reaches_core:
                recent.append(message)
            if recent and rng.random() < duplicate_rate:
                # an engine resending something it sent a moment ago (same bytes, same command id)
                original = rng.choice(recent[-50:])
                yield Hostile(DUPLICATE_KIND, original.key, original.value, Expected(Outcome.DUPLICATE))
        del recent[:-200]

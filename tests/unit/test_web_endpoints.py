"""The worker's endpoints without a broker: real handlers over plain-dict stores, a fake group assignment,
and a second server standing in for the worker that owns the other partitions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from faust.types import TP

from schemas.queries import ArenaBreakdown, ArenaList, ServedBy
from streams.domain import ArenaState, execute
from streams.domain.breakdown import breakdown_of, summary_of
from streams.eos.gate import ProcessingGate
from streams.kafka.partitioning import partition_for
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef
from streams.processors.ledger_processor import LedgerProcessor
from streams.store.arena_store import ArenaStore
from streams.store.ledger_store import LedgerStore
from streams.worker.web.guard import COOKIE, TokenGuard
from streams.worker.web.local import LocalTables
from streams.worker.web.queries import Queries, json_response
from streams.worker.web.routing import ROUTED_HEADER, Peers
from streams.worker.web.server import new_application
from tests.support.histories import arena_commands

COMMANDS = "arena.commands"
HERE, THERE = (0, 1), (2, 3)  # partitions this worker serves, and the peer's
LOCAL_ARENA, REMOTE_ARENA = "arena-1", "arena-0"  # partitions 0 and 2 (murmur2)
TOKEN = "s3cret-token"


class Peer:
    """The other worker: answers every request with a canned breakdown and remembers the headers."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        state = _state(REMOTE_ARENA)
        self.breakdown = breakdown_of(state, ServedBy(worker="peer", partition=2, committed=True))
        self.listing = ArenaList(
            arenas=[summary_of(state, ServedBy(worker="peer", partition=2, committed=True))],
            partitions=list(THERE),
            missing_partitions=[0, 1],
            complete=False,
        )

    def application(self) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            self.seen.append(dict(request.headers))
            return json_response(self.listing if request.path == "/arenas" else self.breakdown)

        application = web.Application()
        application.add_routes([web.get("/arenas", answer), web.get("/arenas/{arena}", answer)])
        return application


def _state(arena: str) -> ArenaState:
    state = ArenaState.empty(arena)
    for cmd in arena_commands(arena, 1):
        state = execute(state, cmd).state
    return state


COMMITTED: dict[TP, int | None] = {}  # what the consumer has committed, as the tests set it


def _worker(peer_url: str, *, served: tuple[int, ...] = HERE) -> tuple[LocalTables, Peers, ProcessingGate]:
    """This worker's tables hold LOCAL_ARENA, processed by the real command processor."""
    store = ArenaStore({}, {}, {})
    processor = CommandProcessor(store, partitions=4)
    partition = partition_for(LOCAL_ARENA, 4)
    gate = ProcessingGate(SimpleNamespace())  # type: ignore[arg-type]
    for offset, cmd in enumerate(arena_commands(LOCAL_ARENA, 1)):
        source = SourceRef(topic=COMMANDS, partition=partition, offset=offset)
        processor.handle(LOCAL_ARENA.encode(), cmd.model_dump_json().encode(), source)
        gate.sequencer.processed(TP(COMMANDS, partition), offset)
    assigned = {TP(COMMANDS, p) for p in HERE}
    gate.ownership.rebalanced(1, assigned, set(), assigned)
    gate.ownership.recovered(served)
    gate.assigned, gate.transactions_open = frozenset(assigned), True
    ledger = LedgerProcessor(LedgerStore({}, {}))
    assignor = SimpleNamespace(
        external_topic_distribution={"http://me": {COMMANDS: list(HERE)}, peer_url: {COMMANDS: list(THERE)}}
    )
    app = SimpleNamespace(assignor=assignor)
    local = LocalTables(
        app,  # type: ignore[arg-type]
        gate,
        store,
        ledger.store.peek,
        commands_topic=COMMANDS,
        partitions=4,
        url="http://me",
        committed_offsets=lambda: dict(COMMITTED),
    )
    peers = Peers(app, url="http://me", commands_topic=COMMANDS, authorization=TokenGuard(TOKEN).authorization())  # type: ignore[arg-type]
    return local, peers, gate


Scenario = Callable[[TestClient[web.Request, web.Application], Peer, LocalTables], Awaitable[None]]


def _run(scenario: Scenario, *, token: str | None = None, served: tuple[int, ...] = HERE) -> None:
    async def main() -> None:
        peer = Peer()
        async with TestServer(peer.application()) as peer_server:
            peer_url = str(peer_server.make_url("")).rstrip("/")
            local, peers, _gate = _worker(peer_url, served=served)

            async def broken(_request: web.Request) -> web.Response:
                raise RuntimeError("a bug with a secret detail")

            routes = [*Queries(local, peers).routes(), web.get("/broken", broken)]
            application = new_application(routes, TokenGuard(token))
            async with TestClient(TestServer(application)) as client:
                await scenario(client, peer, local)
            await peers.close()

    asyncio.run(main())


async def _json(response: Any) -> Any:
    return await response.json()


def test_an_arena_on_a_partition_this_worker_serves_is_answered_from_its_tables() -> None:
    async def scenario(client: Any, peer: Peer, local: LocalTables) -> None:
        response = await client.get(f"/arenas/{LOCAL_ARENA}")
        assert response.status == 200
        answer = ArenaBreakdown.model_validate(await _json(response))
        state = local.state(LOCAL_ARENA)
        assert state is not None
        expected = breakdown_of(state, ServedBy(worker="http://me", partition=0, committed=False))
        assert answer.model_dump(exclude={"ledger"}) == expected.model_dump(exclude={"ledger"})
        assert not peer.seen
        # Once the consumer has committed past the last processed command, the answer says "committed".
        COMMITTED[TP(COMMANDS, 0)] = len(arena_commands(LOCAL_ARENA, 1))
        try:
            later = await _json(await client.get(f"/arenas/{LOCAL_ARENA}"))
        finally:
            COMMITTED.clear()
        assert later["served_by"]["committed"] is True and later["seq"] == answer.seq

    _run(scenario)


def test_an_arena_another_worker_owns_is_forwarded_to_it_once_with_the_token() -> None:
    async def scenario(client: Any, peer: Peer, _local: LocalTables) -> None:
        response = await client.get(f"/arenas/{REMOTE_ARENA}")
        assert response.status == 200
        assert ArenaBreakdown.model_validate(await _json(response)) == peer.breakdown
        (headers,) = peer.seen
        assert headers[ROUTED_HEADER] == "http://me" and headers["Authorization"] == f"Bearer {TOKEN}"
        # Forwarded to us for a partition we do not serve: say so, never bounce it on.
        again = await client.get(f"/arenas/{REMOTE_ARENA}", headers={ROUTED_HEADER: "http://other"})
        body = await _json(again)
        assert again.status == 503 and body["error"]["code"] == "UNAVAILABLE" and again.headers["Retry-After"]
        assert len(peer.seen) == 1

    _run(scenario)


def test_the_list_gathers_every_worker_s_arenas_and_names_the_partitions_answered() -> None:
    async def scenario(client: Any, _peer: Peer, _local: LocalTables) -> None:
        listing = ArenaList.model_validate(await _json(await client.get("/arenas")))
        assert [a.arena_id for a in listing.arenas] == [REMOTE_ARENA, LOCAL_ARENA]
        assert listing.partitions == [0, 1, 2, 3] and listing.complete and listing.missing_partitions == []
        mine = ArenaList.model_validate(await _json(await client.get("/arenas", headers={ROUTED_HEADER: "x"})))
        assert [a.arena_id for a in mine.arenas] == [LOCAL_ARENA] and mine.partitions == [0, 1]

    _run(scenario)


def test_a_partition_still_recovering_is_a_503_to_retry_not_an_empty_answer() -> None:
    async def scenario(client: Any, _peer: Peer, _local: LocalTables) -> None:
        response = await client.get(f"/arenas/{LOCAL_ARENA}")
        body = await _json(response)
        assert response.status == 503 and "recovered" in body["error"]["message"]

    _run(scenario, served=(1,))


def test_unknown_arenas_are_404_and_bad_queries_400_always_as_json() -> None:
    async def scenario(client: Any, _peer: Peer, _local: LocalTables) -> None:
        cases = {
            "/arenas/arena-3": (404, "ARENA_NOT_FOUND"),  # partition 0: served here, no such arena
            f"/arenas/{LOCAL_ARENA}/agents/nobody": (404, "AGENT_NOT_FOUND"),
            "/arenas/not%20an%20id": (400, "BAD_QUERY"),
            f"/arenas/{LOCAL_ARENA}/agents?tier=gold": (400, "BAD_QUERY"),
            f"/arenas/{LOCAL_ARENA}/agents?status=sleeping": (400, "BAD_QUERY"),
            f"/arenas/{LOCAL_ARENA}/agents?limit=0": (400, "BAD_QUERY"),
            f"/arenas/{LOCAL_ARENA}/agents?limit=ten": (400, "BAD_QUERY"),
            f"/arenas/{LOCAL_ARENA}?verbose=1": (400, "BAD_QUERY"),
            "/nowhere": (404, "NOT_FOUND"),
            "/broken": (500, "INTERNAL"),
        }
        for path, (status, code) in cases.items():
            response = await client.get(path)
            text = await response.text()
            assert response.status == status and response.content_type == "application/json", (path, text)
            assert (await _json(response))["error"]["code"] == code, path
            assert "Traceback" not in text and "secret detail" not in text
        posted = await client.post("/arenas")
        assert posted.status == 405 and (await _json(posted))["error"]["code"] == "METHOD_NOT_ALLOWED"

    _run(scenario)


def test_agents_are_listed_with_their_filters_and_one_agent_in_detail() -> None:
    async def scenario(client: Any, _peer: Peer, _local: LocalTables) -> None:
        listed = await _json(await client.get(f"/arenas/{LOCAL_ARENA}/agents?tier=incubator&status=alive&limit=2"))
        assert listed["total"] == 3 and [a["agent_id"] for a in listed["agents"]] == ["a0", "a1"]
        assert listed["tier"] == "incubator" and listed["status"] == "alive"
        one = await _json(await client.get(f"/arenas/{LOCAL_ARENA}/agents/a2"))
        assert one["agent"]["agent_id"] == "a2" and one["seq"] == listed["seq"]
        assert one["agent"]["balance"]["currency"] == "EUR"

    _run(scenario)


def test_with_a_token_every_request_needs_it_and_the_dashboard_logs_in_with_a_cookie() -> None:
    async def scenario(client: Any, _peer: Peer, _local: LocalTables) -> None:
        refused = await client.get(f"/arenas/{LOCAL_ARENA}")
        assert refused.status == 401 and (await _json(refused))["error"]["code"] == "UNAUTHORIZED"
        wrong = await client.get(f"/arenas/{LOCAL_ARENA}", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        right = await client.get(f"/arenas/{LOCAL_ARENA}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status == 200
        assert (await client.get("/?token=nope", allow_redirects=False)).status == 401
        login = await client.get(f"/?token={TOKEN}", allow_redirects=False)
        assert login.status == 303 and login.headers["Location"] == "/"
        cookie = login.cookies[COOKIE]
        assert TOKEN not in cookie.value and "HttpOnly" in cookie.output() and cookie["samesite"] == "Strict"
        with_cookie = await client.get(f"/arenas/{LOCAL_ARENA}")  # the client keeps the cookie
        assert with_cookie.status == 200

    _run(scenario, token=TOKEN)

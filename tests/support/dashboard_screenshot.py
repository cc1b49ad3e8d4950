"""The README's dashboard screenshot, taken of a live pipeline: `python -m tests.support.dashboard_screenshot`.

Two workers (web endpoints on two ports) process a seeded simulation published at a steady rate, with
a few messages that are not commands (dead letters) and one record written into the event topic by
someone other than the worker (an integrity alert, and one arena held as compromised). After the feed
has run for a while, headless chromium opens the first worker's dashboard and saves it as
docs/dashboard.png (or the path given).
"""

from __future__ import annotations

import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.commands import encode_command
from streams.broker.cluster import ensure_cluster
from streams.broker.launcher import project_root
from streams.kafka.lag import wait_for_worker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout
from streams.worker.process import running_worker
from tests.support.browser import headless_chromium
from tests.support.histories import arena_commands
from tests.support.web import free_port, ready, wait_for

RATE = 120  # commands per second, so the charts show a run rather than a spike
FEED_S = 75.0


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else project_root() / "docs" / "dashboard.png"
    base = ensure_cluster(Settings.from_env(), progress=lambda m: print(f"… {m}", file=sys.stderr))
    prefix = f"demo{uuid.uuid4().hex[:6]}-"
    settings = replace(base, topics=base.topics.with_prefix(prefix))
    create_topics(settings, topic_layout(settings))
    app_id = f"{prefix}app"
    workdir = project_root() / ".arena" / "dashboard-demo" / prefix
    workdir.mkdir(parents=True, exist_ok=True)
    config = SimulationConfig(
        seed=7, arenas=4, agents_per_arena=48, days=40, evolution_every_days=5, partitions=settings.partitions
    )
    commands = [(c.arena_id, encode_command(c)) for c in simulate(config, partitioner=partition_for).commands()]
    tampered = "audit-demo"
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    with ExitStack() as stack:
        for n, port in enumerate(ports):
            stack.enter_context(
                running_worker(settings, app_id, workdir, name=f"worker-{n}", env={"ARENA_WEB_PORT": str(port)})
            )
        wait_for("both workers ready", lambda: all(ready(url) for url in urls), timeout_s=120)
        began = time.monotonic()
        with CommandPublisher(settings) as publisher:
            for command in arena_commands(tampered, 4)[:8]:
                publisher.publish_raw(tampered, encode_command(command))
            publisher.publish_raw("sim-feed", b'{"type": "FundArena", "amount": 12.5')  # truncated JSON
            sent, unknown_sent = 0, False
            while time.monotonic() - began < FEED_S and sent < len(commands):
                due = min(len(commands), int((time.monotonic() - began) * RATE))
                for arena, value in commands[sent:due]:
                    publisher.publish_raw(arena, value)
                sent = due
                if not unknown_sent and time.monotonic() - began > FEED_S / 2:
                    publisher.publish_raw("sim-feed", b'{"type": "Teleport", "arena_id": "sim-feed"}')
                    unknown_sent = True
                time.sleep(0.2)
        with CommandPublisher(settings, topic=settings.topics.events) as forger:
            forger.publish_raw(tampered, b'{"not": "an event the worker wrote"}')
        wait_for_worker(settings, app_id, timeout_s=120)
        time.sleep(6)  # one more sampling period, so the lag chart comes back down
        driver = headless_chromium(workdir / "chromium-profile", width=1400, height=1300)
        try:
            driver.get(urls[0] + "/")
            wait_for("the dashboard drawn", lambda: driver.execute_script("return document.body.dataset.loaded"))
            time.sleep(6)  # the timeline and the recent records refresh every 5 s
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1400, int(height) + 160)  # the window's frame takes from the viewport
            time.sleep(3)
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
    print(f"wrote {out} ({sent:,} commands fed at {RATE}/s, {len(commands):,} planned)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

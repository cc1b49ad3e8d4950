"""`arena worker` joining its group before one of its table changelog topics can be seen.

Reproduces what a busy machine did on a fresh clone (issue 12): Faust created a table changelog topic
and Kafka confirmed it, but the broker could serve it only a moment later; the worker joined its group
in between, got an assignment without the topic, and rebalanced itself when its metadata refresh found
it — mid-run, with its transactions open. Here the worker does not create the topic (neither Faust nor
the worker's own start-up does); the wrapper creates it as soon as the first assignment is made, so the
worker processes with the topic in use but missing from its assignment until the metadata changes.

Run as `python -m tests.support.withheld_topic_worker` with ARENA_TEST_WITHHELD_TOPIC set.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from faust.topics import Topic

WITHHELD = os.environ["ARENA_TEST_WITHHELD_TOPIC"]
log = logging.getLogger("withheld-topic")

_declare = Topic.declare


async def _declare_all_but_withheld(self: Topic) -> None:
    if WITHHELD in self.topics:
        log.warning("not creating %s before the group is joined", WITHHELD)
        return
    await _declare(self)


def _create_withheld(settings: Any) -> None:
    admin = AdminClient(settings.client_config())
    topic = NewTopic(WITHHELD, num_partitions=settings.partitions, replication_factor=1)
    topic.config = {"cleanup.policy": "compact"}
    for future in admin.create_topics([topic]).values():
        future.result()
    log.warning("created %s after the first assignment", WITHHELD)


def main() -> int:
    import streams.kafka.topics  # noqa: PLC0415
    import streams.worker.app  # noqa: PLC0415
    from streams.kafka.settings import Settings  # noqa: PLC0415
    from streams.worker.app import Worker  # noqa: PLC0415

    Topic.declare = _declare_all_but_withheld  # type: ignore[method-assign]
    layout = streams.kafka.topics.table_changelog_layout  # the worker's own start-up creates them too

    def without_withheld(settings: Any, app_id: str) -> list[streams.kafka.topics.TopicSpec]:
        return [spec for spec in layout(settings, app_id) if spec.name != WITHHELD]

    streams.kafka.topics.table_changelog_layout = without_withheld

    build = streams.worker.app.build_worker

    def build_then_create_late(settings: Settings) -> Worker:
        worker = build(settings)
        created: list[bool] = []

        async def on_assigned(*_args: Any, **_kwargs: Any) -> None:
            if not created:
                created.append(True)
                _create_withheld(settings)

        for app in worker.apps:
            app.on_partitions_assigned.connect(on_assigned)
        return worker

    streams.worker.app.build_worker = build_then_create_late
    from streams.cli import main as arena  # noqa: PLC0415

    return arena(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())

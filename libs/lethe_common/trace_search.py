"""Where one service looks for what is left of a person: every collection of its store,
its retry and dead-letter queues, and log files (issue 14, proof of erasure).

Every document of every collection is read, whatever the inventory says, because the
point is to find what nobody declared. Queued messages are only looked at: each is taken
without an acknowledgement and the channel is closed, which puts all of them back.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kombu import Connection

from lethe_common.events.consumer import ConsumerSettings
from lethe_common.inventory import Inventory
from lethe_common.mongo import Db
from lethe_common.runtime import Runtime, consumer_settings
from lethe_common.traces import Sought, Trace, TraceFinder

log = logging.getLogger(__name__)

MAX_TRACES_PER_PERSON = 200
MAX_MESSAGES_PER_QUEUE = 10_000


@dataclass
class Findings:
    """The traces found and how much was searched to find them."""

    traces: list[Trace] = field(default_factory=list)
    documents: int = 0
    messages: int = 0
    log_lines: int = 0
    _seen: set[Trace] = field(default_factory=set)
    _per_person: dict[str, int] = field(default_factory=dict)

    def add(self, trace: Trace) -> None:
        if trace in self._seen or self._per_person.get(trace.request_id, 0) >= MAX_TRACES_PER_PERSON:
            return
        self._seen.add(trace)
        self._per_person[trace.request_id] = self._per_person.get(trace.request_id, 0) + 1
        self.traces.append(trace)


def declares(inventory: Inventory | None, collection: str, path: str) -> bool:
    """Whether ``inventory`` declares the field at ``path`` (or one it is inside of)."""
    if inventory is None or not inventory.declares(collection):
        return False
    fields = inventory.holding(collection).fields
    return any(path == f or path.startswith(f + ".") for f in fields)


def search_store(db: Db, finder: TraceFinder, found: Findings, inventory: Inventory | None = None) -> None:
    """Every string at any depth of every document of every collection (``system.*`` aside),
    each hit marked with whether the service's inventory declares its field."""
    for name in sorted(db.list_collection_names()):
        if name.startswith("system."):
            continue
        for doc in db[name].find({}, batch_size=1000):
            found.documents += 1
            doc_id = finder.mask(str(doc.get("_id", "")))
            for path, hit in finder.in_document(doc):
                place = f"{name}/{doc_id}/{finder.mask(path)}"
                declared = declares(inventory, name, path)
                found.add(Trace(hit.request_id, "store", name, place, hit.what, declared))


def retry_and_dead_queues(settings: ConsumerSettings) -> list[str]:
    """The queues where a service's messages wait for another attempt or for an operator."""
    return [*(settings.retry_queue(n) for n in range(1, settings.max_attempts)), settings.dead]


def search_queues(amqp_url: str, queues: Iterable[str], finder: TraceFinder, found: Findings) -> None:
    """Every message waiting in ``queues``, looked at and left where it was."""
    with Connection(amqp_url, connect_timeout=3) as connection:
        for queue in queues:
            channel = connection.channel()
            try:
                with contextlib.suppress(connection.channel_errors):
                    _search_queue(channel, queue, finder, found)
            finally:
                with contextlib.suppress(Exception):
                    channel.close()  # unacknowledged messages go back to the queue


def _search_queue(channel: object, queue: str, finder: TraceFinder, found: Findings) -> None:
    channel.queue_declare(queue=queue, passive=True)  # type: ignore[attr-defined]
    for n in range(MAX_MESSAGES_PER_QUEUE):
        message = channel.basic_get(queue=queue, no_ack=False)  # type: ignore[attr-defined]
        if message is None:
            return
        found.messages += 1
        body = (
            message.body.decode("utf-8", "replace") if isinstance(message.body, bytes) else str(message.body)
        )
        headers = json.dumps(message.headers or {}, default=str)
        for text in (body, headers):
            for hit in finder.in_text(text):
                found.add(Trace(hit.request_id, "queue", queue, f"{queue}#{n + 1}", hit.what))


def search_logs(folder: Path, finder: TraceFinder, found: Findings) -> None:
    """Every line of every ``*.log`` file in ``folder`` (the dev stack's logs)."""
    for path in sorted(folder.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                found.log_lines += 1
                for hit in finder.in_text(line):
                    found.add(Trace(hit.request_id, "log", path.name, f"{path.name}:{number}", hit.what))


class ServiceTraceSearch:
    """One service's search of its own store and of its retry and dead-letter queues."""

    def __init__(
        self, db: Db, amqp_url: str, queues: list[str], pepper: str, inventory: Inventory | None = None
    ) -> None:
        self._inventory = inventory
        self._db = db
        self._amqp_url = amqp_url
        self._queues = queues
        self._pepper = pepper

    @classmethod
    def of(cls, runtime: Runtime, inventory: Inventory) -> ServiceTraceSearch:
        config = runtime.config
        queues = retry_and_dead_queues(consumer_settings(config))
        return cls(runtime.db, config.amqp_url, queues, config.subject_pepper, inventory)

    def find(self, sought: list[Sought]) -> Findings:
        finder = TraceFinder(self._pepper, sought)
        found = Findings()
        search_store(self._db, finder, found, self._inventory)
        search_queues(self._amqp_url, self._queues, finder, found)
        return found

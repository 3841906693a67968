"""Who may do what on the bus: the one table of each service's RabbitMQ permissions.

Every backend service connects as its own broker user. RabbitMQ gives a user three
regular expressions on a vhost (configure, write, read), matched against the names of
exchanges and queues. This module makes them, for the dev stack (``tools/stack_broker.py``,
through rabbitmqctl) and for deployments (``python -m lethe_common.events.broker_setup``,
through the management API) alike.

For a service ``svc`` whose consumer group is ``<prefix>svc`` (``LETHE_QUEUE_PREFIX``):

* **configure** (declare, delete): its own exchange ``svc.events``, its consumer group's
  retry exchange ``<group>.retry`` and its queues ``<group>.inbox``, ``<group>.retry.<n>``,
  ``<group>.dead``. Other services' exchanges are declared once by the broker set-up;
  consumers only check them (a passive declare needs no permission).
* **write** (publish to an exchange; bind a queue, which needs write on the queue): the same
  names. Not ``amq.default``: whoever may write there can put a message into any queue by its
  name, such as another service's inbox. So retries go through ``<group>.retry`` and the
  queues dead-letter into it, never into the default exchange (declaring a queue whose
  dead-letter exchange is the default one needs write on ``amq.default`` too).
* **read** (consume, get; the source exchange of a binding): its own queues, its retry
  exchange and every ``<source>.events`` exchange it may subscribe to.

So a service can publish only as itself: ``shop.events`` is written by the shop's user
alone, and a consumer refuses an envelope whose ``source`` is not the exchange it came
through (``EventConsumer``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lethe_common.events.catalogue import ALL_SERVICES

# The services that use the bus, each with a broker user of its own. The gateway calls the
# services over gRPC and never connects to the broker; its exchange is still declared,
# because consumers subscribe to every source in the catalogue.
BUS_SERVICES = ("identity", "consent", "shop", "newsletter", "analytics")
# Every exchange the broker set-up declares, before any service starts.
EVENT_SOURCES = ALL_SERVICES

# A test run isolates each test's consumer groups with a queue prefix of its own
# (``<run id>.``); its per-service users accept any one such prefix.
ANY_QUEUE_PREFIX = r"(?:[A-Za-z0-9_-]+\.)?"
_SERVICE = re.compile(r"[a-z][a-z0-9_]*")
_PREFIX = re.compile(r"[A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ's three permission patterns of one user on one vhost."""

    configure: str
    write: str
    read: str

    def as_dict(self) -> dict[str, str]:
        return {"configure": self.configure, "write": self.write, "read": self.read}


def events_exchange_name(source: str) -> str:
    return f"{source}.events"


def retry_exchange_name(group: str) -> str:
    """The direct exchange of a consumer group's retries and dead letters."""
    return f"{group}.retry"


def permissions(service: str, queue_prefix: str = "", *, any_queue_prefix: bool = False) -> Permissions:
    """The permissions of ``service``'s user; its consumer group is ``queue_prefix + service``
    (or, with ``any_queue_prefix``, the service's name after any one prefix: test runs)."""
    if not _SERVICE.fullmatch(service):
        raise ValueError(f"not a service name: {service!r}")
    if not _PREFIX.fullmatch(queue_prefix):
        raise ValueError(f"not a queue prefix: {queue_prefix!r}")
    group = (ANY_QUEUE_PREFIX if any_queue_prefix else re.escape(queue_prefix)) + re.escape(service)
    own_exchange = re.escape(events_exchange_name(service))
    group_names = rf"{group}\.(?:inbox|dead|retry|retry\.[0-9]+)"
    own = rf"^(?:{own_exchange}|{group_names})$"
    read = rf"^(?:{group_names}|[a-z][a-z0-9_]*\.events)$"
    return Permissions(configure=own, write=own, read=read)


def user_name(service: str, namespace: str = "") -> str:
    """A service's broker user: ``<namespace>-<service>`` (users are broker-wide, vhosts are
    not: the dev stack uses its name as the namespace), or just the service's name."""
    return f"{namespace}-{service}" if namespace else service

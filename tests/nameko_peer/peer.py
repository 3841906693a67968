"""Nameko peer service: proves Lethe events follow nameko's wire conventions.

A plain nameko service using nameko's own ``event_handler``.  It consumes
events that a *nameko* service called ``$NAMEKO_PEER_SOURCE`` would have
dispatched (exchange ``<source>.events``, topic, routing key = event type)
and appends every received event body as one JSON line to ``$NAMEKO_PEER_OUT``.

Runs only inside the dedicated eventlet venv (see README.md); this module must
never import pymongo or grpc.

Environment:
    NAMEKO_PEER_SOURCE        source service name (default ``identity``)
    NAMEKO_PEER_EVENT_TYPE    event type / routing key (default ``system.ping``)
    NAMEKO_PEER_SERVICE_NAME  this service's name (default ``nameko_peer``)
    NAMEKO_PEER_OUT           output file for received events (JSON lines)
"""

import json
import os

from nameko.events import event_handler

SOURCE = os.environ.get("NAMEKO_PEER_SOURCE", "identity")
EVENT_TYPE = os.environ.get("NAMEKO_PEER_EVENT_TYPE", "system.ping")
SERVICE_NAME = os.environ.get("NAMEKO_PEER_SERVICE_NAME", "nameko_peer")


def queue_name(source=SOURCE, event_type=EVENT_TYPE, service=SERVICE_NAME):
    """Name of the durable queue nameko declares for ``NamekoPeer.handle``."""
    return "evt-{}-{}--{}.handle".format(source, event_type, service)


def _append_line(path, obj):
    line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


class NamekoPeer:
    name = SERVICE_NAME

    @event_handler(SOURCE, EVENT_TYPE)
    def handle(self, event_data):
        # nameko passes the deserialized message body (our whole envelope).
        _append_line(os.environ["NAMEKO_PEER_OUT"], event_data)

"""Start the nameko peer service (see README.md).

Usage (inside the nameko venv):
    NAMEKO_PEER_AMQP_URI=amqp://guest:guest@127.0.0.1:5672// \
    NAMEKO_PEER_OUT=var/nameko_peer.jsonl \
    var/venv-nameko/bin/python tests/nameko_peer/run.py

Prints ``READY`` on stdout and creates ``$NAMEKO_PEER_OUT.ready`` once the
handler's queue is declared, bound and consumed from.  SIGTERM / SIGINT stop
the service cleanly (exit code 0); the ``.ready`` file is removed on exit.
"""

import eventlet

eventlet.monkey_patch()  # noqa: E402 -- must precede every other import

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko import config  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer  # noqa: E402


def main():
    logging.basicConfig(
        level=os.environ.get("NAMEKO_PEER_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="nameko_peer %(levelname)s %(name)s: %(message)s",
    )
    amqp_uri = os.environ["NAMEKO_PEER_AMQP_URI"]
    out = os.environ["NAMEKO_PEER_OUT"]
    ready_file = out + ".ready"
    if os.path.exists(ready_file):
        os.unlink(ready_file)

    config.setup({"AMQP_URI": amqp_uri})

    runner = ServiceRunner()
    runner.add_service(peer.NamekoPeer)

    def shutdown(signum, frame):
        # signal handlers run in the hub's main loop and may not block on
        # eventlet primitives: stop the runner in a greenlet instead
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    # start() returns only after every entrypoint has started; for the event
    # handler that means its queue is declared, bound and basic.consume issued
    runner.start()
    with open(ready_file, "w") as fh:
        fh.write(peer.queue_name() + "\n")
    print("READY", flush=True)

    runnlet = eventlet.spawn(runner.wait)
    try:
        while True:
            try:
                runnlet.wait()
                break
            except InterruptedError:
                continue
    finally:
        if os.path.exists(ready_file):
            os.unlink(ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

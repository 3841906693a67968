"""A local SMTP server that files every message into a Maildir (development and tests).

Listens on 127.0.0.1:$LETHE_SMTP_PORT (default 2525) and writes into
$LETHE_MAILDIR (default var/mail). It relays nothing anywhere.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    maildir = Path(os.environ.get("LETHE_MAILDIR", ROOT / "var" / "mail"))
    port = int(os.environ.get("LETHE_SMTP_PORT", "2525"))
    maildir.parent.mkdir(parents=True, exist_ok=True)
    host = os.environ.get("LETHE_BIND_HOST", "127.0.0.1")
    controller = Controller(Mailbox(str(maildir)), hostname=host, port=port)
    controller.start()
    print(f"smtp sink on {host}:{port} writing to {maildir}", flush=True)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()

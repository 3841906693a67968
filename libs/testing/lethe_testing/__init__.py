"""Helpers for Lethe's tests, one module per concern; only tests import them.

- :mod:`.waiting`: free ports, unique names, waiting for a condition;
- :mod:`.processes`: service processes on free ports, one backend or the whole stack;
- :mod:`.bus`: what a consumer would receive from the bus (``EventTap``);
- :mod:`.servers`: a private store or broker that a test may kill;
- :mod:`.maildir`: mails in the SMTP sink's Maildir, each checked strictly
  (``checked_mail``), and the tokens in their links;
- :mod:`.web`: a web client of the gateway (``Browser``).
- :mod:`.browser`: checks of pages in Debian's Chromium through Playwright (imported
  on its own: ``from lethe_testing.browser import ...``).

Everything runs against the real store and broker that ``tools/stack.py test``
started (their URLs are in the environment).
"""

from lethe_testing.bus import EventTap
from lethe_testing.maildir import (
    MailCheckFailed,
    checked_mail,
    mail_text,
    mails_in,
    mails_to,
    token_in,
    wait_for_mail,
)
from lethe_testing.processes import (
    BACKENDS,
    Backend,
    ServiceProcess,
    Stack,
    backend_env,
    delete_consumer_queues,
    metric_total,
    remove_backend,
    running_backend,
    start_backend,
    start_gateway,
    start_stack,
    stop_stack,
    worker_metrics,
)
from lethe_testing.rpc import code_of
from lethe_testing.servers import (
    PrivateServer,
    private_broker,
    private_smtp_sink,
    private_store,
)
from lethe_testing.waiting import free_port, http_status, unique, wait_for
from lethe_testing.web import Browser

__all__ = [
    "BACKENDS",
    "Backend",
    "Browser",
    "EventTap",
    "MailCheckFailed",
    "PrivateServer",
    "ServiceProcess",
    "Stack",
    "backend_env",
    "checked_mail",
    "code_of",
    "delete_consumer_queues",
    "free_port",
    "http_status",
    "mail_text",
    "mails_in",
    "mails_to",
    "metric_total",
    "private_broker",
    "private_smtp_sink",
    "private_store",
    "remove_backend",
    "running_backend",
    "start_backend",
    "start_gateway",
    "start_stack",
    "stop_stack",
    "token_in",
    "unique",
    "wait_for",
    "wait_for_mail",
    "worker_metrics",
]

"""The proof of erasure (issue 14): what is left of a person once their erasure completed.

Every service searches its whole store and its retry and dead-letter queues
(``FindSubjectTraces``), and the dev stack's log files are searched here, for the person's
e-mail address, name, phone digits, account id and subject key (:mod:`lethe_common.traces`:
by keyed hashes, so it can run again long after nothing holds them in clear). A hit in a
collection that the service's receipt declares kept is *retained* until the end the
receipt names; any other hit fails the verification. A service that does not answer makes
it *incomplete*, and it is tried again later.

A completed erasure is verified automatically (the ``verify`` queue, filled when the last
receipt completes it); staff run it again with ``VerifyErasure``, which the staff audit trail
records (``erasure.verified``, the outcome). Each result is stored with the request; a
failure is logged as a warning and counted for the alert.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import Counter

from lethe_common.audit import AuditRecord, AuditTrail
from lethe_common.errors import FailedPrecondition, NotFound, Unavailable
from lethe_common.events.outbox import OUTBOX
from lethe_common.mongo import Document
from lethe_common.store.index import TimeQueue
from lethe_common.subject import Subject
from lethe_common.trace_search import Findings, search_logs
from lethe_common.traces import Sought, Trace, TraceFinder
from lethe_consent.models import ReceiptView
from lethe_consent.request_book import RequestBook
from lethe_consent.request_store import RequestStore

log = logging.getLogger(__name__)

VERIFY = "verify"
RETRY = timedelta(minutes=30)  # a run that died or found a service silent is tried again
BATCH = 200  # FindSubjectTraces takes this many at once (MAX_SOUGHT)
PASSED, FAILED, INCOMPLETE = "passed", "failed", "incomplete"
LOGS = "logs"
IN_FLIGHT = "until the event is published (outbox): the proof runs again"

VERIFICATIONS = Counter(
    "lethe_erasure_verifications_total",
    "Runs of the proof of erasure, by outcome (alert on any 'failed').",
    ["outcome"],
)


@dataclass(frozen=True)
class Answer:
    """One service's search: its traces and how much it read."""

    service: str
    traces: list[Trace] = field(default_factory=list)
    documents: int = 0
    messages: int = 0


Search = Callable[[list[Sought]], Answer]


def kept_places(receipts: list[ReceiptView]) -> dict[tuple[str, str], str]:
    """(service, collection) → until, from each service's final receipt (its ``done`` one;
    a deferral's declarations end with it)."""
    final: dict[str, ReceiptView] = {}
    for receipt in receipts:
        if receipt.outcome == "done" or receipt.service not in final:
            final[receipt.service] = receipt
    kept: dict[tuple[str, str], str] = {}
    for service, receipt in final.items():
        for place in receipt.retained:
            where, until = (service, str(place.get("collection"))), str(place.get("until"))
            kept[where] = f"{kept[where]}; {until}" if where in kept and until not in kept[where] else until
    return kept


def sought_of(request: Document, receipts: list[ReceiptView]) -> list[Sought]:
    """Whom to look for: the person under every key their account had (issue 18)."""
    marks = tuple(dict.fromkeys(f for r in receipts for f in r.fingerprints))
    subject = Subject.from_doc(request)
    return [Sought(request["_id"], k, subject.account_id, marks) for k in subject.all_keys()]


def judge(
    answers: list[Answer], unanswered: list[str], kept: dict[tuple[str, str], str], searched_lines: int
) -> Document:
    """The result of one request's verification from every answer."""
    retained, failures = [], []
    pending = 0
    for answer in answers:
        for trace in answer.traces:
            entry = {
                "service": answer.service,
                "source": trace.source,
                "collection": trace.collection,
                "place": trace.place,
                "what": trace.what,
                "declared": trace.declared,
            }
            # Only a field the inventory declares may be kept: a receipt cannot excuse the rest.
            until = kept.get((answer.service, trace.collection)) if trace.declared else None
            if trace.declared and trace.collection == OUTBOX:
                # An event still on its way (a crash or an outage delayed it): the run is
                # tried again once the relay has published and dropped it.
                pending += 1
                retained.append({**entry, "until": IN_FLIGHT})
            elif until:
                retained.append({**entry, "until": until})
            else:
                failures.append({**entry, "until": ""})
    outcome = FAILED if failures else INCOMPLETE if unanswered or pending else PASSED
    return {
        "outcome": outcome,
        "retained": retained,
        "failures": failures,
        "unanswered": sorted(unanswered),
        "documents_searched": sum(a.documents for a in answers),
        "messages_searched": sum(a.messages for a in answers),
        "log_lines_searched": searched_lines,
    }


class ErasureVerifier:
    def __init__(
        self,
        store: RequestStore,
        book: RequestBook,
        queue: TimeQueue,
        searches: dict[str, Search],
        pepper: str,
        log_dir: str = "",
        delay_seconds: float = 0.0,
        retry_seconds: float = RETRY.total_seconds(),
        audit: AuditTrail | None = None,
    ) -> None:
        self._audit = audit
        self._retry = timedelta(seconds=retry_seconds)
        self._store = store
        self._book = book
        self._queue = queue
        self._searches = searches
        self._pepper = pepper
        self._log_dir = Path(log_dir) if log_dir else None
        self._delay = timedelta(seconds=delay_seconds)

    # -- when ---------------------------------------------------------------------------------
    def schedule(self, request_id: str, completed_at: datetime) -> None:
        """Verify this completed erasure soon (idempotent: the same time, the same entry)."""
        self._queue.schedule(VERIFY, completed_at + self._delay, request_id)

    def run_due(self, now: datetime | None = None) -> dict[str, int]:
        """Verify the erasures due. Each is claimed by taking its entry out, after its retry
        is put in: a worker that dies mid-run leaves the retry, another finds it later."""
        now = now or datetime.now(UTC)
        claimed: dict[str, datetime] = {}
        for entry in self._queue.due(VERIFY, now, limit=BATCH):
            retry_at = entry["at"] + self._retry
            self._queue.schedule(VERIFY, retry_at, entry["item"])
            if self._queue.remove(entry["_id"]):
                claimed[entry["item"]] = retry_at
        if not claimed:
            return {}
        results = self.verify(sorted(claimed), now)
        for request_id, retry_at in claimed.items():
            if results.get(request_id, {}).get("outcome") != INCOMPLETE:
                self._queue.remove_item(VERIFY, retry_at, request_id)
        counts: dict[str, int] = {}
        for result in results.values():
            counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
        return counts

    # -- what ---------------------------------------------------------------------------------
    def verify_one(self, request_id: str, actor: str = "", now: datetime | None = None) -> Document:
        """Staff's run (``actor``: who, for the audit trail): NotFound for no request,
        FailedPrecondition unless a complete erasure."""
        state = self._book.state(request_id)
        if state is None:
            raise NotFound("there is no privacy request with this id")
        if state["kind"] != "erasure" or state["status"] != "complete":
            raise FailedPrecondition("only a complete erasure can be verified")
        result = self.verify([request_id], now)[request_id]
        if actor and self._audit is not None:
            # Recorded after the run, so that this run does not find its own entry; the
            # consent receipt of the erasure declares the trail kept (erasure.py).
            self._audit.record(
                AuditRecord(
                    actor,
                    "erasure.verified",
                    target=request_id,
                    subject_key=str(state.get("subject_key") or ""),
                    detail=str(result["outcome"]),
                ),
                now,
            )
        return result

    def verify(self, request_ids: list[str], now: datetime | None = None) -> dict[str, Document]:
        """Search once for every complete erasure among ``request_ids``; store each result."""
        now = now or datetime.now(UTC)
        states = self._book.states(request_ids)
        wanted = {i: s for i, s in states.items() if s["kind"] == "erasure" and s["status"] == "complete"}
        if not wanted:
            return {}
        receipts = {i: self._book.receipts(i) for i in wanted}
        sought = [person for i in sorted(wanted) for person in sought_of(wanted[i], receipts[i])]
        answers, unanswered, lines = self._search(sought)
        results = {}
        for request_id in sorted(wanted):
            mine = [
                Answer(
                    a.service, [t for t in a.traces if t.request_id == request_id], a.documents, a.messages
                )
                for a in answers
            ]
            result = {"checked_at": now, **judge(mine, unanswered, kept_places(receipts[request_id]), lines)}
            self._store.add_verification(request_id, now, result)
            self._report(request_id, result)
            results[request_id] = result
        return results

    def _search(self, sought: list[Sought]) -> tuple[list[Answer], list[str], int]:
        jobs: dict[str, Callable[[], Answer]] = {
            name: functools.partial(search, sought) for name, search in self._searches.items()
        }
        lines = Findings()
        if self._log_dir is not None and self._log_dir.is_dir():
            jobs[LOGS] = lambda: self._search_logs(sought, lines)
        answers, unanswered = [], []
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            for name, future in futures.items():
                try:
                    answers.append(future.result())
                except Unavailable:
                    unanswered.append(name)
                except Exception:
                    log.exception("an erasure search failed", extra={"service": name})
                    unanswered.append(name)
        return answers, unanswered, lines.log_lines

    def _search_logs(self, sought: list[Sought], found: Findings) -> Answer:
        assert self._log_dir is not None
        search_logs(self._log_dir, TraceFinder(self._pepper, sought), found)
        return Answer(LOGS, found.traces)

    @staticmethod
    def _report(request_id: str, result: Document) -> None:
        VERIFICATIONS.labels(outcome=result["outcome"]).inc()
        extra = {
            "request_id": request_id,
            "outcome": result["outcome"],
            "retained": len(result["retained"]),
            "failures": len(result["failures"]),
            "unanswered": ",".join(result["unanswered"]),
        }
        if result["outcome"] == FAILED:
            places = "; ".join(f"{f['service']} {f['place']} ({f['what']})" for f in result["failures"][:20])
            log.warning("erasure verification failed", extra={**extra, "places": places})
        else:
            log.info("erasure verified", extra=extra)

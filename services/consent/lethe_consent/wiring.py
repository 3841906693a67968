"""The consent domain wired together once, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass

from lethe_common.privacy import ReceiptSender
from lethe_common.runtime import Runtime
from lethe_common.trace_search import ServiceTraceSearch
from lethe_consent.config import SERVICE, ConsentConfig
from lethe_consent.erasure import ConsentErasure
from lethe_consent.inventory import INVENTORY
from lethe_consent.mailer import Mailer
from lethe_consent.records import ConsentLedger
from lethe_consent.repository import ConsentRepository
from lethe_consent.requests import PrivacyRequests
from lethe_consent.staff import StaffDesk
from lethe_consent.texts import ConsentTexts
from lethe_consent.trace_clients import local_search, remote_search
from lethe_consent.verification import ErasureVerifier, Search


@dataclass(frozen=True)
class ConsentParts:
    texts: ConsentTexts
    ledger: ConsentLedger
    requests: PrivacyRequests
    staff: StaffDesk
    erasure: ConsentErasure
    verifier: ErasureVerifier
    traces: ServiceTraceSearch


def build_parts(runtime: Runtime, config: ConsentConfig) -> ConsentParts:
    repo = ConsentRepository(runtime.db, runtime.outbox)
    texts = ConsentTexts(repo)
    ledger = ConsentLedger(repo, texts, config.proof_retention_days)
    requests = PrivacyRequests(repo, ledger, texts, Mailer(config.common, config.public_url), config)
    staff = StaffDesk(repo, requests.book, ledger, texts)
    erasure = ConsentErasure(
        repo,
        ledger,
        ReceiptSender(runtime.db, runtime.outbox, SERVICE),
        config.proof_retention_days,
        config.common.audit_retention_days,
    )
    traces = ServiceTraceSearch.of(runtime, INVENTORY)
    searches: dict[str, Search] = {SERVICE: local_search(SERVICE, traces)}
    for name in config.receipt_services:
        if name in config.trace_addresses:
            searches[name] = remote_search(name, config.trace_addresses[name], config.verify_timeout_seconds)
    verifier = ErasureVerifier(
        repo.requests,
        requests.book,
        repo.expiries,
        searches,
        config.common.subject_pepper,
        config.log_dir,
        config.verify_delay_seconds,
        config.verify_retry_seconds,
        audit=repo.audit,
    )
    requests.on_erasure_complete(verifier.schedule)
    return ConsentParts(texts, ledger, requests, staff, erasure, verifier, traces)

"""The proof of erasure's calls to the other services' ``FindSubjectTraces`` (issue 14).

gRPC stays here: the verifier sees a plain function per service that answers an
:class:`~lethe_consent.verification.Answer` or raises ``Unavailable``.
"""

from __future__ import annotations

from typing import Any

import grpc

from lethe.analytics.v1 import analytics_pb2_grpc
from lethe.common.v1 import subject_pb2
from lethe.identity.v1 import identity_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.errors import Unavailable
from lethe_common.grpc_client import channel_options, target
from lethe_common.trace_search import ServiceTraceSearch
from lethe_common.traces import Sought, Trace
from lethe_consent.verification import Answer, Search

STUBS: dict[str, Any] = {
    "identity": identity_pb2_grpc.IdentityServiceStub,
    "shop": shop_pb2_grpc.ShopServiceStub,
    "newsletter": newsletter_pb2_grpc.NewsletterServiceStub,
    "analytics": analytics_pb2_grpc.AnalyticsServiceStub,
}


def request_of(sought: list[Sought]) -> subject_pb2.FindSubjectTracesRequest:
    return subject_pb2.FindSubjectTracesRequest(
        people=[
            subject_pb2.SoughtPerson(
                request_id=s.request_id,
                subject=subject_pb2.Subject(account_id=s.account_id, subject_key=s.subject_key),
                fingerprints=list(s.fingerprints),
            )
            for s in sought
        ]
    )


def remote_search(service: str, address: str, timeout: float) -> Search:
    stub = STUBS[service](grpc.insecure_channel(target(address), options=channel_options()))

    def search(sought: list[Sought]) -> Answer:
        try:
            reply = stub.FindSubjectTraces(request_of(sought), timeout=timeout)
        except grpc.RpcError:
            raise Unavailable(f"{service} did not answer the search") from None
        return Answer(
            service,
            [Trace(t.request_id, t.source, t.collection, t.place, t.what, t.declared) for t in reply.traces],
            reply.documents_searched,
            reply.messages_searched,
        )

    return search


def local_search(service: str, search: ServiceTraceSearch) -> Search:
    """The consent service's own store and queues, searched in this process."""

    def run(sought: list[Sought]) -> Answer:
        found = search.find(sought)
        return Answer(service, found.traces, found.documents, found.messages)

    return run

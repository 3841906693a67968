"""The analytics gRPC servicer: it translates messages and delegates, nothing more."""

from __future__ import annotations

import json
from typing import Any

from lethe.analytics.v1 import analytics_pb2 as pb
from lethe.analytics.v1 import analytics_pb2_grpc
from lethe.common.v1 import subject_pb2
from lethe_analytics.config import SERVICE
from lethe_analytics.domain import checked_page_view
from lethe_analytics.inventory import ANALYTICS_BASIS, INVENTORY, RETENTION
from lethe_analytics.wiring import AnalyticsParts
from lethe_common.privacy_api import (
    declared_holdings,
    describe_inventory,
    erase_subject,
    export_subject,
    find_subject_traces,
)
from lethe_common.staff import MARKETING, AssertionVerifier, assertion_of
from lethe_common.trace_search import ServiceTraceSearch


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):  # type: ignore[misc]
    def __init__(
        self, parts: AnalyticsParts, *, traces: ServiceTraceSearch, verifier: AssertionVerifier
    ) -> None:
        self._traces = traces
        self._verifier = verifier
        self._analytics = parts.analytics
        self._erasure = parts.erasure

    def RecordPageView(self, request: pb.RecordPageViewRequest, context: Any) -> pb.Accepted:
        view = checked_page_view(request.path, request.visitor_id, request.subject_key)
        kept = self._analytics.record(view)
        return pb.Accepted(
            message="page view counted" + (" and kept for the visitor" if kept else ""),
            visit_recorded=kept,
        )

    def ForgetVisitor(self, request: pb.ForgetVisitorRequest, context: Any) -> pb.ForgetVisitorResponse:
        forgotten = self._analytics.forget_visitor(request.visitor_id)
        return pb.ForgetVisitorResponse(deleted=forgotten.visits, links_deleted=forgotten.links)

    def GetTraffic(self, request: pb.GetTrafficRequest, context: Any) -> pb.Traffic:
        self._verifier.require(assertion_of(context), MARKETING)
        view = self._analytics.traffic(request.days, request.top)
        return pb.Traffic(
            days=[pb.DayViews(day=day, views=views) for day, views in view.days],
            top_pages=[pb.PageViews(path=path, views=views) for path, views in view.top_pages],
            total_views=view.total,
        )

    # -- privacy --------------------------------------------------------------------------
    def DescribeInventory(
        self, request: subject_pb2.DescribeInventoryRequest, context: Any
    ) -> subject_pb2.DescribeInventoryResponse:
        return describe_inventory(SERVICE, INVENTORY)

    def ExportSubjectData(
        self, request: subject_pb2.ExportSubjectDataRequest, context: Any
    ) -> subject_pb2.ExportSubjectDataResponse:
        data = self._erasure.export(export_subject(request.subject))
        return subject_pb2.ExportSubjectDataResponse(
            service=SERVICE,
            inventory=declared_holdings(INVENTORY),
            data_json=json.dumps(data, ensure_ascii=False),
            purposes=["to learn which pages are viewed, with the analytics consent only"],
            lawful_bases=[ANALYTICS_BASIS],
            retention=RETENTION,
            recipients=[],
        )

    def EraseSubject(
        self, request: subject_pb2.EraseSubjectRequest, context: Any
    ) -> subject_pb2.EraseSubjectResponse:
        return erase_subject(SERVICE, request, self._erasure.erase)

    def FindSubjectTraces(
        self, request: subject_pb2.FindSubjectTracesRequest, context: Any
    ) -> subject_pb2.FindSubjectTracesResponse:
        return find_subject_traces(SERVICE, request, self._traces)

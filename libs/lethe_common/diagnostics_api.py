"""The gRPC face of :mod:`lethe_common.diagnostics`, registered by every service."""

from __future__ import annotations

from typing import Any

from lethe.diagnostics.v1 import diagnostics_pb2 as pb
from lethe.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from lethe_common.diagnostics import Diagnostics
from lethe_common.grpc_server import ServiceBinding


class DiagnosticsServicer(pb_grpc.DiagnosticsServicer):
    """Translates requests and delegates; validation lives in the domain class."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self._diagnostics = diagnostics

    def Ping(self, request: pb.PingRequest, context: Any) -> pb.PingResponse:  # noqa: N802
        ping_id, published, key = self._diagnostics.ping(request.note, request.email)
        return pb.PingResponse(ping_id=ping_id, published=published, subject_key=key)

    def CheckPing(self, request: pb.CheckPingRequest, context: Any) -> pb.CheckPingResponse:  # noqa: N802
        seen, source = self._diagnostics.check(request.ping_id)
        return pb.CheckPingResponse(seen=seen, source=source)


def diagnostics_binding(diagnostics: Diagnostics) -> ServiceBinding:
    return ServiceBinding(
        pb_grpc.add_DiagnosticsServicer_to_server,
        DiagnosticsServicer(diagnostics),
        pb.DESCRIPTOR.services_by_name["Diagnostics"].full_name,
    )

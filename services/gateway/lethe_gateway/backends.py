"""The gateway's gRPC channels to the services, and their health."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lethe_common.grpc_client import channel_options, target


class Backends:
    """One long-lived channel per backend service, round-robin over its replicas."""

    def __init__(self, addresses: dict[str, str], health_timeout: float) -> None:
        self._addresses = addresses
        self._timeout = health_timeout
        self.channels = {
            name: grpc.aio.insecure_channel(target(addr), options=channel_options())
            for name, addr in addresses.items()
        }

    async def _status(self, name: str) -> str:
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            return (
                "UNREACHABLE"
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                else exc.code().name
            )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def health(self) -> dict[str, str]:
        """Each backend's gRPC health status, asked concurrently."""
        names = list(self.channels)
        statuses = await asyncio.gather(*(self._status(name) for name in names))
        return dict(zip(names, statuses, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))

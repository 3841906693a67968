"""The newsletter's calls to the consent service, which keeps the proof of every consent.

gRPC status codes from there become our domain errors here, so the domain
never sees gRPC.
"""

from __future__ import annotations

import grpc

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.errors import InvalidArgument, Unavailable
from lethe_common.grpc_client import channel_options, target

PURPOSE = "newsletter"
UNREACHABLE = "the consent service cannot be reached; please try again shortly"


class ConsentClient:
    def __init__(self, address: str, timeout: float) -> None:
        self._channel = grpc.insecure_channel(target(address), options=channel_options())
        self._stub = consent_pb2_grpc.ConsentServiceStub(self._channel)
        self._timeout = timeout

    def current_version(self) -> str:
        """The version of the newsletter text people agree to now."""
        try:
            reply = self._stub.ListCurrentTexts(pb.Empty(), timeout=self._timeout)
        except grpc.RpcError:
            raise Unavailable(UNREACHABLE) from None
        for text in reply.texts:
            if text.purpose == PURPOSE:
                return str(text.version)
        raise Unavailable("there is no newsletter consent text to agree to yet")

    def grant(self, account_id: str, email: str, name: str, version: str, client_address: str) -> str:
        """Record the double opt-in grant; the record id. Raises InvalidArgument, Unavailable."""
        try:
            record = self._stub.Grant(
                pb.GrantRequest(
                    person=pb.Person(account_id=account_id, email=email, name=name),
                    purpose=PURPOSE,
                    version=version,
                    channel="double_opt_in",
                    client_address=client_address,
                ),
                timeout=self._timeout,
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(
                    "the newsletter text has changed since you subscribed; please subscribe "
                    "again and agree to the current text",
                    reason="outdated_consent",
                ) from None
            raise Unavailable(UNREACHABLE) from None
        return str(record.id)

    def withdraw(self, account_id: str, email: str) -> None:
        """Record the withdrawal; nothing to withdraw counts as done. Raises Unavailable."""
        try:
            self._stub.Withdraw(
                pb.WithdrawRequest(
                    person=pb.Person(account_id=account_id, email=email),
                    purpose=PURPOSE,
                    channel="unsubscribe_link",
                ),
                timeout=self._timeout,
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise Unavailable(UNREACHABLE) from None

    def close(self) -> None:
        self._channel.close()

"""Domain errors: what went wrong, in terms a caller understands.

Domain code raises these and knows nothing of gRPC or HTTP. The gRPC server's
interceptor turns each kind into a status code (``lethe_common.grpc_server``)
and the gateway turns status codes into HTTP statuses in one table. Messages
are shown to people, so they must never contain personal data.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service reports on purpose."""

    kind = "internal"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.kind


class InvalidArgument(DomainError):
    kind = "invalid_argument"


class NotFound(DomainError):
    kind = "not_found"


class AlreadyExists(DomainError):
    kind = "already_exists"


class FailedPrecondition(DomainError):
    kind = "failed_precondition"


class Aborted(DomainError):
    """Others changed the same thing at the same moment, again and again; try again."""

    kind = "aborted"


class PermissionDenied(DomainError):
    kind = "permission_denied"


class Unauthenticated(DomainError):
    kind = "unauthenticated"


class TooManyRequests(DomainError):
    """A limit was hit; ``retry_after`` (seconds) travels as ``retry-after`` metadata."""

    kind = "resource_exhausted"

    def __init__(self, message: str, *, retry_after: int = 0, reason: str = "") -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class Unavailable(DomainError):
    kind = "unavailable"

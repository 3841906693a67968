"""The identity API process: the gRPC server."""

from __future__ import annotations

from collections.abc import Sequence

from lethe.identity.v1 import identity_pb2, identity_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_identity.accounts import Accounts
from lethe_identity.config import IdentityConfig, load_config
from lethe_identity.contact import ContactRequests
from lethe_identity.grpc_api import IdentityServicer
from lethe_identity.mailer import Mailer
from lethe_identity.passwords import Passwords
from lethe_identity.portal import Portal
from lethe_identity.repository import INDEXES, IdentityRepository
from lethe_identity.sessions import Sessions


def servicer(runtime: Runtime, config: IdentityConfig) -> IdentityServicer:
    repo = IdentityRepository(runtime.db, runtime.outbox)
    passwords = Passwords(config.argon2)
    mailer = Mailer(config.common, config.public_url)
    portal = Portal(repo, mailer, config.admin_emails)
    accounts = Accounts(repo, passwords, mailer, config, portal)
    return IdentityServicer(accounts, Sessions(repo, accounts, passwords, config), portal,
                            ContactRequests(repo, portal, config))


def main() -> None:
    config = load_config()

    def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
        return [ServiceBinding(identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                               servicer(runtime, config),
                               identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name)]

    api_main(config.common, bindings, INDEXES)


if __name__ == "__main__":
    main()

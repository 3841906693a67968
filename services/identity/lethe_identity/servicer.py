"""The identity gRPC servicer: it translates messages and delegates, nothing more.

Domain errors raised below become status codes in the shared interceptor.
"""

from __future__ import annotations

import json
from typing import Any

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.audit_api import list_entries
from lethe_common.privacy_api import (
    declared_holdings,
    describe_inventory,
    erase_subject,
    export_subject,
    find_subject_traces,
    wire_time,
)
from lethe_common.staff import (
    ADMIN,
    SUPPORT,
    AssertionSigner,
    AssertionVerifier,
    require_recent_password,
    staff_call,
)
from lethe_common.trace_search import ServiceTraceSearch
from lethe_identity import export
from lethe_identity.accounts import Accounts
from lethe_identity.config import SERVICE
from lethe_identity.contact import ContactRequests
from lethe_identity.erasure import IdentityErasure
from lethe_identity.inventory import INVENTORY
from lethe_identity.models import AccountView, ContactView, OrganisationView, PortalAccessView
from lethe_identity.password_changes import PasswordChanges
from lethe_identity.portal import Portal
from lethe_identity.sessions import Sessions
from lethe_identity.staff_roles import StaffMemberView, StaffRoles


def portal_access_message(view: PortalAccessView) -> pb.PortalAccess:
    return pb.PortalAccess(
        status=view.status,
        organisation_id=view.organisation_id,
        organisation_name=view.organisation_name,
        requested_at=wire_time(view.requested_at),
        decided_at=wire_time(view.decided_at),
        reason=view.reason,
    )


def account_message(view: AccountView) -> pb.Account:
    return pb.Account(
        id=view.id,
        email=view.email,
        name=view.name,
        phone=view.phone,
        email_verified=view.email_verified,
        roles=list(view.roles),
        portal_access=portal_access_message(view.portal_access),
        pending_email=view.pending_email,
        account_consent_version=view.account_consent_version,
        created_at=wire_time(view.created_at),
        restricted=view.restricted,
        subject_key=view.subject_key,
        former_subject_keys=list(view.former_subject_keys),
    )


def organisation_message(view: OrganisationView) -> pb.Organisation:
    return pb.Organisation(
        id=view.id, name=view.name, domains=list(view.domains), created_at=wire_time(view.created_at)
    )


def contact_message(view: ContactView) -> pb.ContactRequest:
    return pb.ContactRequest(
        id=view.id,
        kind=view.kind,
        name=view.name,
        email=view.email,
        phone=view.phone,
        message=view.message,
        status=view.status,
        created_at=wire_time(view.created_at),
        closed_at=wire_time(view.closed_at),
    )


def staff_member_message(member: StaffMemberView) -> pb.StaffMember:
    view = member.account
    return pb.StaffMember(
        account_id=view.id,
        email=view.email,
        name=view.name,
        roles=list(view.roles),
        admin_from_environment=member.admin_from_environment,
    )


def _optional(request: Any, field: str) -> str | None:
    return getattr(request, field) if request.HasField(field) else None


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        accounts: Accounts,
        sessions: Sessions,
        portal: Portal,
        contacts: ContactRequests,
        exports: export.IdentityExport,
        contact_retention_days: int,
        erasure: IdentityErasure,
        *,
        traces: ServiceTraceSearch,
        passwords: PasswordChanges,
        staff: StaffRoles,
        signer: AssertionSigner,
        verifier: AssertionVerifier,
    ) -> None:
        self._staff_roles = staff
        self._signer = signer
        self._verifier = verifier
        self._traces = traces
        self._passwords = passwords
        self._accounts = accounts
        self._sessions = sessions
        self._portal = portal
        self._contacts = contacts
        self._erasure = erasure
        self._exports = exports
        self._retention = export.retention(contact_retention_days)

    # -- accounts ------------------------------------------------------------------
    def Register(self, request: pb.RegisterRequest, context: Any) -> pb.RegisterResponse:
        account_id = self._accounts.register(
            request.email,
            request.password,
            request.name,
            request.phone,
            request.account_consent_version,
            client_address=request.client_address,
        )
        return pb.RegisterResponse(account_id=account_id)

    def VerifyEmail(self, request: pb.VerifyEmailRequest, context: Any) -> pb.Account:
        return account_message(self._accounts.verify(request.token, request.password))

    def ResendVerification(self, request: pb.ResendVerificationRequest, context: Any) -> pb.Empty:
        self._accounts.resend_verification(request.email, client_address=request.client_address)
        return pb.Empty()

    # -- sessions ------------------------------------------------------------------
    def Login(self, request: pb.LoginRequest, context: Any) -> pb.LoginResponse:
        result = self._sessions.login(
            request.email, request.password, request.remember_me, request.client_address
        )
        return pb.LoginResponse(
            session_token=result.session_token,
            account=account_message(result.account),
            cookie_max_age_seconds=result.cookie_max_age_seconds,
        )

    def Authenticate(self, request: pb.AuthenticateRequest, context: Any) -> pb.Account:
        return self._with_assertion(self._sessions.authenticate(request.session_token), request.session_token)

    def ConfirmPassword(self, request: pb.ConfirmPasswordRequest, context: Any) -> pb.Account:
        view = self._sessions.authenticate(request.session_token)
        self._passwords.confirm(view.id, request.password)
        self._sessions.password_confirmed(request.session_token)
        return self._with_assertion(view, request.session_token)

    def RequireRecentPassword(self, request: pb.RequireRecentPasswordRequest, context: Any) -> pb.Empty:
        self._sessions.require_recent_password(request.session_token)
        return pb.Empty()

    def _with_assertion(self, view: AccountView, session_token: str) -> pb.Account:
        """The account, and for staff the assertion the other services' staff RPCs need."""
        message = account_message(view)
        if view.roles:
            entered = self._sessions.password_entered_at(session_token).timestamp()
            message.staff_assertion = self._signer.sign(view.id, view.roles, entered)
        return message

    def _staff(self, context: Any, body_actor_id: str, *roles: str) -> str:
        return staff_call(self._verifier, context, body_actor_id, *roles).account_id

    def Logout(self, request: pb.LogoutRequest, context: Any) -> pb.Empty:
        self._sessions.logout(request.session_token)
        return pb.Empty()

    # -- passwords -----------------------------------------------------------------
    def RequestPasswordReset(self, request: pb.RequestPasswordResetRequest, context: Any) -> pb.Empty:
        self._passwords.request_reset(request.email)
        return pb.Empty()

    def ResetPassword(self, request: pb.ResetPasswordRequest, context: Any) -> pb.Empty:
        self._passwords.reset(request.token, request.new_password)
        return pb.Empty()

    def ChangePassword(self, request: pb.ChangePasswordRequest, context: Any) -> pb.Empty:
        self._passwords.change(
            request.account_id, request.current_password, request.new_password, request.keep_session_token
        )
        return pb.Empty()

    # -- profile -------------------------------------------------------------------
    def GetProfile(self, request: pb.AccountRef, context: Any) -> pb.Account:
        return account_message(self._accounts.profile(request.account_id))

    def UpdateProfile(self, request: pb.UpdateProfileRequest, context: Any) -> pb.Account:
        return account_message(
            self._accounts.update_profile(
                request.account_id,
                name=_optional(request, "name"),
                phone=_optional(request, "phone"),
                email=_optional(request, "email"),
                client_address=request.client_address,
            )
        )

    # -- portal access and organisations ---------------------------------------------
    def RequestPortalAccess(self, request: pb.AccountRef, context: Any) -> pb.PortalAccess:
        return portal_access_message(self._portal.request_access(request.account_id))

    def GetPortalOrganisation(self, request: pb.AccountRef, context: Any) -> pb.Organisation:
        return organisation_message(self._portal.organisation_of(request.account_id))

    def CreateOrganisation(self, request: pb.CreateOrganisationRequest, context: Any) -> pb.Organisation:
        return organisation_message(
            self._portal.organisations.create(
                self._staff(context, request.actor_account_id, SUPPORT), request.name, list(request.domains)
            )
        )

    def UpdateOrganisation(self, request: pb.UpdateOrganisationRequest, context: Any) -> pb.Organisation:
        domains = list(request.domains) if request.set_domains else None
        return organisation_message(
            self._portal.organisations.update(
                self._staff(context, request.actor_account_id, SUPPORT),
                request.organisation_id,
                _optional(request, "name"),
                domains,
            )
        )

    def ListOrganisations(self, request: pb.AdminListRequest, context: Any) -> pb.OrganisationList:
        organisations, token = self._portal.organisations.page(
            self._staff(context, request.actor_account_id, SUPPORT), request.page_size, request.page_token
        )
        return pb.OrganisationList(
            organisations=[organisation_message(o) for o in organisations], next_page_token=token
        )

    def ListPortalAccessRequests(
        self, request: pb.AdminListRequest, context: Any
    ) -> pb.PortalAccessRequestList:
        accounts, token = self._portal.requests(
            self._staff(context, request.actor_account_id, SUPPORT),
            request.status,
            request.page_size,
            request.page_token,
        )
        return pb.PortalAccessRequestList(
            requests=[
                pb.PortalAccessRequest(
                    account_id=a.id, name=a.name, email=a.email, access=portal_access_message(a.portal_access)
                )
                for a in accounts
            ],
            next_page_token=token,
        )

    def DecidePortalAccess(self, request: pb.DecidePortalAccessRequest, context: Any) -> pb.PortalAccess:
        return portal_access_message(
            self._portal.decide(
                self._staff(context, request.actor_account_id, SUPPORT),
                request.account_id,
                request.approve,
                request.reason,
            )
        )

    # -- contact requests ----------------------------------------------------------------
    def SubmitContactRequest(
        self, request: pb.SubmitContactRequestRequest, context: Any
    ) -> pb.ContactRequestRef:
        contact_id = self._contacts.submit(
            name=request.name,
            email=request.email,
            phone=request.phone,
            message=request.message,
            kind=request.kind,
            client_address=request.client_address,
        )
        return pb.ContactRequestRef(id=contact_id)

    def ListContactRequests(self, request: pb.AdminListRequest, context: Any) -> pb.ContactRequestList:
        contacts, token = self._contacts.list(
            self._staff(context, request.actor_account_id, SUPPORT),
            request.status,
            request.page_size,
            request.page_token,
        )
        return pb.ContactRequestList(requests=[contact_message(c) for c in contacts], next_page_token=token)

    def CloseContactRequest(self, request: pb.CloseContactRequestRequest, context: Any) -> pb.ContactRequest:
        actor = self._staff(context, request.actor_account_id, SUPPORT)
        return contact_message(self._contacts.close(actor, request.contact_request_id))

    # -- staff roles and the audit trail -----------------------------------------------------
    def ListStaff(self, request: pb.AdminListRequest, context: Any) -> pb.StaffList:
        actor = self._staff(context, request.actor_account_id, ADMIN)
        return pb.StaffList(members=[staff_member_message(m) for m in self._staff_roles.members(actor)])

    def ChangeStaffRole(self, request: pb.ChangeStaffRoleRequest, context: Any) -> pb.StaffMember:
        actor = staff_call(self._verifier, context, request.actor_account_id, ADMIN)
        require_recent_password(actor)
        member = self._staff_roles.change(
            actor.account_id, request.email, request.role, request.grant, request.reason
        )
        return staff_member_message(member)

    def ListAuditEntries(self, request: audit_pb2.AuditListRequest, context: Any) -> audit_pb2.AuditEntryList:
        self._staff_roles.require_admin(self._staff(context, request.actor_account_id, ADMIN))
        return list_entries(SERVICE, self._staff_roles.trail, request)

    # -- privacy -------------------------------------------------------------------------
    def DescribeInventory(
        self, request: subject_pb2.DescribeInventoryRequest, context: Any
    ) -> subject_pb2.DescribeInventoryResponse:
        return describe_inventory(SERVICE, INVENTORY)

    def ExportSubjectData(
        self, request: subject_pb2.ExportSubjectDataRequest, context: Any
    ) -> subject_pb2.ExportSubjectDataResponse:
        data = self._exports.export(export_subject(request.subject))
        return subject_pb2.ExportSubjectDataResponse(
            service=SERVICE,
            inventory=declared_holdings(INVENTORY),
            data_json=json.dumps(data, ensure_ascii=False),
            purposes=list(export.PURPOSES),
            lawful_bases=list(export.LAWFUL_BASES),
            retention=self._retention,
            recipients=list(export.RECIPIENTS),
        )

    def EraseSubject(
        self, request: subject_pb2.EraseSubjectRequest, context: Any
    ) -> subject_pb2.EraseSubjectResponse:
        return erase_subject(SERVICE, request, self._erasure.erase)

    def FindSubjectTraces(
        self, request: subject_pb2.FindSubjectTracesRequest, context: Any
    ) -> subject_pb2.FindSubjectTracesResponse:
        return find_subject_traces(SERVICE, request, self._traces)

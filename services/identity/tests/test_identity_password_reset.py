"""Forgotten password and password change, over gRPC against the real store, broker and SMTP
sink: two API and two worker replicas of the identity service (calls go round-robin).

This module's backend has links that expire after a few seconds
(``IDENTITY_PASSWORD_RESET_TTL_MINUTES``), at most three reset mails per address, and three
wrong current passwords per account, so expiry and limits are seen in real time.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import grpc
import pytest
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common import tokens
from lethe_common.config import ConfigError
from lethe_common.store.keys import under
from lethe_identity.config import load_config
from lethe_testing import (
    Backend,
    code_of,
    mail_text,
    mails_to,
    remove_backend,
    start_backend,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)

PASSWORD = "lantern orchard seventeen"  # what conftest's ``verified`` registers with
NEW_PASSWORD = "copper kettle on a windy hill"
PUBLIC_URL = "https://portal.example"
TTL_SECONDS = 12
MAILS_PER_ADDRESS = 3
WRONG_CURRENT_LIMIT = 3
LINK_GONE = "this link to set a new password has expired or has already been used; please ask for a new one"
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]
SECRETS: list[str] = []  # every token and password used here: none may reach a log


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """This module's own backend (it replaces conftest's, which ``stub``, ``verified`` and
    ``db`` then use)."""
    backend = start_backend(
        "identity",
        unique("pwd"),
        tmp_path_factory.mktemp("identity"),
        IDENTITY_PASSWORD_RESET_TTL_MINUTES=str(TTL_SECONDS / 60),
        IDENTITY_PASSWORD_RESET_MAILS_PER_ADDRESS=str(MAILS_PER_ADDRESS),
        IDENTITY_LOGIN_MAX_FAILURES_PER_ACCOUNT=str(WRONG_CURRENT_LIMIT),
        IDENTITY_SWEEP_INTERVAL_SECONDS="1",
        LETHE_LOG_LEVEL="DEBUG",
        LETHE_PUBLIC_URL=PUBLIC_URL,
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


def address() -> str:
    return f"{unique('pw')}@customer.example"


def login(stub: Stub, email: str, password: str = PASSWORD, client: str = "192.0.2.44") -> str:
    token = stub.Login(
        pb.LoginRequest(email=email, password=password, client_address=client), timeout=10
    ).session_token
    SECRETS.append(token)
    return str(token)


def authenticated(stub: Stub, session_token: str) -> bool:
    try:
        stub.Authenticate(pb.AuthenticateRequest(session_token=session_token), timeout=5)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
        return False
    return True


def reset_mail(stub: Stub, email: str, count: int = 1) -> tuple[EmailMessage, str]:
    """Ask for a link (the ``count``-th to this address) and read it from the Maildir."""
    stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=email), timeout=10)
    mail = wait_for_mail(email, "password-reset", count)
    token = token_in(mail)
    SECRETS.append(token)
    return mail, token


def reset(stub: Stub, token: str, new_password: str = NEW_PASSWORD) -> None:
    stub.ResetPassword(pb.ResetPasswordRequest(token=token, new_password=new_password), timeout=10)


def refusal(call: Callable[[], object]) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the call succeeded but was expected to fail")


def reason_of(error: grpc.RpcError) -> str:
    return next((str(v) for k, v in error.trailing_metadata() or () if k == "reason"), "")


def assert_link_gone(call: Callable[[], object]) -> None:
    """Refused as a used, expired, superseded or unknown link: one message for all."""
    error = refusal(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details(), reason_of(error)) == (LINK_GONE, "link_expired")


# -- configuration --------------------------------------------------------------------------
@pytest.mark.unit
def test_a_reset_link_lives_an_hour_and_three_mails_an_hour_go_to_one_address(
    env: pytest.MonkeyPatch,
) -> None:
    config = load_config()
    assert config.password_reset_ttl_minutes == 60
    assert (config.password_reset_mails_per_address, config.password_reset_window_seconds) == (3, 3600)
    env.setenv("IDENTITY_PASSWORD_RESET_TTL_MINUTES", "0.5")
    assert load_config().password_reset_ttl_minutes == 0.5


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IDENTITY_PASSWORD_RESET_TTL_MINUTES", "0"),
        ("IDENTITY_PASSWORD_RESET_TTL_MINUTES", "1441"),
        ("IDENTITY_PASSWORD_RESET_TTL_MINUTES", "nan"),
        ("IDENTITY_PASSWORD_RESET_MAILS_PER_ADDRESS", "0"),
        ("IDENTITY_PASSWORD_RESET_WINDOW_SECONDS", "0"),
    ],
)
def test_a_reset_setting_out_of_range_stops_the_start(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config()


# -- asking for a link --------------------------------------------------------------------
def test_a_link_goes_only_to_a_verified_account_and_every_address_gets_the_same_answer(
    stub: Stub, verified: Verified, db: Database
) -> None:
    known, unknown, unverified = address(), address(), address()
    verified(known)
    stub.Register(
        pb.RegisterRequest(email=unverified, password=PASSWORD, name="Not Yet", account_consent_version="1"),
        timeout=10,
    )
    answers = [
        stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=e), timeout=10)
        for e in (unknown, unverified, f"  {known.upper()} ")
    ]
    assert all(answer == pb.Empty() for answer in answers)
    mail = wait_for_mail(known, "password-reset")
    assert mails_to(unknown) == [] and mails_to(unverified, kind="password-reset") == []
    assert mail["To"] == known and "Set a new password" in str(mail["Subject"])
    text = mail_text(mail)
    token = token_in(mail)
    SECRETS.append(token)
    assert f"{PUBLIC_URL}/reset-password?token={token}" in text
    assert "Test Person" not in text  # the request named only an address: the mail names no one
    # Only the token's digest is stored.
    assert db["verification_tokens"].find_one({"_id": token}) is None
    stored = db["verification_tokens"].find_one({"_id": tokens.digest(token)})
    assert stored is not None and stored["purpose"] == "reset_password"
    assert token not in str(list(db["verification_links"].find({"digest": {"$exists": True}})))
    # A malformed address is the only other answer (it says nothing about accounts).
    assert (
        code_of(lambda: stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email="nope"), timeout=5))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_mails_to_one_address_are_limited_and_more_requests_get_the_same_answer(
    stub: Stub, verified: Verified
) -> None:
    email = address()
    verified(email)
    for _ in range(MAILS_PER_ADDRESS + 2):
        assert (
            stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=email), timeout=10) == pb.Empty()
        )
    wait_for_mail(email, "password-reset", MAILS_PER_ADDRESS)
    time.sleep(1)
    assert len(mails_to(email, kind="password-reset")) == MAILS_PER_ADDRESS


# -- using the link -----------------------------------------------------------------------
def test_the_link_sets_a_new_password_once_and_ends_every_session(stub: Stub, verified: Verified) -> None:
    email = address()
    verified(email)
    sessions = [login(stub, email), login(stub, email)]
    assert all(authenticated(stub, s) for s in sessions)
    _, token = reset_mail(stub, email)
    reset(stub, token)
    assert [authenticated(stub, s) for s in sessions] == [False, False]
    assert code_of(lambda: login(stub, email, PASSWORD)) == grpc.StatusCode.UNAUTHENTICATED
    assert authenticated(stub, login(stub, email, NEW_PASSWORD))
    assert_link_gone(lambda: reset(stub, token, "another fine passphrase here"))
    assert authenticated(stub, login(stub, email, NEW_PASSWORD))  # the second use changed nothing

    notice = wait_for_mail(email, "password-changed")
    text = mail_text(notice)
    assert "Your password was changed" in str(notice["Subject"])
    assert "with the link from our mail" in text and "Every session of your account has ended" in text
    assert NEW_PASSWORD not in text and PASSWORD not in text and "Test Person" not in text


def test_a_newer_link_makes_the_older_one_void(stub: Stub, verified: Verified) -> None:
    email = address()
    verified(email)
    _, older = reset_mail(stub, email, 1)
    _, newer = reset_mail(stub, email, 2)
    assert_link_gone(lambda: reset(stub, older))
    reset(stub, newer)
    assert authenticated(stub, login(stub, email, NEW_PASSWORD))


def test_an_expired_link_is_refused_like_a_used_one_and_swept(
    stub: Stub, verified: Verified, db: Database
) -> None:
    email = address()
    verified(email)
    _, token = reset_mail(stub, email)
    time.sleep(TTL_SECONDS + 0.5)
    assert_link_gone(lambda: reset(stub, token))
    assert authenticated(stub, login(stub, email, PASSWORD))  # the password stayed
    wait_for(
        lambda: db["verification_tokens"].find_one({"_id": tokens.digest(token)}) is None,
        10,
        what="the expired link swept",
    )
    assert_link_gone(lambda: reset(stub, token))
    assert_link_gone(lambda: reset(stub, "x" * 43))  # never issued


def test_a_new_password_against_the_policy_leaves_the_link_usable(stub: Stub, verified: Verified) -> None:
    email = address()
    verified(email)
    session = login(stub, email)
    _, token = reset_mail(stub, email)
    for bad, says in (("short", "at least 10"), ("Password2024!", "too common"), (email, "e-mail address")):
        error = refusal(lambda b=bad: reset(stub, token, b))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and says in str(error.details())
        assert reason_of(error) != "link_expired"
    assert authenticated(stub, session)  # nothing happened yet
    reset(stub, token)
    assert not authenticated(stub, session)


def test_other_links_of_the_account_set_no_password(stub: Stub, verified: Verified) -> None:
    """An e-mail change's link (or an activation's) is no password-reset link."""
    email, new_address = address(), address()
    account_id = verified(email)
    stub.UpdateProfile(pb.UpdateProfileRequest(account_id=account_id, email=new_address), timeout=10)
    change = token_in(wait_for_mail(new_address, "verification"))
    activation = token_in(wait_for_mail(email, "verification"))
    SECRETS.extend([change, activation])
    for token in (change, activation):
        assert_link_gone(lambda t=token: reset(stub, t))
    assert authenticated(stub, login(stub, email, PASSWORD))
    stub.VerifyEmail(pb.VerifyEmailRequest(token=change), timeout=10)  # the change link still works
    assert stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5).email == new_address


def test_a_reset_cancels_a_pending_email_change(stub: Stub, verified: Verified) -> None:
    """Whoever had the account before the reset must not move it to their own address."""
    email, intruder = address(), address()
    account_id = verified(email)
    stub.UpdateProfile(pb.UpdateProfileRequest(account_id=account_id, email=intruder), timeout=10)
    change = token_in(wait_for_mail(intruder, "verification"))
    SECRETS.append(change)
    assert stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5).pending_email == intruder
    _, token = reset_mail(stub, email)
    reset(stub, token)
    assert (
        code_of(lambda: stub.VerifyEmail(pb.VerifyEmailRequest(token=change), timeout=10))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    profile = stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5)
    assert (profile.email, profile.pending_email) == (email, "")


def test_a_log_in_racing_a_reset_keeps_no_session_opened_with_the_old_password(
    stub: Stub, verified: Verified
) -> None:
    """Log-ins with the old password run all the time while the link is used: whichever
    session got in before or during the reset, none of them works afterwards."""
    email = address()
    verified(email)
    _, token = reset_mail(stub, email)
    done = threading.Event()

    def keep_logging_in(n: int) -> list[str]:
        opened = []
        while not done.is_set():
            try:
                opened.append(login(stub, email, PASSWORD, client=f"198.51.100.{n}"))
            except grpc.RpcError:
                time.sleep(0.05)  # refused: the new password holds, or the limit
        return opened

    with ThreadPoolExecutor(WRONG_CURRENT_LIMIT) as pool:
        runs = [pool.submit(keep_logging_in, n) for n in range(WRONG_CURRENT_LIMIT)]
        time.sleep(0.5)
        reset(stub, token)
        time.sleep(0.5)
        done.set()
        opened = [session for run in runs for session in run.result()]
    assert opened, "no log-in got in before the reset: the race was not run"
    assert [s for s in opened if authenticated(stub, s)] == []


# -- a change in the profile ---------------------------------------------------------------
def test_a_change_needs_the_current_password_and_ends_every_other_session(
    stub: Stub, verified: Verified
) -> None:
    email = address()
    account_id = verified(email)
    here, elsewhere = login(stub, email), login(stub, email)

    def change(current: str, new: str = NEW_PASSWORD, keep: str = here) -> None:
        stub.ChangePassword(
            pb.ChangePasswordRequest(
                account_id=account_id, current_password=current, new_password=new, keep_session_token=keep
            ),
            timeout=10,
        )

    wrong = refusal(lambda: change("not my password at all"))
    assert (wrong.code(), wrong.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "the current password is wrong",
    )
    assert code_of(lambda: change(PASSWORD, "short")) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: change(PASSWORD, PASSWORD)) == grpc.StatusCode.INVALID_ARGUMENT
    assert authenticated(stub, here) and authenticated(stub, elsewhere)  # nothing changed so far
    assert mails_to(email, kind="password-changed") == []

    change(PASSWORD)
    assert (authenticated(stub, here), authenticated(stub, elsewhere)) == (True, False)
    assert code_of(lambda: login(stub, email, PASSWORD)) == grpc.StatusCode.UNAUTHENTICATED
    assert authenticated(stub, login(stub, email, NEW_PASSWORD))
    text = mail_text(wait_for_mail(email, "password-changed"))
    assert "in your profile" in text and "Every other session of your account has ended" in text
    assert NEW_PASSWORD not in text and PASSWORD not in text


def test_wrong_current_passwords_are_limited_like_failed_log_ins(stub: Stub, verified: Verified) -> None:
    email = address()
    account_id = verified(email)

    def change(current: str) -> grpc.StatusCode:
        return code_of(
            lambda: stub.ChangePassword(
                pb.ChangePasswordRequest(account_id=account_id, current_password=current, new_password="x"),
                timeout=10,
            )
        )

    def change_to_new(current: str) -> grpc.RpcError:
        return refusal(
            lambda: stub.ChangePassword(
                pb.ChangePasswordRequest(
                    account_id=account_id, current_password=current, new_password=NEW_PASSWORD
                ),
                timeout=10,
            )
        )

    assert change(PASSWORD) == grpc.StatusCode.INVALID_ARGUMENT  # a bad new password costs no guess
    codes = [change_to_new(f"guess number {n}").code() for n in range(WRONG_CURRENT_LIMIT + 1)]
    assert codes == [grpc.StatusCode.PERMISSION_DENIED] * WRONG_CURRENT_LIMIT + [
        grpc.StatusCode.RESOURCE_EXHAUSTED
    ]
    limited = change_to_new(PASSWORD)  # even the right one, until the window has passed
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert authenticated(stub, login(stub, email, PASSWORD))


def test_the_erasure_deletes_reset_links_with_the_account(
    stub: Stub, verified: Verified, db: Database, key_of: Callable[[str], str]
) -> None:
    email = address()
    account_id = verified(email)
    _, token = reset_mail(stub, email)
    assert db["owned"].count_documents({"_id": under(account_id, "token")}) >= 1
    subject = subject_pb2.Subject(account_id=account_id, subject_key=key_of(email))
    stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(subject=subject, request_id=f"pr_{uuid.uuid4().hex}"), timeout=10
    )
    assert db["verification_tokens"].find_one({"_id": tokens.digest(token)}) is None
    assert_link_gone(lambda: reset(stub, token))


def test_no_password_or_token_reaches_a_log(identity: Backend) -> None:
    logs = "".join(process.log() for process in (*identity.apis, *identity.workers))
    assert "RequestPasswordReset" in logs or "password reset" in logs  # the logs were written
    leaked = [s for s in {*SECRETS, PASSWORD, NEW_PASSWORD} if s in logs]
    assert leaked == []
    assert "@customer.example" not in logs

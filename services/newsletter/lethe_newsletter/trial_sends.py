"""Test sends: staff mail a draft to themselves before it goes to every subscriber.

The message is the campaign as a subscriber gets it, marked as a test and with an
unsubscribe link that unsubscribes no one (:meth:`Messages.campaign_test`). It goes to the
one address the request names, which the gateway fills with the logged-in staff member's
own (the service cannot know staff addresses; the actor is the signed assertion's). A test
send changes nothing of the campaign: no step, no send log, no progress. So that it cannot
be used to mail anyone much, a campaign has :data:`LIMIT` test sends per hour: each takes a
slot, one unique insert (:meth:`CampaignRepository.take_test_slot`), and a mail the relay
did not take gives its slot back. Each test send is in the audit trail
(``campaign.test_sent``), without the address.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime

from lethe_common.audit import AuditRecord, AuditTrail
from lethe_common.errors import FailedPrecondition, NotFound, TooManyRequests, Unavailable
from lethe_common.mail import Mail
from lethe_common.validation import email, object_id
from lethe_newsletter.campaign_repository import CampaignRepository
from lethe_newsletter.campaign_state import DRAFT, campaign_state
from lethe_newsletter.messages import Messages

log = logging.getLogger(__name__)

LIMIT = 10  # test sends per campaign per hour
HOUR = 3600
TEST_SENT = "campaign.test_sent"
ONLY_DRAFTS = "only a draft can be sent as a test; this campaign has been sent or cancelled"
TOO_MANY = "this campaign has been sent as a test {limit} times this hour; please try again later"
NOT_TAKEN = "the mail server did not take the test mail; please try again later"


def hour_of(moment: datetime) -> int:
    """Hours since the epoch: the test-send window ``moment`` falls in."""
    return int(moment.timestamp()) // HOUR


class TrialSends:
    def __init__(
        self,
        repo: CampaignRepository,
        messages: Messages,
        deliver: Callable[[Mail], object],
        audit: AuditTrail,
        limit: int = LIMIT,
    ) -> None:
        self._repo = repo
        self._messages = messages
        self._deliver = deliver
        self._audit = audit
        self._limit = limit

    def send(self, actor: str, campaign_id: str, to: str, now: datetime | None = None) -> None:
        """Mail the draft ``campaign_id`` to ``to``, marked as a test; the campaign stays as it is."""
        now = now or datetime.now(UTC)
        address = email(to)
        state = campaign_state(campaign_id, self._repo.steps(object_id(campaign_id, "campaign_id")))
        if state is None:
            raise NotFound("there is no such campaign")
        if state.status != DRAFT:
            raise FailedPrecondition(ONLY_DRAFTS)
        hour = hour_of(now)
        slot = self._repo.take_test_slot(campaign_id, hour, self._limit, actor, now)
        if slot is None:
            wait = (hour + 1) * HOUR - int(now.timestamp())
            raise TooManyRequests(TOO_MANY.format(limit=self._limit), retry_after=max(wait, 1))
        try:
            self._deliver(self._messages.campaign_test(state.message_doc(), address))
        except (smtplib.SMTPException, OSError) as exc:
            self._repo.give_back_test_slot(slot)
            log.warning("test mail not sent", extra={"campaign_id": campaign_id, "error": type(exc).__name__})
            raise Unavailable(NOT_TAKEN) from None
        self._audit.record(AuditRecord(actor, TEST_SENT, target=campaign_id), now)
        log.info("campaign sent as a test", extra={"campaign_id": campaign_id})

    def forget_old(self, now: datetime | None = None) -> int:
        """The sweep: slots of past hours count for nothing any more."""
        return self._repo.forget_test_slots(hour_of(now or datetime.now(UTC)))

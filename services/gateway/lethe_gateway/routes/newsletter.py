"""Subscribing to the newsletter, for anyone and from the portal.

Anyone subscribes with an address; the logged-in person from the portal with
theirs. Both get the double opt-in mail, and the answer never says whether
the address was known.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe_gateway.deps import LoggedIn, client_address, newsletter, rpc_timeout
from lethe_gateway.newsletter_schemas import PortalSubscribeBody, SubscribeBody, SubscriptionOut
from lethe_gateway.schemas import Accepted

router = APIRouter(tags=["newsletter"])


@router.post("/newsletter/subscriptions", status_code=202, response_model=Accepted)
async def subscribe(body: SubscribeBody, request: Request) -> Accepted:
    """Ask for the newsletter; it starts once the link in the confirmation mail is used."""
    reply = await newsletter(request).Subscribe(
        pb.SubscribeRequest(
            person=pb.Person(email=body.email, name=body.name),
            consent_version=body.consent_version,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return Accepted(message=reply.message)


@router.get("/me/newsletter", response_model=SubscriptionOut)
async def my_subscription(request: Request, account: LoggedIn) -> SubscriptionOut:
    reply = await newsletter(request).GetSubscription(
        pb.Person(account_id=account.id, email=account.email), timeout=rpc_timeout(request)
    )
    return SubscriptionOut.of(reply)


@router.post("/me/newsletter", status_code=202, response_model=Accepted)
async def subscribe_me(body: PortalSubscribeBody, request: Request, account: LoggedIn) -> Accepted:
    """Subscribe the logged-in person's address, with the same confirmation mail."""
    reply = await newsletter(request).Subscribe(
        pb.SubscribeRequest(
            person=pb.Person(account_id=account.id, email=account.email, name=account.name),
            consent_version=body.consent_version,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return Accepted(message=reply.message)


@router.delete("/me/newsletter", response_model=SubscriptionOut)
async def unsubscribe_me(request: Request, account: LoggedIn) -> SubscriptionOut:
    """Leave at once; the consent service records the withdrawal."""
    reply = await newsletter(request).UnsubscribePerson(
        pb.Person(account_id=account.id, email=account.email), timeout=rpc_timeout(request)
    )
    return SubscriptionOut.of(reply)

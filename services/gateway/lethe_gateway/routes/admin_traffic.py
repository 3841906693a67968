"""Staff routes (role admin): the portal's traffic, from the analytics service's counts.

The counts name no one (pages per day); no visitor's views are shown to staff.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from lethe.analytics.v1 import analytics_pb2 as pb
from lethe.identity.v1 import identity_pb2 as pb_identity
from lethe_gateway.deps import Marketing, analytics, as_staff, rpc_timeout

router = APIRouter(prefix="/admin", tags=["admin"])


class DayViewsOut(BaseModel):
    day: str
    views: int


class PageViewsOut(BaseModel):
    path: str
    views: int


class TrafficOut(BaseModel):
    days: list[DayViewsOut]
    top_pages: list[PageViewsOut]
    total_views: int

    @classmethod
    def of(cls, reply: pb.Traffic) -> TrafficOut:
        return cls(
            days=[DayViewsOut(day=d.day, views=d.views) for d in reply.days],
            top_pages=[PageViewsOut(path=p.path, views=p.views) for p in reply.top_pages],
            total_views=reply.total_views,
        )


async def read_traffic(request: Request, staff: pb_identity.Account, days: int, top: int) -> TrafficOut:
    reply = await analytics(request).GetTraffic(
        pb.GetTrafficRequest(days=days, top=top), metadata=as_staff(staff), timeout=rpc_timeout(request)
    )
    return TrafficOut.of(reply)


@router.get("/traffic", response_model=TrafficOut)
async def traffic(
    request: Request,
    staff: Marketing,
    days: Annotated[int, Query(ge=1, le=400)] = 30,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
) -> TrafficOut:
    """Page views per day (every day of the window, oldest first) and the most viewed pages."""
    return await read_traffic(request, staff, days, top)

"""Downloads: what a customer may fetch, and the expiring signed links that fetch it.

A link's token names the entitlement, the file (by position) and the link's
expiry, signed for this purpose only. It works only for the buyer (the account
in the session must own the entitlement), only while the entitlement lasts and
only until the link expires. Every fetch is recorded (the download history),
which the person's export shows and an erasure deletes.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lethe_common import signing, tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from lethe_common.mongo import Document
from lethe_shop.checkout import Customer
from lethe_shop.models import aware
from lethe_shop.repository import ShopRepository

PURPOSE = "download"
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Offer:
    """One file the customer may download now, with a fresh link."""

    entitlement: Document
    file: str
    size_bytes: int
    token: str
    link_expires_at: datetime


@dataclass(frozen=True)
class OpenedFile:
    name: str
    content_type: str
    size_bytes: int
    path: Path

    def chunks(self) -> Iterator[bytes]:
        with self.path.open("rb") as stream:
            while block := stream.read(CHUNK):
                yield block


class Downloads:
    def __init__(self, repo: ShopRepository, folder: Path, key: bytes, link_lifetime: timedelta) -> None:
        self._repo = repo
        self._folder = folder
        self._key = key
        self._lifetime = link_lifetime

    def offers(self, customer: Customer, now: datetime | None = None) -> list[Offer]:
        now = now or datetime.now(UTC)
        expires = now + self._lifetime
        account_id = customer.subject.account_id
        entitlements = sorted(
            (
                e
                for e in self._repo.people.entitlements_of([account_id])
                if e["account_id"] == account_id and aware(e["until"]) > now
            ),
            key=lambda e: (aware(e["granted_at"]), e["_id"]),
        )
        products = self._repo.catalogue.by_id({e["product_id"] for e in entitlements})
        offers = []
        for entitlement in entitlements:
            product = products.get(entitlement["product_id"])
            for index, name in enumerate(product["files"] if product else []):
                path = self._path(name)
                if path is None:
                    continue
                token = signing.sign(
                    self._key, PURPOSE, [entitlement["_id"], str(index), str(int(expires.timestamp()))]
                )
                offers.append(Offer(entitlement, name, path.stat().st_size, token, expires))
        return offers

    def open(self, customer: Customer, token: str, now: datetime | None = None) -> OpenedFile:
        """The file a link names, if the link is the buyer's, unexpired and still entitled."""
        now = now or datetime.now(UTC)
        try:
            entitlement_id, index, expires = signing.verify(self._key, PURPOSE, token, 3)
        except signing.BadSignature:
            raise InvalidArgument("this download link is not valid") from None
        if not index.isdigit() or not expires.isdigit():
            raise InvalidArgument("this download link is not valid")
        if int(expires) <= now.timestamp():
            raise FailedPrecondition(
                "this download link has expired; the downloads page gives a new one", reason="link_expired"
            )
        entitlement = self._repo.people.entitlement(entitlement_id)
        if entitlement is None or entitlement["account_id"] != customer.subject.account_id:
            raise NotFound("no such download")  # another's link: the same answer as none
        if aware(entitlement["until"]) <= now:
            raise PermissionDenied("the right to download this product has ended")
        product = self._repo.catalogue.by_id([entitlement["product_id"]]).get(entitlement["product_id"])
        files = product["files"] if product else []
        path = self._path(files[int(index)]) if int(index) < len(files) else None
        if path is None:
            raise NotFound("this file is no longer offered")
        self._repo.people.log_download(
            {
                "_id": tokens.new_id("dlg"),
                **customer.subject.fields(),
                "entitlement_id": entitlement_id,
                "file": path.name,
                "at": now,
            }
        )
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return OpenedFile(path.name, content_type, path.stat().st_size, path)

    def _path(self, name: str) -> Path | None:
        """The file inside the storage folder, or None (missing, or a name that leaves it)."""
        path = (self._folder / name).resolve()
        if not path.is_relative_to(self._folder) or not path.is_file():
            return None
        return path

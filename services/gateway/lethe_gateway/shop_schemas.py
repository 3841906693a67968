"""The JSON bodies of the shop routes.

An order line is a product id and a quantity, nothing more: prices, totals and
VAT are the server's (whatever a client sends of its own is ignored). Money is
in cents; VAT rates in basis points (1900 = 19 %).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lethe.shop.v1 import shop_pb2 as pb
from lethe_gateway.schemas import Strict

ProductId = Annotated[str, Field(pattern=r"^prd_[0-9a-f]{32}$")]
Text = Annotated[str, Field(max_length=200)]
Kind = Literal["physical", "download", "subscription"]


def _opt(value: str) -> str | None:
    return value or None


class LineIn(BaseModel):
    """A product and a quantity. Anything else a line carries (a client may send back the
    priced lines its cart showed) is ignored: prices are the catalogue's."""

    model_config = ConfigDict(extra="ignore", strict=True)
    product_id: ProductId
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1


class AddressIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    company: Text = ""
    street: Annotated[str, Field(min_length=1, max_length=200)]
    extra: Text = Field(default="", description="a second address line")
    postcode: Annotated[str, Field(min_length=2, max_length=12)]
    city: Annotated[str, Field(min_length=1, max_length=200)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["DE"])]
    phone: Annotated[str, Field(max_length=32)] = ""
    vat_id: Annotated[str, Field(max_length=16)] = ""

    def message(self) -> pb.Address:
        return pb.Address(**self.model_dump())


class OrderIn(BaseModel):
    """Lines, addresses, payment token. Totals a client sends are ignored: the server
    computes them from the catalogue."""

    model_config = ConfigDict(extra="ignore", strict=True)
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=50)]
    billing: AddressIn
    delivery: AddressIn | None = Field(
        default=None, description="required when the order holds physical goods"
    )
    delivery_note: Annotated[str, Field(max_length=500)] = ""
    payment_token: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            description=(
                "the payment provider's token for the customer's payment details; the card itself "
                "goes to the provider, never to Lethe"
            ),
        ),
    ]


class CartIn(Strict):
    lines: Annotated[list[LineIn], Field(max_length=50)]


ProductName = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]
PriceCents = Annotated[int, Field(gt=0, le=100_000_000)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
VatRate = Annotated[int, Field(ge=0, le=5000, description="basis points: 1900 = 19 %")]
TermMonths = Annotated[int, Field(ge=0, le=120)]
Files = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=20)]


class ProductIn(Strict):
    sku: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,39}$")]
    name: ProductName
    description: Description = ""
    kind: Kind
    price_cents: PriceCents
    currency: Currency = "EUR"
    vat_rate_bp: VatRate = 1900
    term_months: TermMonths = 0
    files: Files = []
    active: bool = True


class ProductPatch(Strict):
    name: ProductName | None = None
    description: Description | None = None
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    vat_rate_bp: VatRate | None = None
    term_months: TermMonths | None = None
    files: Files | None = None
    active: bool | None = None


class MoveIn(Strict):
    status: Literal["paid", "shipped", "delivered", "completed", "cancelled"]


class ProductOut(BaseModel):
    id: str
    sku: str
    name: str
    description: str
    kind: str
    price_cents: int
    currency: str
    vat_rate_bp: int
    term_months: int
    files: list[str]
    active: bool

    @classmethod
    def of(cls, msg: pb.Product) -> ProductOut:
        return cls(
            id=msg.id,
            sku=msg.sku,
            name=msg.name,
            description=msg.description,
            kind=msg.kind,
            price_cents=msg.price_cents,
            currency=msg.currency,
            vat_rate_bp=msg.vat_rate_bp,
            term_months=msg.term_months,
            files=list(msg.files),
            active=msg.active,
        )


class LineOut(BaseModel):
    product_id: str
    sku: str
    name: str
    kind: str
    quantity: int
    unit_cents: int
    vat_rate_bp: int
    net_cents: int
    vat_cents: int
    gross_cents: int
    term_months: int

    @classmethod
    def of(cls, msg: pb.Line) -> LineOut:
        return cls(**{name: getattr(msg, name) for name in cls.model_fields})


class TotalsOut(BaseModel):
    currency: str
    net_cents: int
    vat_cents: int
    gross_cents: int

    @classmethod
    def of(cls, msg: pb.Totals) -> TotalsOut:
        return cls(
            currency=msg.currency,
            net_cents=msg.net_cents,
            vat_cents=msg.vat_cents,
            gross_cents=msg.gross_cents,
        )


class CartOut(BaseModel):
    lines: list[LineOut]
    totals: TotalsOut

    @classmethod
    def of(cls, msg: pb.Cart) -> CartOut:
        return cls(lines=[LineOut.of(line) for line in msg.lines], totals=TotalsOut.of(msg.totals))


def _address(msg: pb.Address) -> dict[str, str]:
    return {field.name: value for field, value in msg.ListFields()}


class OrderOut(BaseModel):
    id: str
    status: str = Field(description="placed, paid, shipped, delivered, completed or cancelled")
    placed_at: str
    lines: list[LineOut]
    totals: TotalsOut
    billing: dict[str, str]
    delivery: dict[str, str] | None
    delivery_note: str
    payment: dict[str, str] = Field(description="provider, its reference, status")
    history: list[dict[str, str]]
    blocked: bool = False
    retain_until: str | None = None

    @classmethod
    def of(cls, msg: pb.Order) -> OrderOut:
        return cls(
            id=msg.id,
            status=msg.status,
            placed_at=msg.placed_at,
            lines=[LineOut.of(line) for line in msg.lines],
            totals=TotalsOut.of(msg.totals),
            billing=_address(msg.billing),
            delivery=_address(msg.delivery) if msg.HasField("delivery") else None,
            delivery_note=msg.delivery_note,
            payment={
                "provider": msg.payment.provider,
                "reference": msg.payment.reference,
                "status": msg.payment.status,
            },
            history=[{"status": h.status, "at": h.at} for h in msg.history],
            blocked=msg.blocked,
            retain_until=_opt(msg.retain_until),
        )


class StaffOrderOut(OrderOut):
    account_id: str

    @classmethod
    def of(cls, msg: pb.Order) -> StaffOrderOut:
        return cls(**OrderOut.of(msg).model_dump(), account_id=msg.account_id)


class DownloadOut(BaseModel):
    product_id: str
    product_name: str
    file: str
    size_bytes: int
    entitled_until: str | None
    url: str = Field(description="a signed link for the logged-in buyer; it expires")
    link_expires_at: str

    @classmethod
    def of(cls, msg: pb.Download) -> DownloadOut:
        return cls(
            product_id=msg.product_id,
            product_name=msg.product_name,
            file=msg.file,
            size_bytes=msg.size_bytes,
            entitled_until=_opt(msg.entitled_until),
            url=f"/api/v1/downloads/file?token={msg.token}",
            link_expires_at=msg.link_expires_at,
        )


class LegalHoldReadOut(BaseModel):
    id: str
    actor_account_id: str
    order_id: str
    reason: str
    at: str

    @classmethod
    def of(cls, msg: pb.LegalHoldRead) -> LegalHoldReadOut:
        return cls(
            id=msg.id,
            actor_account_id=msg.actor_account_id,
            order_id=msg.order_id,
            reason=msg.reason,
            at=msg.at,
        )


def product_message(body: ProductIn | ProductPatch, product_id: str = "") -> tuple[pb.Product, list[str]]:
    """The product message and the names of the fields the body set."""
    patch = isinstance(body, ProductPatch)
    values: dict[str, Any] = body.model_dump(exclude_unset=patch, exclude_none=patch)
    return pb.Product(id=product_id, **values), [k for k in values if k != "sku"]

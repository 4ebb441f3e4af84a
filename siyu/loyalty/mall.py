"""The points mall: items priced in points, with stock and per-person limits.

A redemption is one transaction: spend the points (locking the member's account), check the
member's limit, take one from stock with a conditional UPDATE, issue the coupon for coupon
items, record the redemption. Any refusal rolls all of it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import points
from siyu.loyalty.points_models import MallItem, MallItemCreate, MallRedemption
from siyu.loyalty.points_tables import mall_items, mall_redemptions

_item, _red = mall_items.c, mall_redemptions.c


def create_item(
    *, session: Session, workspace_id: str, item: MallItemCreate, now: datetime
) -> MallItem:
    """Put an item in the mall.

    Raises:
        InvalidInputError: a coupon item without ``coupon_template_id``.
        NotFoundError: no such coupon template.
    """
    if item.kind == "coupon":
        if not item.coupon_template_id:
            raise InvalidInputError(
                "a coupon item needs coupon_template_id", field="coupon_template_id"
            )
        coupons.get_template(
            session=session, workspace_id=workspace_id, template_id=item.coupon_template_id
        )
    stored = MallItem(id=new_id("mi"), active=True, created_at=now, **item.model_dump())
    session.execute(insert(mall_items).values(workspace_id=workspace_id, **stored.model_dump()))
    return stored


def get_item(*, session: Session, workspace_id: str, item_id: str) -> MallItem:
    """One item (NotFoundError when absent)."""
    row = session.execute(
        select(mall_items).where(_item.workspace_id == workspace_id, _item.id == item_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no mall item {item_id}", field="item_id")
    return MallItem.model_validate(row, from_attributes=True)


def list_items(*, session: Session, workspace_id: str) -> list[MallItem]:
    """Every item of the workspace's mall, oldest first."""
    rows = session.execute(
        select(mall_items).where(_item.workspace_id == workspace_id).order_by(_item.id)
    )
    return [MallItem.model_validate(r, from_attributes=True) for r in rows]


def _earlier(session: Session, workspace_id: str, key: str) -> MallRedemption | None:
    row = session.execute(
        select(mall_redemptions).where(
            _red.workspace_id == workspace_id, _red.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    return MallRedemption.model_validate(row, from_attributes=True).model_copy(
        update={"replayed": True}
    )


def _check_limit(session: Session, workspace_id: str, item: MallItem, person_id: str) -> None:
    if item.per_person_limit is None:
        return
    taken = session.execute(
        select(func.count()).where(
            _red.workspace_id == workspace_id, _red.item_id == item.id, _red.person_id == person_id
        )
    ).scalar_one()
    if taken >= item.per_person_limit:
        raise ConflictError(
            f"limit reached: {item.per_person_limit} per person", field="item_id", reason="limit"
        )


def _take_stock(session: Session, item: MallItem) -> None:
    taken = session.execute(
        update(mall_items)
        .where(_item.id == item.id, or_(_item.stock.is_(None), _item.stock > 0))
        .values(stock=_item.stock - 1)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        raise ConflictError("out of stock", field="item_id", reason="out_of_stock")


def redeem(
    *,
    session: Session,
    workspace_id: str,
    item_id: str,
    person_id: str,
    idempotency_key: str,
    now: datetime,
) -> MallRedemption:
    """Spend the item's price and issue the item, atomically; a retry answers the original.

    Raises:
        NotFoundError: no such item or person.
        NotEnoughPointsError: the member holds fewer points than the price (409, ``points``).
        ConflictError: out of stock, limit reached or item withdrawn (``reason`` says which).
    """
    earlier = _earlier(session, workspace_id, idempotency_key)
    if earlier is not None:
        return earlier
    item = get_item(session=session, workspace_id=workspace_id, item_id=item_id)
    if not item.active:
        raise ConflictError("this item is withdrawn", field="item_id", reason="inactive")
    spent = points.spend_points(
        session=session, workspace_id=workspace_id, person_id=person_id,
        points=item.price_points, reason="mall", source=item.id,
        idempotency_key=f"mall:{idempotency_key}", now=now,
    )  # fmt: skip
    assert spent.entry is not None  # a positive spend always writes one
    if spent.replayed:  # a racing duplicate of this request committed while we waited
        earlier = _earlier(session, workspace_id, idempotency_key)
        if earlier is not None:
            return earlier
    _check_limit(session, workspace_id, item, person_id)
    _take_stock(session, item)
    coupon_id = None
    if item.kind == "coupon" and item.coupon_template_id:
        coupon_id = coupons.issue_coupon(
            session=session, workspace_id=workspace_id, template_id=item.coupon_template_id,
            person_id=person_id, now=now, idempotency_key=f"mall:{idempotency_key}",
            source="mall",
        ).id  # fmt: skip
    redemption = MallRedemption(
        id=new_id("mr"), item_id=item.id, person_id=person_id, points=item.price_points,
        entry_id=spent.entry.id, coupon_id=coupon_id, idempotency_key=idempotency_key,
        created_at=now,
    )  # fmt: skip
    session.execute(
        insert(mall_redemptions).values(
            workspace_id=workspace_id, **redemption.model_dump(exclude={"replayed"})
        )
    )
    return redemption

"""A template's per-person limit (每人限领) and total stock, taken inside the issuing
transaction so racing issues can neither pass the limit nor oversell.

What the limit counts: the coupons of the template a person holds or has held — issued
(used or not yet), redeemed and expired — over every person id OneID merged into them, from
any source (claim, operator issue, bulk, upgrade, birthday, referral, mall). A voided coupon
(作废: the brand took it back — issued by mistake, a reversed purchase) does not count, so
the person may receive one again. This is how the mainstream products read 每人限领:
WeChat Pay merchant coupons cap how many a user may *receive* (using or letting one expire
gives no new claim), and Youzan / Weimob count a customer's claims of a coupon, used or
expired ones included — otherwise a "new customer, limit 1" coupon could be claimed again
after every use. Voiding returns no stock: stock counts coupons issued.

Race safety: one ``coupon_holdings`` row per (template, survivor person) is the lock —
``SELECT … FOR UPDATE`` on PostgreSQL, the single writer of an immediate transaction on
SQLite — and the count is taken after the lock is held, so a racing issue counts the
winner's committed coupon. Stock is a conditional ``UPDATE … issued < stock``.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.core.db import insert_ignore
from siyu.core.errors import ConflictError
from siyu.identity import service as identity
from siyu.loyalty.coupon_models import CouponStatus, CouponTemplate
from siyu.loyalty.coupon_tables import coupon_holdings, coupon_templates, coupons


def counted(*, session: Session, workspace_id: str, template_id: str, person_id: str) -> int:
    """How many coupons of the template count toward ``person_id``'s limit (not voided, over
    every id merged into the person)."""
    ids = identity.person_ids_of(session=session, workspace_id=workspace_id, person_id=person_id)
    c = coupons.c
    return int(
        session.execute(
            select(func.count()).where(
                c.workspace_id == workspace_id,
                c.person_id.in_(ids),
                c.template_id == template_id,
                c.status != CouponStatus.VOIDED.value,
            )
        ).scalar_one()
    )


def _lock_holding(session: Session, template: CouponTemplate, person_id: str) -> None:
    holding = {
        "workspace_id": template.workspace_id,
        "template_id": template.id,
        "person_id": person_id,
        "held": 0,
    }
    insert_ignore(session, coupon_holdings, holding)
    h = coupon_holdings.c
    session.execute(
        select(h.held)
        .where(
            h.workspace_id == template.workspace_id,
            h.template_id == template.id,
            h.person_id == person_id,
        )
        .with_for_update()
    )


def _set_held(session: Session, template: CouponTemplate, person_id: str, held: int) -> None:
    h = coupon_holdings.c
    session.execute(
        update(coupon_holdings)
        .where(
            h.workspace_id == template.workspace_id,
            h.template_id == template.id,
            h.person_id == person_id,
        )
        .values(held=held)
    )


def _take_stock(session: Session, template: CouponTemplate) -> bool:
    t = coupon_templates.c
    query = update(coupon_templates).where(
        t.workspace_id == template.workspace_id, t.id == template.id
    )
    if template.stock is not None:
        query = query.where(t.issued < t.stock)
    result = session.execute(query.values(issued=t.issued + 1))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def reserve(*, session: Session, template: CouponTemplate, person_id: str) -> None:
    """Take one of the person's limit and one of the stock for a coupon about to be inserted
    (``person_id`` is the OneID survivor), or raise and change nothing.

    Raises:
        ConflictError: ``reason`` limit_reached (field person_id) or out_of_stock
            (field template_id).
    """
    limit = template.per_person_limit
    if limit is not None:
        _lock_holding(session, template, person_id)
        held = counted(
            session=session,
            workspace_id=template.workspace_id,
            template_id=template.id,
            person_id=person_id,
        )
        if held >= limit:
            raise ConflictError(
                f"the person already has {held} of this coupon (limit {limit} per person)",
                field="person_id",
                reason="limit_reached",
            )
    if not _take_stock(session, template):
        raise ConflictError(
            "the coupon is out of stock", field="template_id", reason="out_of_stock"
        )
    if limit is not None:
        _set_held(session, template, person_id, held + 1)

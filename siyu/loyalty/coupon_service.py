"""Coupons: templates, issue (single, claim, bulk to a segment), redeem, void, expire.

Stock and per-person limits are taken inside the issuing transaction (see
``coupon_limits``), so racing claims never oversell nor pass a limit. Retriable writes take
an idempotency key; a retry answers the original result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.loyalty import coupon_limits as limits
from siyu.loyalty import coupons as rules
from siyu.loyalty.coupon_models import (
    BulkIssueResult,
    Coupon,
    CouponStatus,
    CouponTemplate,
    CouponTemplateCreate,
    ExpireResult,
    Redemption,
    RedemptionResult,
)
from siyu.loyalty.coupon_tables import coupon_templates, coupons, loyalty_request_keys
from siyu.segments import service as segments

M = TypeVar("M", bound=BaseModel)
MAX_LIST = 1000
ISSUE_SCOPE = "coupon.issue"  # the idempotency keys of issue_coupon


# -- idempotency keys ------------------------------------------------------------------------


def recall(
    *, session: Session, workspace_id: str, scope: str, key: str | None, model: type[M]
) -> M | None:
    """The stored result of an earlier write with ``key`` in ``scope``, if any."""
    if not key:
        return None
    k = loyalty_request_keys.c
    stored = session.execute(
        select(k.result).where(k.workspace_id == workspace_id, k.scope == scope, k.key == key)
    ).first()
    return None if stored is None else model.model_validate(stored.result)


def remember(
    *,
    session: Session,
    workspace_id: str,
    scope: str,
    key: str | None,
    result: BaseModel,
    now: datetime,
) -> None:
    """Store ``result`` under ``key``; a racing duplicate fails its transaction on the key."""
    if not key:
        return
    if len(key) > 200:
        raise InvalidInputError("Idempotency-Key is over 200 characters", field="Idempotency-Key")
    session.execute(
        insert(loyalty_request_keys).values(
            workspace_id=workspace_id,
            scope=scope,
            key=key,
            result=result.model_dump(mode="json"),
            created_at=now,
        )
    )


# -- templates -------------------------------------------------------------------------------


def _template(row: Row[Any]) -> CouponTemplate:
    return CouponTemplate.model_validate(dict(row._mapping))


def create_template(
    *, session: Session, workspace_id: str, template: CouponTemplateCreate, now: datetime
) -> CouponTemplate:
    """Create a coupon template.

    Raises:
        InvalidInputError: the rule is incomplete for its kind (names the field).
    """
    rules.check_rule(template)
    values = template.model_dump()
    values.update(id=new_id("ct"), workspace_id=workspace_id, issued=0, created_at=now)
    values["kind"] = template.kind.value
    session.execute(insert(coupon_templates).values(**values))
    return CouponTemplate.model_validate(values)


def get_template(*, session: Session, workspace_id: str, template_id: str) -> CouponTemplate:
    """One template.

    Raises:
        NotFoundError: no such template in the workspace.
    """
    t = coupon_templates.c
    row = session.execute(
        select(coupon_templates).where(t.workspace_id == workspace_id, t.id == template_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no coupon template {template_id}", field="template_id")
    return _template(row)


def list_templates(*, session: Session, workspace_id: str) -> list[CouponTemplate]:
    """Every template of the workspace, oldest first."""
    t = coupon_templates.c
    rows = session.execute(
        select(coupon_templates).where(t.workspace_id == workspace_id).order_by(t.created_at, t.id)
    )
    return [_template(row) for row in rows]


# -- issue -----------------------------------------------------------------------------------


def issue_coupon(
    *,
    session: Session,
    workspace_id: str,
    template_id: str,
    person_id: str,
    now: datetime,
    idempotency_key: str | None = None,
    source: str = "issue",
) -> Coupon:
    """Issue one coupon of a template to a person (the OneID survivor of ``person_id``).

    A retry with the same ``idempotency_key`` returns the coupon issued the first time.

    Raises:
        NotFoundError: no such template or person.
        ConflictError: out of stock, or the person's limit is reached (``reason`` says which).
    """
    scope = ISSUE_SCOPE
    earlier = recall(
        session=session, workspace_id=workspace_id, scope=scope, key=idempotency_key, model=Coupon
    )
    if earlier is not None:
        return earlier
    template = get_template(session=session, workspace_id=workspace_id, template_id=template_id)
    person = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    limits.reserve(session=session, template=template, person_id=person)
    start, until = rules.validity(
        issued_at=now,
        valid_from=template.valid_from,
        valid_until=template.valid_until,
        valid_days=template.valid_days,
    )
    coupon = Coupon(
        id=new_id("cp"),
        workspace_id=workspace_id,
        template_id=template.id,
        person_id=person,
        status=CouponStatus.ISSUED,
        source=source,
        issued_at=now,
        valid_from=start,
        valid_until=until,
    )
    session.execute(insert(coupons).values(**coupon.model_dump()))
    remember(
        session=session,
        workspace_id=workspace_id,
        scope=scope,
        key=idempotency_key,
        result=coupon,
        now=now,
    )
    return coupon


def issued_with_key(*, session: Session, workspace_id: str, idempotency_key: str) -> Coupon | None:
    """The coupon an earlier :func:`issue_coupon` with ``idempotency_key`` issued, if any."""
    return recall(session=session, workspace_id=workspace_id, scope=ISSUE_SCOPE,
                  key=idempotency_key, model=Coupon)  # fmt: skip


def claim_coupon(
    *,
    session: Session,
    workspace_id: str,
    template_id: str,
    person_id: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> Coupon:
    """A person claims (领取) a coupon: an issue the person asked for; same limits."""
    return issue_coupon(
        session=session,
        workspace_id=workspace_id,
        template_id=template_id,
        person_id=person_id,
        now=now,
        idempotency_key=idempotency_key,
        source="claim",
    )


def issue_to_segment(
    *,
    session: Session,
    workspace_id: str,
    template_id: str,
    segment_id: str,
    now: datetime,
    idempotency_key: str,
) -> BulkIssueResult:
    """Issue one coupon to every current member of a segment (keyed per member, so a retry
    issues only to those the first try missed). Members over their limit are skipped; once
    stock runs out the rest are counted as out of stock.
    """
    if not idempotency_key:
        raise InvalidInputError("bulk issue needs an Idempotency-Key", field="Idempotency-Key")
    get_template(session=session, workspace_id=workspace_id, template_id=template_id)
    counts = {"issued": 0, "already": 0, "limit_reached": 0, "out_of_stock": 0}
    after: str | None = None
    while True:
        page = segments.members_page(
            session=session, workspace_id=workspace_id, segment_id=segment_id, after=after
        )
        for person_id in page.items:
            counts[
                _issue_one(session, workspace_id, template_id, person_id, now, idempotency_key)
            ] += 1
        if page.next_after is None:
            break
        after = page.next_after
    return BulkIssueResult(template_id=template_id, segment_id=segment_id, **counts)


def _issue_one(
    session: Session, workspace_id: str, template_id: str, person_id: str, now: datetime, key: str
) -> str:
    member_key = f"{key}:{person_id}"
    if recall(
        session=session,
        workspace_id=workspace_id,
        scope="coupon.issue",
        key=member_key,
        model=Coupon,
    ):
        return "already"
    try:
        issue_coupon(
            session=session,
            workspace_id=workspace_id,
            template_id=template_id,
            person_id=person_id,
            now=now,
            idempotency_key=member_key,
            source="segment",
        )
    except ConflictError as exc:
        return str(exc.details.get("reason", "limit_reached"))
    return "issued"


# -- coupons ---------------------------------------------------------------------------------


def _coupon_row(
    session: Session, workspace_id: str, coupon_id: str, *, lock: bool = False
) -> Row[Any]:
    c = coupons.c
    query = select(coupons).where(c.workspace_id == workspace_id, c.id == coupon_id)
    row = session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError(f"no coupon {coupon_id}", field="coupon_id")
    return row


def _coupon(row: Row[Any], now: datetime | None = None) -> Coupon:
    coupon = Coupon.model_validate(dict(row._mapping))
    late = coupon.valid_until is not None and now is not None and now >= coupon.valid_until
    if coupon.status is CouponStatus.ISSUED and late:
        return coupon.model_copy(update={"status": CouponStatus.EXPIRED})
    return coupon


def get_coupon(*, session: Session, workspace_id: str, coupon_id: str, now: datetime) -> Coupon:
    """One coupon; an issued coupon past its window reads as expired."""
    return _coupon(_coupon_row(session, workspace_id, coupon_id), now)


def list_coupons(
    *,
    session: Session,
    workspace_id: str,
    now: datetime,
    person_id: str | None = None,
    template_id: str | None = None,
    status: CouponStatus | None = None,
    limit: int = 100,
) -> list[Coupon]:
    """Coupons, newest first, of a person (and everyone it absorbed) and/or a template."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInputError(f"limit must be 1–{MAX_LIST}", field="limit")
    c = coupons.c
    query = select(coupons).where(c.workspace_id == workspace_id)
    if person_id:
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        ids = identity.person_ids_of(session=session, workspace_id=workspace_id, person_id=current)
        query = query.where(c.person_id.in_(ids))
    if template_id:
        query = query.where(c.template_id == template_id)
    rows = session.execute(query.order_by(c.issued_at.desc(), c.id.desc()).limit(limit * 2))
    found = [_coupon(row, now) for row in rows]
    return [x for x in found if status is None or x.status is status][:limit]


def _result(coupon: Coupon) -> RedemptionResult:
    assert coupon.order_id and coupon.order_amount_fen is not None and coupon.redeemed_at
    discount = coupon.discount_fen or 0
    return RedemptionResult(
        coupon_id=coupon.id,
        order_id=coupon.order_id,
        order_amount_fen=coupon.order_amount_fen,
        discount_fen=discount,
        payable_fen=coupon.order_amount_fen - discount,
        redeemed_at=coupon.redeemed_at,
    )


def redeem_coupon(
    *, session: Session, workspace_id: str, coupon_id: str, redemption: Redemption, now: datetime
) -> RedemptionResult:
    """Redeem a coupon against an order; redeeming again for the same order answers the same.

    Raises:
        NotFoundError: no such coupon.
        ConflictError: expired, voided, used by another order, or under the threshold.
    """
    coupon = _coupon(_coupon_row(session, workspace_id, coupon_id, lock=True))
    if coupon.status is CouponStatus.REDEEMED:
        if coupon.order_id == redemption.order_id:
            return _result(coupon)
        raise ConflictError(
            "the coupon was used by another order", field="coupon_id", reason="redeemed"
        )
    if coupon.status is not CouponStatus.ISSUED:
        raise ConflictError(
            f"the coupon is {coupon.status.value}", field="coupon_id", reason=coupon.status.value
        )
    rules.check_usable(valid_from=coupon.valid_from, valid_until=coupon.valid_until, now=now)
    template = get_template(
        session=session, workspace_id=workspace_id, template_id=coupon.template_id
    )
    base = rules.eligible_fen(template, redemption.order_amount_fen, redemption.lines)
    if base < template.threshold_fen or base == 0:
        raise ConflictError(
            f"eligible amount {base} fen is under the threshold {template.threshold_fen} fen",
            field="order_amount_fen",
            reason="under_threshold",
        )
    discount = rules.discount_fen(template, redemption.order_amount_fen, redemption.lines)
    values = {
        "status": CouponStatus.REDEEMED.value,
        "order_id": redemption.order_id,
        "order_amount_fen": redemption.order_amount_fen,
        "discount_fen": discount,
        "redeemed_at": now,
    }
    c = coupons.c
    session.execute(
        update(coupons).where(c.workspace_id == workspace_id, c.id == coupon.id).values(**values)
    )
    return _result(coupon.model_copy(update={**values, "status": CouponStatus.REDEEMED}))


def void_coupon(
    *, session: Session, workspace_id: str, coupon_id: str, reason: str | None, now: datetime
) -> Coupon:
    """Void an unused coupon (作废); voiding a voided coupon answers it unchanged.

    Raises:
        ConflictError: the coupon was redeemed.
    """
    coupon = _coupon(_coupon_row(session, workspace_id, coupon_id, lock=True))
    if coupon.status is CouponStatus.VOIDED:
        return coupon
    if coupon.status is CouponStatus.REDEEMED:
        raise ConflictError(
            "a redeemed coupon cannot be voided", field="coupon_id", reason="redeemed"
        )
    values = {"status": CouponStatus.VOIDED.value, "voided_at": now, "void_reason": reason}
    c = coupons.c
    session.execute(
        update(coupons).where(c.workspace_id == workspace_id, c.id == coupon.id).values(**values)
    )
    return coupon.model_copy(update={**values, "status": CouponStatus.VOIDED})


def expire_coupons(*, session: Session, workspace_id: str, now: datetime) -> ExpireResult:
    """Mark issued coupons past their window expired (the expiry job)."""
    c = coupons.c
    result = session.execute(
        update(coupons)
        .where(
            c.workspace_id == workspace_id,
            c.status == CouponStatus.ISSUED.value,
            c.valid_until.is_not(None),
            c.valid_until <= now,
        )
        .values(status=CouponStatus.EXPIRED.value)
    )
    return ExpireResult(expired=result.rowcount)  # type: ignore[attr-defined]

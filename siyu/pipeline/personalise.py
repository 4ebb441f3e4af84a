"""Recommendations and the next-best offer as personalisation for journey messages.

A journey's message template (channels renders it) may say ``为你推荐 {{ rec_1 }}`` or
``送你一张 {{ offer_title }}``: the values are the person's top products from the workspace's
trained recommender (``rec_1`` … ``rec_3``) and the offer the next-best-offer rule picks for
them (``offer_title``, ``offer_kind``, ``offer_coupon_template`` …), added to the message's
params when a journey step sends it. Without a model and without coupon templates nothing is
added, and a template that needs the values is held by the outbox's strict rendering.

The journey batch calls the personaliser *inside* its write transaction, where the
operational store is locked (SQLite takes the write lock at BEGIN). So everything the offer
rule needs is gathered here first, for the persons whose journey states are due: coupon
templates and the persons' holdings (loyalty), segments, RFM and lifecycle (segments),
average order (profiles), and the predicted order value when an LTV model was fitted
(analytics, one event-store query for all of them). A person not gathered (entered after
the gathering) gets products but no offer. The route ``GET /api/persons/{id}/recommendations``
uses the same gathering for one person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics import ltv, order_history, value_service
from siyu.analytics.engine import Dialect, engine_for, sql_literal
from siyu.core.errors import NotFoundError, SiyuError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.journeys.service import JourneyStatus
from siyu.journeys.tables import journey_states, journeys
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.coupon_models import CouponTemplate
from siyu.loyalty.coupon_tables import coupon_holdings
from siyu.recommend import context as person_context
from siyu.recommend import offers
from siyu.recommend import service as recommend
from siyu.recommend.models import Filters, PersonRecommendations
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import Workspace

Personaliser = Callable[[str], dict[str, str]]

SLOTS = 3
GATHER_LIMIT = 10_000  # persons gathered per round (the journey job's 20 batches of 500)
CHUNK = 500  # ids per IN (…) list


@dataclass
class OfferInputs:
    """What the next-best-offer rule needs, gathered before a write transaction."""

    templates: list[CouponTemplate] = field(default_factory=list)
    contexts: dict[str, offers.OfferContext] = field(default_factory=dict)
    held: dict[tuple[str, str], int] = field(default_factory=dict)  # (person, template) → n

    def coupon_offers(self, person_id: str, now: datetime) -> list[offers.CouponOffer]:
        """The templates as candidate coupons for this person (availability included)."""
        return [coupon_offer(t, self.held.get((person_id, t.id), 0), now) for t in self.templates]


def coupon_available(template: CouponTemplate, held: int, now: datetime) -> bool:
    """Inside its validity window, stock left, the person under its per-person limit."""
    if template.valid_from and now < template.valid_from:
        return False
    if template.valid_until and now >= template.valid_until:
        return False
    if template.stock is not None and template.issued >= template.stock:
        return False
    return template.per_person_limit is None or held < template.per_person_limit


def coupon_offer(template: CouponTemplate, held: int, now: datetime) -> offers.CouponOffer:
    """A coupon template as a candidate offer for a person holding ``held`` of it."""
    return offers.CouponOffer(
        offer_id=template.id,
        name=template.name,
        amount_off_fen=template.amount_off_fen,
        percent_off=template.percent_off,
        cap_fen=template.cap_fen,
        threshold_fen=template.threshold_fen,
        available=coupon_available(template, held, now),
    )


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def due_persons(session: Session, workspace_id: str, now: datetime) -> list[str]:
    """Persons with journey states of active journeys due at ``now`` (first due first)."""
    s, j = journey_states.c, journeys.c
    active = select(j.id).where(
        j.workspace_id == workspace_id, j.status == JourneyStatus.ACTIVE.value
    )
    rows = session.execute(
        select(s.person_id, func.min(s.due_at).label("due"))
        .where(s.workspace_id == workspace_id, s.due_at <= now, s.journey_id.in_(active))
        .group_by(s.person_id)
        .order_by("due")
        .limit(GATHER_LIMIT)
    )
    return [row.person_id for row in rows]


def _holdings(
    session: Session, workspace_id: str, person_ids: Sequence[str]
) -> dict[tuple[str, str], int]:
    h = coupon_holdings.c
    held: dict[tuple[str, str], int] = {}
    for chunk in _chunks(person_ids):
        query = select(h.person_id, h.template_id, h.held).where(
            h.workspace_id == workspace_id, h.person_id.in_(chunk)
        )
        for row in session.execute(query):
            held[(row.person_id, row.template_id)] = int(row.held)
    return held


def gather_offer_inputs(
    *,
    session: Session,
    workspace_id: str,
    person_ids: Sequence[str],
    person_map: Sequence[tuple[str, str]] = (),
) -> OfferInputs:
    """Coupon templates, and for each surviving person their holdings and offer context
    (over the persons they absorbed, from ``person_map``: (absorbed, survivor) pairs)."""
    templates = coupons.list_templates(session=session, workspace_id=workspace_id)
    absorbed: dict[str, list[str]] = {}
    for person, survivor in person_map:
        absorbed.setdefault(survivor, []).append(person)
    contexts: dict[str, offers.OfferContext] = {}
    for chunk in _chunks(person_ids):
        groups = {p: [p, *absorbed.get(p, [])] for p in chunk}
        contexts.update(
            person_context.contexts_for(session=session, workspace_id=workspace_id, groups=groups)
        )
    limited = any(t.per_person_limit is not None for t in templates)
    held = _holdings(session, workspace_id, person_ids) if limited else {}
    return OfferInputs(templates=templates, contexts=contexts, held=held)


def predicted_values(
    runtime: Runtime,
    workspace: Workspace,
    person_ids: Sequence[str],
    now: datetime,
    person_map: Sequence[tuple[str, str]] = (),
) -> dict[str, tuple[int, int]]:
    """Per person, (expected order value, expected revenue over a year) in fen from the
    stored LTV model; empty without a model. One event-store query reads only these
    persons' orders (absorbed ids mapped by ``person_map``), so the cost follows them, not
    the workspace as ``value_service.predict_ltv`` (every buyer) would."""
    try:
        model = value_service.get_ltv_model(runtime=runtime, workspace_id=workspace.id)
    except NotFoundError:
        return {}
    if not person_ids:
        return {}
    zone = ZoneInfo(workspace.timezone)
    as_of = now.astimezone(zone).date()
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), zone)
    sql = order_history.order_days_sql(
        end=end.astimezone(UTC), timezone=workspace.timezone, dialect=Dialect.DUCKDB
    )
    mine = sql_literal(list(person_ids), Dialect.DUCKDB)
    table = engine_for(runtime).run(
        workspace_id=workspace.id,
        sql=f"SELECT * FROM ({sql}) AS d WHERE list_contains({mine}, person_id)",
        person_map=list(person_map),
    )
    buyers = order_history.per_person(order_history.OrderDays.from_arrow(table))
    if len(buyers.person) == 0:
        return {}
    summary = ltv.customer_summary(
        buyers, until_day=order_history.day_number(as_of), unit=model.time_unit
    )
    found = ltv.predict(model, summary, horizon_days=365)
    return {
        str(p): (ltv.fen(float(v)), ltv.fen(float(r)))
        for p, v, r in zip(
            buyers.person, found.expected_value_fen, found.expected_revenue_fen, strict=True
        )
    }


def with_value(context: offers.OfferContext, value: tuple[int, int] | None) -> offers.OfferContext:
    """The context with the predicted order value and revenue, when there is one."""
    if value is None:
        return context
    update = {"expected_order_value_fen": value[0] or None, "predicted_value_fen": value[1]}
    return context.model_copy(update=update)


def _recommender(
    runtime: Runtime, workspace_id: str, now: datetime
) -> Callable[[str, int], PersonRecommendations] | None:
    try:
        return recommend.recommender(
            runtime=runtime, workspace_id=workspace_id, filters=Filters(), now=now
        )
    except NotFoundError:
        return None


def _gather(runtime: Runtime, workspace_id: str, now: datetime) -> OfferInputs:
    with runtime.sessions() as session:
        templates = coupons.list_templates(session=session, workspace_id=workspace_id)
        if not any(coupon_available(t, 0, now) for t in templates):
            return OfferInputs(templates=templates)
        persons = due_persons(session, workspace_id, now)
        if not persons:
            return OfferInputs(templates=templates)
        merged = identity.person_map(session=session, workspace_id=workspace_id)
        inputs = gather_offer_inputs(session=session, workspace_id=workspace_id,
                                     person_ids=persons, person_map=merged)  # fmt: skip
        workspace = workspaces.get_workspace(session=session, workspace_id=workspace_id)
    values = predicted_values(runtime, workspace, persons, now, merged)
    for person, value in values.items():
        if person in inputs.contexts:
            inputs.contexts[person] = with_value(inputs.contexts[person], value)
    return inputs


def recommendation_values(
    *, runtime: Runtime, workspace_id: str, now: datetime
) -> Personaliser | None:
    """A function giving a person's ``rec_*`` and ``offer_*`` values, or None when there is
    neither a trained model nor an available coupon template."""
    # Loaded here, before the journey batch's write transaction: the per-person answers
    # below read only the model, the gathered inputs and the event store.
    answer = _recommender(runtime, workspace_id, now)
    inputs = _gather(runtime, workspace_id, now)
    if answer is None and not inputs.contexts:
        return None

    def values(person_id: str) -> dict[str, str]:
        products: PersonRecommendations | None = None
        if answer is not None:
            try:
                products = answer(person_id, SLOTS)
            except SiyuError:  # a person the recommender cannot answer gets no products
                products = None
        items = products.items if products is not None else []
        known = inputs.contexts.get(person_id)
        if known is None:  # not gathered: products only, no offer
            return offers.message_values(items, limit=SLOTS)
        best = offers.next_best_offer(
            context=known, coupons=inputs.coupon_offers(person_id, now), products=items
        )
        return offers.message_values(items, offer=best, limit=SLOTS)

    return values

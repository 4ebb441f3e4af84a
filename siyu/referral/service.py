"""Referral (裂变): invite codes, the referral tree, anti-fraud refusals, milestone rewards.

Rewards are returned and stored as :class:`RewardAction` data with idempotency keys; the
pipeline hands pending ones to loyalty (points, coupons) and marks them paid.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.referral import codes, rules
from siyu.referral.livecodes import profiles_of
from siyu.referral.models import (
    InviteCode,
    LeaderRow,
    Milestone,
    Referral,
    ReferralResult,
    ReferralSettings,
    ReferralSummary,
    Refusal,
    RewardAction,
    TreeNode,
)
from siyu.referral.tables import (
    referral_codes,
    referral_refusals,
    referral_rewards,
    referral_settings,
    referrals,
)

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed by hand
MAX_TREE = 10_000


def get_settings(*, session: Session, workspace_id: str) -> ReferralSettings:
    """The workspace's referral rules (defaults when never set)."""
    t = referral_settings.c
    config = session.execute(
        select(t.config).where(t.workspace_id == workspace_id)
    ).scalar_one_or_none()
    return ReferralSettings.model_validate(config) if config else ReferralSettings()


def set_settings(
    *, session: Session, workspace_id: str, settings: ReferralSettings, now: datetime
) -> ReferralSettings:
    """Replace the workspace's referral rules."""
    t = referral_settings.c
    config = settings.model_dump(mode="json")
    done = session.execute(
        update(referral_settings)
        .where(t.workspace_id == workspace_id)
        .values(config=config, updated_at=now)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            insert(referral_settings).values(
                workspace_id=workspace_id, config=config, updated_at=now
            )
        )
    return settings


def invite_code(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    now: datetime,
    base_url: str = codes.DEFAULT_BASE_URL,
) -> InviteCode:
    """The person's invite code and link, made on first request. Raises NotFoundError."""
    person = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    t = referral_codes.c
    code = session.execute(
        select(t.code).where(t.workspace_id == workspace_id, t.person_id == person)
    ).scalar_one_or_none()
    if code is None:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        session.execute(
            insert(referral_codes).values(
                workspace_id=workspace_id, person_id=person, code=code, created_at=now
            )
        )
    return InviteCode(person_id=person, code=code, link=codes.invite_link(base_url, code))


def _code_owner(session: Session, workspace_id: str, code: str) -> str:
    t = referral_codes.c
    owner = session.execute(
        select(t.person_id).where(t.workspace_id == workspace_id, t.code == code.upper())
    ).scalar_one_or_none()
    if owner is None:
        raise NotFoundError(f"no invite code {code!r}", field="code")
    return identity.current_person_id(session=session, workspace_id=workspace_id, person_id=owner)


def _referral(r: Any) -> Referral:
    return Referral(
        inviter_id=r.inviter_id,
        invitee_id=r.invitee_id,
        code=r.code,
        depth=r.depth,
        created_at=r.created_at,
    )


def _referral_of(session: Session, workspace_id: str, invitee_id: str) -> Referral | None:
    t = referrals.c
    row = session.execute(
        select(referrals).where(t.workspace_id == workspace_id, t.invitee_id == invitee_id)
    ).first()
    return _referral(row) if row is not None else None


def _parents(session: Session, workspace_id: str, person_id: str) -> dict[str, str]:
    """The inviter chain above ``person_id`` as child → parent (one query per level)."""
    chain: dict[str, str] = {}
    current: str | None = person_id
    while current is not None and current not in chain and len(chain) < MAX_TREE:
        edge = _referral_of(session, workspace_id, current)
        if edge is None:
            break
        chain[current] = edge.inviter_id
        current = edge.inviter_id
    return chain


def _id_pairs(session: Session, workspace_id: str, person_id: str) -> set[tuple[str, str]]:
    views = identity.identifiers_of(session=session, workspace_id=workspace_id, person_id=person_id)
    return {(v.type.value, v.key) for v in views}


def _conflict_pairs(
    session: Session, workspace_id: str, inviter: str, invitee: str
) -> set[tuple[str, str]]:
    """Identifiers the two share through a refused merge (a device or phone OneID kept apart),
    however many other conflicts the workspace recorded since."""
    refs = identity.shared_identifiers(
        session=session, workspace_id=workspace_id, person_id=inviter, other_person_id=invitee
    )
    return {(ref.type.value, ref.key) for ref in refs}


def _refuse(
    session: Session,
    workspace_id: str,
    inviter: str,
    invitee: str,
    why: tuple[str, str],
    now: datetime,
) -> Refusal:
    refusal = Refusal(
        id=new_id("rr"),
        inviter_id=inviter,
        invitee_id=invitee,
        reason=why[0],
        detail=why[1],
        at=now,
    )
    session.execute(
        insert(referral_refusals).values(workspace_id=workspace_id, **refusal.model_dump())
    )
    return refusal


def _invites_since(session: Session, workspace_id: str, inviter: str, since: datetime) -> int:
    t = referrals.c
    return int(
        session.execute(
            select(func.count()).where(
                t.workspace_id == workspace_id, t.inviter_id == inviter, t.created_at >= since
            )
        ).scalar_one()
    )


def refer(
    *, session: Session, workspace_id: str, code: str, invitee_id: str, now: datetime
) -> ReferralResult | Refusal:
    """Record that the holder of ``code`` brought ``invitee_id``, or refuse it and say why.

    A refusal is stored (the caller commits it, then answers 409). Asking again for the same
    pair returns the stored referral and its rewards.

    Raises:
        NotFoundError: no such code or person.
        ConflictError: the invitee was already brought by someone else.
    """
    inviter = _code_owner(session, workspace_id, code)
    invitee = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=invitee_id
    )
    existing = _referral_of(session, workspace_id, invitee)
    if existing is not None:
        if existing.inviter_id != inviter:
            raise ConflictError(
                f"person {invitee} was already referred by {existing.inviter_id}",
                field="identifier",
                reason="already_referred",
            )
        return ReferralResult(
            referral=existing,
            rewards=rewards_of(session=session, workspace_id=workspace_id, invitee_id=invitee),
        )
    settings = get_settings(session=session, workspace_id=workspace_id)
    parents = _parents(session, workspace_id, inviter)
    shared = _conflict_pairs(session, workspace_id, inviter, invitee)
    why = rules.fraud_reason(
        inviter_id=inviter,
        invitee_id=invitee,
        inviter_ids=_id_pairs(session, workspace_id, inviter) | shared,
        invitee_ids=_id_pairs(session, workspace_id, invitee) | shared,
        invites_last_hour=_invites_since(session, workspace_id, inviter, now - timedelta(hours=1)),
        max_per_hour=settings.max_invites_per_hour,
    )
    if why is None and rules.creates_cycle(parents, inviter, invitee):
        why = ("cycle", "the invitee is already above the inviter in the referral tree")
    depth = rules.depth_of(parents, inviter) + 1
    if why is None and depth > settings.max_depth:
        why = ("too_deep", f"the tree is kept to {settings.max_depth} levels")
    if why is not None:
        return _refuse(session, workspace_id, inviter, invitee, why, now)
    referral = Referral(
        inviter_id=inviter, invitee_id=invitee, code=code.upper(), depth=depth, created_at=now
    )
    session.execute(insert(referrals).values(workspace_id=workspace_id, **referral.model_dump()))
    actions = rules.rewards_for(
        settings, milestone=Milestone.REGISTERED, inviter_id=inviter, invitee_id=invitee
    )
    return ReferralResult(
        referral=referral, rewards=_store_rewards(session, workspace_id, actions, now)
    )


def _store_rewards(
    session: Session, workspace_id: str, actions: Sequence[RewardAction], now: datetime
) -> list[RewardAction]:
    """Store new reward actions as pending; ones already stored are returned as they are."""
    t = referral_rewards.c
    out: list[RewardAction] = []
    for action in actions:
        row = session.execute(
            select(referral_rewards).where(
                t.workspace_id == workspace_id, t.idempotency_key == action.idempotency_key
            )
        ).first()
        if row is not None:
            out.append(_reward(row))
            continue
        session.execute(
            insert(referral_rewards).values(
                workspace_id=workspace_id, created_at=now, **action.model_dump(mode="json")
            )
        )
        out.append(action)
    return out


def _reward(r: Any) -> RewardAction:
    return RewardAction(
        person_id=r.person_id,
        kind=r.kind,
        amount=r.amount,
        template=r.template,
        reason=r.reason,
        idempotency_key=r.idempotency_key,
        invitee_id=r.invitee_id,
        milestone=r.milestone,
        role=r.role,
        status=r.status,
    )


def rewards_of(*, session: Session, workspace_id: str, invitee_id: str) -> list[RewardAction]:
    """Every reward a referral has earned so far, oldest first."""
    t = referral_rewards.c
    rows = session.execute(
        select(referral_rewards)
        .where(t.workspace_id == workspace_id, t.invitee_id == invitee_id)
        .order_by(t.created_at, t.milestone, t.role.desc(), t.idempotency_key)
    ).all()
    return [_reward(r) for r in rows]


def record_milestone(
    *,
    session: Session,
    workspace_id: str,
    invitee_id: str,
    milestone: Milestone,
    now: datetime,
    first_order_fen: int | None = None,
) -> list[RewardAction]:
    """Rewards an invitee's milestone earns, stored once whatever the retries.

    Raises:
        NotFoundError: the person was not referred.
    """
    invitee = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=invitee_id
    )
    referral = _referral_of(session, workspace_id, invitee)
    if referral is None:
        raise NotFoundError(f"person {invitee} was not referred", field="invitee_id")
    settings = get_settings(session=session, workspace_id=workspace_id)
    actions = rules.rewards_for(
        settings,
        milestone=milestone,
        inviter_id=referral.inviter_id,
        invitee_id=invitee,
        first_order_fen=first_order_fen,
    )
    return _store_rewards(session, workspace_id, actions, now)


def settle_first_orders(
    *, session: Session, workspace_id: str, now: datetime
) -> list[RewardAction]:
    """First-order rewards of invitees whose profile shows an order (idempotent).

    The first order's amount is known only while the invitee has exactly one order; a
    first_order_over rule is checked against it then.
    """
    t = referrals.c
    invitees = list(
        session.execute(select(t.invitee_id).where(t.workspace_id == workspace_id)).scalars()
    )
    found = profiles_of(session, workspace_id, invitees)
    actions: list[RewardAction] = []
    for pid, profile in sorted(found.items()):
        if profile.order_count > 0:
            amount = profile.total_spend_fen if profile.order_count == 1 else None
            actions += record_milestone(
                session=session,
                workspace_id=workspace_id,
                invitee_id=pid,
                milestone=Milestone.FIRST_ORDER,
                now=now,
                first_order_fen=amount,
            )
    return actions


def pending_rewards(
    *, session: Session, workspace_id: str, limit: int = 1000
) -> list[RewardAction]:
    """Rewards not yet handed to loyalty, oldest first."""
    t = referral_rewards.c
    rows = session.execute(
        select(referral_rewards)
        .where(t.workspace_id == workspace_id, t.status == "pending")
        .order_by(t.created_at, t.idempotency_key)
        .limit(limit)
    ).all()
    return [_reward(r) for r in rows]


def mark_paid(*, session: Session, workspace_id: str, idempotency_key: str, now: datetime) -> None:
    """Mark one reward as handed to loyalty."""
    t = referral_rewards.c
    session.execute(
        update(referral_rewards)
        .where(t.workspace_id == workspace_id, t.idempotency_key == idempotency_key)
        .values(status="paid", paid_at=now)
    )


def ancestors(*, session: Session, workspace_id: str, person_id: str) -> list[TreeNode]:
    """The inviters above a person, nearest first; ``depth`` counts levels up (1 = inviter)."""
    person = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    parents = _parents(session, workspace_id, person)
    chain = rules.ancestors(parents, person)
    return [
        TreeNode(person_id=p, inviter_id=parents.get(p), depth=i + 1) for i, p in enumerate(chain)
    ]


def subtree(
    *, session: Session, workspace_id: str, person_id: str, max_depth: int = 10
) -> list[TreeNode]:
    """The person and everyone they brought, level by level (breadth first)."""
    person = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    t = referrals.c
    nodes = [TreeNode(person_id=person, inviter_id=None, depth=0)]
    seen, level = {person}, [person]
    for depth in range(1, max_depth + 1):
        if not level or len(nodes) >= MAX_TREE:
            break
        rows = session.execute(
            select(t.invitee_id, t.inviter_id)
            .where(t.workspace_id == workspace_id, t.inviter_id.in_(level))
            .order_by(t.created_at, t.invitee_id)
        ).all()
        level = [r.invitee_id for r in rows if r.invitee_id not in seen]
        seen.update(level)
        nodes += [
            TreeNode(person_id=r.invitee_id, inviter_id=r.inviter_id, depth=depth)
            for r in rows
            if r.invitee_id in level
        ]
    return nodes


def refusals(*, session: Session, workspace_id: str, limit: int = 100) -> list[Refusal]:
    """Refused referrals, newest first."""
    t = referral_refusals.c
    rows = session.execute(
        select(referral_refusals)
        .where(t.workspace_id == workspace_id)
        .order_by(t.at.desc(), t.id)
        .limit(limit)
    ).all()
    return [
        Refusal(
            id=r.id,
            inviter_id=r.inviter_id,
            invitee_id=r.invitee_id,
            reason=r.reason,
            detail=r.detail,
            at=r.at,
        )
        for r in rows
    ]


def summary(*, session: Session, workspace_id: str, limit: int = 20) -> ReferralSummary:
    """K-factor (invitees, and invitees who ordered, per inviter) and the leaderboard.

    Ranked by invitees who ordered, then invitees, then their GMV, then person id.
    """
    t = referrals.c
    edges = session.execute(
        select(t.inviter_id, t.invitee_id).where(t.workspace_id == workspace_id)
    ).all()
    found = profiles_of(session, workspace_id, [e.invitee_id for e in edges])
    board: dict[str, LeaderRow] = {}
    for e in edges:
        row = board.setdefault(
            e.inviter_id, LeaderRow(person_id=e.inviter_id, invitees=0, ordered=0, gmv_fen=0)
        )
        row.invitees += 1
        profile = found.get(e.invitee_id)
        if profile is not None and profile.order_count > 0:
            row.ordered += 1
            row.gmv_fen += profile.total_spend_fen
    ranked = sorted(
        board.values(), key=lambda r: (-r.ordered, -r.invitees, -r.gmv_fen, r.person_id)
    )
    inviters, ordered = len(board), sum(r.ordered for r in board.values())
    refused = session.execute(
        select(func.count()).where(referral_refusals.c.workspace_id == workspace_id)
    ).scalar_one()
    return ReferralSummary(
        inviters=inviters,
        invitees=len(edges),
        ordered=ordered,
        k_factor=len(edges) / inviters if inviters else 0.0,
        k_factor_ordered=ordered / inviters if inviters else 0.0,
        refusals=int(refused),
        leaderboard=ranked[:limit],
    )

"""Group live codes (群活码): one QR code that seats each scanning customer in the code's
current group, rotating to the next group with room when it is full, and making a new group
from the code's template (``room_base_name`` + number, same owner) when all are full.

siyu keeps the seat count: a seat is taken with one conditional update
(``seats < cap``), so concurrent scans never seat more than ``cap`` in a group. A new group
is claimed by bumping the code's ``room_base_id`` from the value read; the loser of that race
seats its customer in the winner's group. WeCom's join way is then pointed at the current
group by the pipeline (``auto_create_room`` makes WeCom open the new group itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.community.models import (
    GroupLiveCode,
    GroupLiveCodeCreate,
    GroupScan,
    GroupStatus,
    LiveCodeStats,
)
from siyu.community.tables import (
    community_groups,
    community_live_code_scans,
    community_live_codes,
    community_spammers,
)
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id

_c = community_live_codes.c
_g = community_groups.c
_s = community_live_code_scans.c
MAX_ATTEMPTS = 50
PENDING_PREFIX = "pending:"


def _code(r: Any) -> GroupLiveCode:
    return GroupLiveCode(
        id=r.id,
        name=r.name,
        state=r.state,
        config_id=r.config_id,
        qr_code=r.qr_code,
        cap=r.cap,
        chat_ids=list(r.chat_ids or []),
        current_chat_id=r.current_chat_id,
        owner_userid=r.owner_userid,
        room_base_name=r.room_base_name,
        room_base_id=r.room_base_id,
        wecom_chat_id=r.wecom_chat_id,
        created_at=r.created_at,
    )


def get_code(*, session: Session, workspace_id: str, code_id: str) -> GroupLiveCode:
    """A group live code. Raises NotFoundError."""
    row = session.execute(
        select(community_live_codes).where(_c.workspace_id == workspace_id, _c.id == code_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no group live code {code_id}", field="code_id")
    return _code(row)


def list_codes(*, session: Session, workspace_id: str) -> list[GroupLiveCode]:
    """Every group live code, newest first."""
    rows = session.execute(
        select(community_live_codes)
        .where(_c.workspace_id == workspace_id)
        .order_by(_c.created_at.desc(), _c.id)
    )
    return [_code(r) for r in rows]


def _open(session: Session, workspace_id: str, chat_ids: list[str]) -> list[str]:
    """Of ``chat_ids``, those not dismissed and with a free seat, in order."""
    rows = session.execute(
        select(_g.chat_id, _g.seats, _g.cap, _g.status).where(
            _g.workspace_id == workspace_id, _g.chat_id.in_(chat_ids)
        )
    ).all()
    free = {r.chat_id for r in rows if r.status != "dismissed" and r.seats < r.cap}
    return [c for c in chat_ids if c in free]


def create_code(
    *,
    session: Session,
    workspace_id: str,
    code: GroupLiveCodeCreate,
    now: datetime,
    config_id: str | None = None,
    qr_code: str | None = None,
) -> GroupLiveCode:
    """Store a group live code over known groups; each group takes the code's cap.

    Raises:
        InvalidInputError: a group is unknown or dismissed.
        ConflictError: another code has this state.
    """
    chat_ids = list(dict.fromkeys(code.chat_ids))
    known = session.execute(
        select(_g.chat_id, _g.status).where(
            _g.workspace_id == workspace_id, _g.chat_id.in_(chat_ids)
        )
    ).all()
    alive = {r.chat_id for r in known if r.status != "dismissed"}
    missing = [c for c in chat_ids if c not in alive]
    if missing:
        raise InvalidInputError(f"unknown or dismissed group {missing[0]}", field="chat_ids")
    taken = session.execute(
        select(_c.id).where(_c.workspace_id == workspace_id, _c.state == code.state)
    ).first()
    if taken is not None:
        raise ConflictError(f"group live code {taken.id} has state {code.state}", field="state")
    code_id = new_id("glc")
    session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id.in_(chat_ids))
        .values(cap=code.cap, live_code_id=code_id)
    )
    free = _open(session, workspace_id, chat_ids)
    current = free[0] if free else None
    session.execute(
        insert(community_live_codes).values(
            workspace_id=workspace_id,
            id=code_id,
            name=code.name,
            state=code.state,
            config_id=config_id,
            qr_code=qr_code,
            cap=code.cap,
            chat_ids=chat_ids,
            current_chat_id=current,
            owner_userid=code.owner_userid,
            room_base_name=code.room_base_name,
            room_base_id=code.room_base_id,
            wecom_chat_id=chat_ids[0],
            created_at=now,
        )
    )
    return get_code(session=session, workspace_id=workspace_id, code_id=code_id)


def set_wecom(
    *, session: Session, workspace_id: str, code_id: str, config_id: str, qr_code: str | None
) -> None:
    """Record the WeCom join way made for a code."""
    session.execute(
        update(community_live_codes)
        .where(_c.workspace_id == workspace_id, _c.id == code_id)
        .values(config_id=config_id, qr_code=qr_code)
    )


def mark_pointed(*, session: Session, workspace_id: str, code_id: str, chat_id: str) -> None:
    """The WeCom join way now points at ``chat_id``."""
    session.execute(
        update(community_live_codes)
        .where(_c.workspace_id == workspace_id, _c.id == code_id)
        .values(wecom_chat_id=chat_id)
    )


def is_blocked(session: Session, workspace_id: str, person_id: str) -> bool:
    """Whether the person is a marked spammer."""
    sp = community_spammers.c
    row = session.execute(
        select(sp.member_id).where(sp.workspace_id == workspace_id, sp.person_id == person_id)
    ).first()
    return row is not None


def _take_seat(session: Session, workspace_id: str, chat_id: str) -> bool:
    done = session.execute(
        update(community_groups)
        .where(
            _g.workspace_id == workspace_id,
            _g.chat_id == chat_id,
            _g.status != GroupStatus.DISMISSED.value,
            _g.seats < _g.cap,
        )
        .values(seats=_g.seats + 1)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _make_group(session: Session, workspace_id: str, code: GroupLiveCode) -> str | None:
    """Claim the code's next group number and add the group, pending until WeCom makes it;
    None when another scan claimed it first."""
    number = code.room_base_id
    won = session.execute(
        update(community_live_codes)
        .where(_c.workspace_id == workspace_id, _c.id == code.id, _c.room_base_id == number)
        .values(room_base_id=number + 1)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        return None
    chat_id = f"{PENDING_PREFIX}{code.id}:{number}"
    session.execute(
        insert(community_groups).values(
            workspace_id=workspace_id,
            chat_id=chat_id,
            name=f"{code.room_base_name}{number}",
            owner_userid=code.owner_userid,
            status=GroupStatus.PENDING.value,
            cap=code.cap,
            seats=0,
            members=0,
            tags=[],
            live_code_id=code.id,
        )
    )
    session.execute(
        update(community_live_codes)
        .where(_c.workspace_id == workspace_id, _c.id == code.id)
        .values(chat_ids=[*code.chat_ids, chat_id], current_chat_id=chat_id)
    )
    return chat_id


def _seat(session: Session, workspace_id: str, code_id: str) -> tuple[str, bool]:
    """Seat one customer: the group, and whether it was made for them."""
    made = False
    for _ in range(MAX_ATTEMPTS):
        code = get_code(session=session, workspace_id=workspace_id, code_id=code_id)
        order = [c for c in [code.current_chat_id] if c] + [
            c for c in code.chat_ids if c != code.current_chat_id
        ]
        for chat_id in _open(session, workspace_id, order):
            if _take_seat(session, workspace_id, chat_id):
                if chat_id != code.current_chat_id:
                    session.execute(
                        update(community_live_codes)
                        .where(_c.workspace_id == workspace_id, _c.id == code_id)
                        .values(current_chat_id=chat_id)
                    )
                return chat_id, made
        made = _make_group(session, workspace_id, code) is not None or made
    raise ConflictError("the live code could not seat the customer; try again", field="code_id")


def record_scan(
    *,
    session: Session,
    workspace_id: str,
    code_id: str,
    person_id: str,
    now: datetime,
    idempotency_key: str,
) -> GroupScan:
    """Seat a scanning customer (a marked spammer is refused a seat); the same key answers
    the first result."""
    prior = session.execute(
        select(community_live_code_scans).where(
            _s.workspace_id == workspace_id, _s.idempotency_key == idempotency_key
        )
    ).first()
    if prior is not None:
        return GroupScan(
            id=prior.id,
            code_id=prior.code_id,
            person_id=prior.person_id,
            chat_id=prior.chat_id,
            outcome=prior.outcome,
            at=prior.at,
        )
    # Scans of one code queue on its row: the seat and new-group updates then take their
    # locks in one order (on SQLite the write lock serialises them anyway).
    locked = session.execute(
        select(_c.id).where(_c.workspace_id == workspace_id, _c.id == code_id).with_for_update()
    ).first()
    if locked is None:
        raise NotFoundError(f"no group live code {code_id}", field="code_id")
    chat_id: str | None = None
    made = False
    if is_blocked(session, workspace_id, person_id):
        outcome = "blocked"
    else:
        outcome = "seated"
        chat_id, made = _seat(session, workspace_id, code_id)
    scan = GroupScan(
        id=new_id("gls"),
        code_id=code_id,
        person_id=person_id,
        chat_id=chat_id,
        outcome=outcome,
        at=now,
        new_group=made,
    )
    session.execute(
        insert(community_live_code_scans).values(
            workspace_id=workspace_id,
            idempotency_key=idempotency_key,
            **scan.model_dump(exclude={"new_group"}),
        )
    )
    return scan


def refresh_current(*, session: Session, workspace_id: str, code_id: str) -> GroupLiveCode:
    """Move the code to its first group with room (members may have left, a group may be
    dismissed); a code whose groups are all full keeps its current group until a scan makes
    the next one."""
    code = get_code(session=session, workspace_id=workspace_id, code_id=code_id)
    free = _open(session, workspace_id, code.chat_ids)
    if code.current_chat_id in free or not free:
        return code
    session.execute(
        update(community_live_codes)
        .where(_c.workspace_id == workspace_id, _c.id == code_id)
        .values(current_chat_id=free[0])
    )
    return get_code(session=session, workspace_id=workspace_id, code_id=code_id)


def join_way_target(code: GroupLiveCode) -> tuple[str, int]:
    """Where WeCom's join way should point: the current group if WeCom has it, else the
    last real group (full) with ``room_base_id`` set so WeCom opens the pending group."""
    current = code.current_chat_id or code.chat_ids[-1]
    if not current.startswith(PENDING_PREFIX):
        return current, code.room_base_id
    real = [c for c in code.chat_ids if not c.startswith(PENDING_PREFIX)]
    return real[-1], int(current.rsplit(":", 1)[1])


def code_stats(*, session: Session, workspace_id: str, code_id: str) -> LiveCodeStats:
    """Scans of a code, blocked ones, and seats per group."""
    get_code(session=session, workspace_id=workspace_id, code_id=code_id)
    rows = session.execute(
        select(_s.chat_id, _s.outcome).where(_s.workspace_id == workspace_id, _s.code_id == code_id)
    ).all()
    by_group: dict[str, int] = {}
    for r in rows:
        if r.chat_id:
            by_group[r.chat_id] = by_group.get(r.chat_id, 0) + 1
    blocked = sum(r.outcome == "blocked" for r in rows)
    return LiveCodeStats(code_id=code_id, scans=len(rows), blocked=blocked, by_group=by_group)

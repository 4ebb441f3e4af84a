"""Channel live codes (渠道活码), staff and stores, and customer credit (导购归属).

A scan or contact add through a live code rotates to a staff member (:func:`rules.pick_staff`)
and makes that staff member and their store the customer's owner, once; later orders from any
channel are credited to the owner through the person's profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.profiles import service as profiles
from siyu.profiles.models import Profile
from siyu.referral import codes, rules
from siyu.referral.models import (
    CreditRow,
    LiveCode,
    LiveCodeCreate,
    LiveCodeStats,
    Owner,
    ScanResult,
    Shift,
    Staff,
    StaffAssignment,
    StaffCreate,
    Store,
    StoreCreate,
)
from siyu.referral.tables import (
    customer_owners,
    live_code_scans,
    live_codes,
    referral_staff,
    referral_stores,
)

# -- stores and staff ---------------------------------------------------------------------


def create_store(
    *, session: Session, workspace_id: str, store: StoreCreate, now: datetime
) -> Store:
    """Add a store (门店); names are unique in a workspace."""
    t = referral_stores.c
    taken = session.execute(
        select(t.id).where(t.workspace_id == workspace_id, t.name == store.name)
    ).first()
    if taken is not None:
        raise ConflictError(f"a store named {store.name!r} exists ({taken.id})", field="name")
    row = Store(id=new_id("st"), created_at=now, **store.model_dump())
    session.execute(insert(referral_stores).values(workspace_id=workspace_id, **row.model_dump()))
    return row


def list_stores(*, session: Session, workspace_id: str) -> list[Store]:
    """Every store, by name."""
    t = referral_stores.c
    rows = session.execute(
        select(t.id, t.name, t.created_at).where(t.workspace_id == workspace_id).order_by(t.name)
    ).all()
    return [Store(id=r.id, name=r.name, created_at=r.created_at) for r in rows]


def _require_store(session: Session, workspace_id: str, store_id: str | None, field: str) -> None:
    if store_id is None:
        return
    t = referral_stores.c
    found = session.execute(
        select(t.id).where(t.workspace_id == workspace_id, t.id == store_id)
    ).first()
    if found is None:
        raise NotFoundError(f"no store {store_id}", field=field)


def create_staff(
    *, session: Session, workspace_id: str, staff: StaffCreate, now: datetime
) -> Staff:
    """Add a staff member (导购)."""
    _require_store(session, workspace_id, staff.store_id, "store_id")
    row = Staff(id=new_id("sf"), created_at=now, **staff.model_dump())
    values = row.model_dump(mode="json", include={"shifts"})
    session.execute(
        insert(referral_staff).values(
            workspace_id=workspace_id, **row.model_dump(exclude={"shifts"}), shifts=values["shifts"]
        )
    )
    return row


def _staff(r: Any) -> Staff:
    return Staff(
        id=r.id,
        name=r.name,
        store_id=r.store_id,
        wecom_userid=r.wecom_userid,
        daily_cap=r.daily_cap,
        active=r.active,
        shifts=[Shift.model_validate(s) for s in r.shifts],
        created_at=r.created_at,
    )


def list_staff(*, session: Session, workspace_id: str) -> list[Staff]:
    """Every staff member, by name."""
    t = referral_staff.c
    rows = session.execute(
        select(referral_staff).where(t.workspace_id == workspace_id).order_by(t.name, t.id)
    ).all()
    return [_staff(r) for r in rows]


def set_staff_active(*, session: Session, workspace_id: str, staff_id: str, active: bool) -> Staff:
    """Put a staff member on or off duty."""
    t = referral_staff.c
    done = session.execute(
        update(referral_staff)
        .where(t.workspace_id == workspace_id, t.id == staff_id)
        .values(active=active)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError(f"no staff {staff_id}", field="staff_id")
    return _get_staff(session, workspace_id, staff_id)


def _get_staff(session: Session, workspace_id: str, staff_id: str) -> Staff:
    t = referral_staff.c
    row = session.execute(
        select(referral_staff).where(t.workspace_id == workspace_id, t.id == staff_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no staff {staff_id}", field="staff_id")
    return _staff(row)


# -- live codes -----------------------------------------------------------------------------


def _code(r: Any, base_url: str) -> LiveCode:
    return LiveCode(
        id=r.id,
        name=r.name,
        kind=r.kind,
        channel=r.channel,
        scene=r.scene,
        store_id=r.store_id,
        staff=[StaffAssignment.model_validate(a) for a in r.staff],
        created_at=r.created_at,
        url=codes.live_code_url(base_url, r.id, r.scene),
    )


def create_live_code(
    *,
    session: Session,
    workspace_id: str,
    code: LiveCodeCreate,
    now: datetime,
    idempotency_key: str | None = None,
    base_url: str = codes.DEFAULT_BASE_URL,
) -> LiveCode:
    """Create a channel live code; the same idempotency key returns the code made first.

    Raises:
        NotFoundError: a named store or staff member does not exist.
        ConflictError: the scene is taken by another code.
    """
    t = live_codes.c
    if idempotency_key:
        row = session.execute(
            select(live_codes).where(
                t.workspace_id == workspace_id, t.idempotency_key == idempotency_key
            )
        ).first()
        if row is not None:
            return _code(row, base_url)
    _require_store(session, workspace_id, code.store_id, "store_id")
    for i, a in enumerate(code.staff):
        try:
            _get_staff(session, workspace_id, a.staff_id)
        except NotFoundError as exc:
            exc.field = f"staff.{i}.staff_id"
            raise
    code_id = new_id("lc")
    scene = code.scene or code_id.removeprefix("lc_")[-12:]
    taken = session.execute(
        select(t.id).where(t.workspace_id == workspace_id, t.scene == scene)
    ).first()
    if taken is not None:
        raise ConflictError(f"scene {scene!r} is used by live code {taken.id}", field="scene")
    values = code.model_dump(mode="json")
    values.update(id=code_id, scene=scene, created_at=now, idempotency_key=idempotency_key)
    session.execute(insert(live_codes).values(workspace_id=workspace_id, **values))
    return get_live_code(
        session=session, workspace_id=workspace_id, code_id=code_id, base_url=base_url
    )


def get_live_code(
    *, session: Session, workspace_id: str, code_id: str, base_url: str = codes.DEFAULT_BASE_URL
) -> LiveCode:
    """One live code. Raises NotFoundError."""
    t = live_codes.c
    row = session.execute(
        select(live_codes).where(t.workspace_id == workspace_id, t.id == code_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no live code {code_id}", field="code_id")
    return _code(row, base_url)


def find_live_code_by_scene(*, session: Session, workspace_id: str, scene: str) -> LiveCode | None:
    """The live code carrying ``scene``, if any."""
    t = live_codes.c
    row = session.execute(
        select(live_codes).where(t.workspace_id == workspace_id, t.scene == scene)
    ).first()
    return _code(row, codes.DEFAULT_BASE_URL) if row is not None else None


def list_live_codes(
    *, session: Session, workspace_id: str, base_url: str = codes.DEFAULT_BASE_URL
) -> list[LiveCode]:
    """Every live code, newest first."""
    t = live_codes.c
    rows = session.execute(
        select(live_codes).where(t.workspace_id == workspace_id).order_by(t.created_at.desc(), t.id)
    ).all()
    return [_code(r, base_url) for r in rows]


# -- scans, rotation and owners -------------------------------------------------------------


def _adds_since(session: Session, workspace_id: str, since: datetime) -> dict[str, int]:
    s = live_code_scans.c
    rows = session.execute(
        select(s.staff_id, func.count())
        .where(s.workspace_id == workspace_id, s.action == "add", s.at >= since)
        .where(s.staff_id.is_not(None))
        .group_by(s.staff_id)
    ).all()
    return {r[0]: int(r[1]) for r in rows}


def _day_start(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def rotate(
    *, session: Session, workspace_id: str, code: LiveCode, now: datetime, zone: str
) -> Staff | None:
    """The staff member the code sends a new contact to now (see :func:`rules.pick_staff`)."""
    staff = {s.id: s for s in list_staff(session=session, workspace_id=workspace_id)}
    adds = _adds_since(session, workspace_id, _day_start(now, zone))
    states = {
        sid: rules.StaffState(s.active, s.shifts, s.daily_cap, adds.get(sid, 0))
        for sid, s in staff.items()
    }
    picked = rules.pick_staff(code.staff, states, now, zone)
    return staff[picked] if picked else None


def _scan(r: Any, store_id: str | None) -> ScanResult:
    return ScanResult(
        id=r.id,
        code_id=r.code_id,
        person_id=r.person_id,
        action=r.action,
        staff_id=r.staff_id,
        store_id=store_id,
        new_customer=r.new_customer,
        at=r.at,
    )


def get_owner(*, session: Session, workspace_id: str, person_id: str) -> Owner | None:
    """The customer's owning staff member and store, if any."""
    o = customer_owners.c
    row = session.execute(
        select(customer_owners).where(o.workspace_id == workspace_id, o.person_id == person_id)
    ).first()
    if row is None:
        return None
    return Owner(
        person_id=row.person_id,
        staff_id=row.staff_id,
        store_id=row.store_id,
        source=row.source,
        source_id=row.source_id,
        assigned_at=row.assigned_at,
    )


def record_scan(
    *,
    session: Session,
    workspace_id: str,
    code_id: str,
    person_id: str,
    action: Literal["scan", "add"],
    now: datetime,
    zone: str,
    idempotency_key: str,
) -> ScanResult:
    """Record a scan or contact add; a customer with no owner gets one from the rotation.

    A returning customer stays with their owner. The same idempotency key returns the first
    result.
    """
    s = live_code_scans.c
    prior = session.execute(
        select(live_code_scans).where(
            s.workspace_id == workspace_id, s.idempotency_key == idempotency_key
        )
    ).first()
    if prior is not None:
        owner = get_owner(session=session, workspace_id=workspace_id, person_id=prior.person_id)
        return _scan(prior, owner.store_id if owner else None)
    code = get_live_code(session=session, workspace_id=workspace_id, code_id=code_id)
    owner = get_owner(session=session, workspace_id=workspace_id, person_id=person_id)
    new_customer = owner is None
    if owner is None:
        staff = rotate(session=session, workspace_id=workspace_id, code=code, now=now, zone=zone)
        owner = Owner(
            person_id=person_id,
            staff_id=staff.id if staff else None,
            store_id=(staff.store_id if staff else None) or code.store_id,
            source="live_code",
            source_id=code.id,
            assigned_at=now,
        )
        session.execute(
            insert(customer_owners).values(workspace_id=workspace_id, **owner.model_dump())
        )
    values = {
        "id": new_id("lcs"),
        "code_id": code.id,
        "person_id": person_id,
        "action": action,
        "staff_id": owner.staff_id,
        "new_customer": new_customer,
        "idempotency_key": idempotency_key,
        "at": now,
    }
    session.execute(insert(live_code_scans).values(workspace_id=workspace_id, **values))
    return ScanResult(store_id=owner.store_id, **values)


def set_owner(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    staff_id: str,
    source: str,
    now: datetime,
    replace: bool = False,
) -> Owner:
    """Make ``staff_id`` (and their store) the customer's owner, e.g. from a WeCom contact.

    Raises:
        NotFoundError: no such staff member.
        ConflictError: the customer has another owner and ``replace`` is false.
    """
    staff = _get_staff(session, workspace_id, staff_id)
    current = get_owner(session=session, workspace_id=workspace_id, person_id=person_id)
    if current is not None and current.staff_id == staff_id:
        return current
    if current is not None and not replace:
        raise ConflictError(
            f"customer {person_id} is owned by staff {current.staff_id}; pass replace",
            field="staff_id",
        )
    owner = Owner(
        person_id=person_id,
        staff_id=staff.id,
        store_id=staff.store_id,
        source=source,
        source_id=staff.wecom_userid,
        assigned_at=now,
    )
    o = customer_owners.c
    if current is None:
        session.execute(
            insert(customer_owners).values(workspace_id=workspace_id, **owner.model_dump())
        )
    else:
        session.execute(
            update(customer_owners)
            .where(o.workspace_id == workspace_id, o.person_id == person_id)
            .values(**owner.model_dump(exclude={"person_id"}))
        )
    return owner


# -- stats and credit -----------------------------------------------------------------------


def profiles_of(
    session: Session, workspace_id: str, person_ids: Sequence[str]
) -> dict[str, Profile]:
    """Profiles of persons as they are now (merged persons combined), keyed by the given id."""
    groups: dict[str, list[str]] = {}
    for pid in set(person_ids):
        try:
            groups[pid] = identity.person_ids_of(
                session=session, workspace_id=workspace_id, person_id=pid
            )
        except NotFoundError:
            continue
    by_root = {g[0]: pid for pid, g in groups.items()}
    found = profiles.get_profiles(
        session=session, workspace_id=workspace_id, groups={g[0]: g for g in groups.values()}
    )
    return {by_root[root]: p for root, p in found.items()}


def live_code_stats(*, session: Session, workspace_id: str, code_id: str) -> LiveCodeStats:
    """Scans, adds, customers, first orders and GMV of one live code."""
    get_live_code(session=session, workspace_id=workspace_id, code_id=code_id)
    s, o = live_code_scans.c, customer_owners.c
    counts: dict[str, int] = dict(
        session.execute(
            select(s.action, func.count())
            .where(s.workspace_id == workspace_id, s.code_id == code_id)
            .group_by(s.action)
        ).all()
    )
    persons = list(
        session.execute(
            select(o.person_id).where(
                o.workspace_id == workspace_id, o.source == "live_code", o.source_id == code_id
            )
        ).scalars()
    )
    found = profiles_of(session, workspace_id, persons)
    return LiveCodeStats(
        code_id=code_id,
        scans=int(counts.get("scan", 0)),
        adds=int(counts.get("add", 0)),
        customers=len(persons),
        first_orders=sum(1 for p in found.values() if p.order_count > 0),
        gmv_fen=sum(p.total_spend_fen for p in found.values()),
    )


def _credit_row(key: str, name: str, persons: list[str], found: dict[str, Profile]) -> CreditRow:
    mine = [found[p] for p in persons if p in found]
    buyers = sum(1 for p in mine if p.order_count > 0)
    repeat = sum(1 for p in mine if p.order_count > 1)
    gmv = sum(p.total_spend_fen for p in mine)
    return CreditRow(
        id=key,
        name=name,
        customers=len(persons),
        buyers=buyers,
        repeat_buyers=repeat,
        orders=sum(p.order_count for p in mine),
        gmv_fen=gmv,
        repurchase_rate=repeat / buyers if buyers else 0.0,
        ltv_fen=gmv // len(persons) if persons else 0,
    )


def credit(
    *, session: Session, workspace_id: str, by: Literal["staff", "store"]
) -> list[CreditRow]:
    """Customers, buyers, repurchase, orders, GMV and LTV per staff member or store.

    Orders count whatever channel they came through: they are read from the owners'
    profiles. Rows are ranked by GMV, then customers.
    """
    if by not in ("staff", "store"):
        raise InvalidInputError("by must be staff or store", field="by")
    o = customer_owners.c
    column = o.staff_id if by == "staff" else o.store_id
    owned: dict[str, list[str]] = {}
    for key, pid in session.execute(
        select(column, o.person_id).where(o.workspace_id == workspace_id, column.is_not(None))
    ).all():
        owned.setdefault(key, []).append(pid)
    names = (
        {s.id: s.name for s in list_staff(session=session, workspace_id=workspace_id)}
        if by == "staff"
        else {s.id: s.name for s in list_stores(session=session, workspace_id=workspace_id)}
    )
    found = profiles_of(session, workspace_id, [p for ps in owned.values() for p in ps])
    rows = [_credit_row(k, names.get(k, k), owned.get(k, []), found) for k in names]
    return sorted(rows, key=lambda r: (-r.gmv_fen, -r.customers, r.id))


def scans_today(*, session: Session, workspace_id: str, now: datetime, zone: str) -> dict[str, int]:
    """Adds per staff member since local midnight (what the daily cap counts)."""
    return _adds_since(session, workspace_id, _day_start(now, zone) - timedelta(0))

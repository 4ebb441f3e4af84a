"""Layered operations as service calls: RFM, lifecycle, Pareto and KOC for one workspace.

Each run reads the event store through an analytics engine (DuckDB or ClickHouse, persons
mapped through merges), scores with the pure cores in :mod:`siyu.segments.rfm` and
:mod:`siyu.segments.lifecycle`, stores the result and writes it as model tags (groups
``RFM``, ``生命周期`` and ``活跃度``) in one transaction.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from siyu.analytics import pareto as pareto_core
from siyu.analytics.engine import Dialect, engine_for
from siyu.analytics.lifecycle_facts import read_facts
from siyu.analytics.order_history import per_person, read_order_days
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.profiles import tags
from siyu.profiles.tag_models import TagChanges
from siyu.segments import layer_store, lifecycle, rfm
from siyu.segments.lifecycle import LifecycleSettings, Transition
from siyu.segments.rfm import Buyer, RfmCuts, RfmScore, RfmSettings
from siyu.workspaces import service as workspaces

RFM_GROUP = "RFM"


class RfmRun(BaseModel):
    """What an RFM run did."""

    computed_at: datetime
    dialect: Dialect
    settings: RfmSettings
    cuts: RfmCuts
    buyers: int
    segments: dict[str, int] = Field(description="Buyers per segment.")
    tags_gained: int
    tags_lost: int


class RfmReport(BaseModel):
    """The stored RFM result: buyers per segment, and a page of scored buyers."""

    computed_at: datetime | None = Field(description="Null before the first run.")
    segments: dict[str, int]
    items: list[RfmScore]


class LifecycleRun(BaseModel):
    """What a lifecycle run did."""

    computed_at: datetime
    dialect: Dialect
    settings: LifecycleSettings
    persons: int
    stages: dict[str, int]
    activities: dict[str, int]
    transitions: int = Field(description="Changes recorded (first placements included).")
    tags_gained: int
    tags_lost: int


class TransitionCount(BaseModel):
    """How many persons moved from one value to another."""

    dimension: str
    from_value: str | None
    to_value: str
    persons: int


class LifecycleReport(BaseModel):
    """The stored lifecycle result and the moves since a time."""

    computed_at: datetime | None
    stages: dict[str, int]
    activities: dict[str, int]
    since: datetime
    moves: list[TransitionCount]


class ParetoReport(BaseModel):
    """Revenue concentration and the top KOC candidates, as of a time."""

    as_of: datetime
    dialect: Dialect
    pareto: pareto_core.Pareto
    koc: list[pareto_core.KocCandidate]


def _person_map(runtime: Runtime, workspace_id: str) -> list[tuple[str, str]]:
    with runtime.sessions() as session:
        return identity.person_map(session=session, workspace_id=workspace_id)


def _timezone(runtime: Runtime, workspace_id: str) -> str:
    with runtime.sessions() as session:
        return workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone


def get_rfm_settings(*, runtime: Runtime, workspace_id: str) -> RfmSettings:
    """The workspace's RFM settings (defaults until saved)."""
    with runtime.sessions() as session:
        return layer_store.load_settings(
            session=session, workspace_id=workspace_id, name="rfm", model=RfmSettings
        )


def put_rfm_settings(
    *, runtime: Runtime, workspace_id: str, settings: RfmSettings, now: datetime
) -> RfmSettings:
    """Save the workspace's RFM settings; the next run uses them."""
    with runtime.sessions() as session, session.begin():
        workspaces.get_workspace(session=session, workspace_id=workspace_id)
        layer_store.save_settings(
            session=session, workspace_id=workspace_id, name="rfm", value=settings, now=now
        )
    return settings


def read_buyers(
    *, runtime: Runtime, workspace_id: str, now: datetime, dialect: Dialect | str = Dialect.DUCKDB
) -> list[Buyer]:
    """Every buyer's last order, orders and spend before ``now`` (persons merged)."""
    rows = read_order_days(
        engine_for(runtime, dialect),
        workspace_id=workspace_id,
        end=now,
        timezone=_timezone(runtime, workspace_id),
        person_map=_person_map(runtime, workspace_id),
    )
    found = per_person(rows)
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return [
        Buyer(
            person_id=str(found.person[i]),
            last_order_at=epoch + timedelta(microseconds=int(found.last_order_us[i])),
            orders=int(found.orders[i]),
            spend_fen=int(found.revenue_fen[i]),
        )
        for i in range(len(found.person))
    ]


def run_rfm(
    *, runtime: Runtime, workspace_id: str, now: datetime, dialect: Dialect | str = Dialect.DUCKDB
) -> RfmRun:
    """Score every buyer, store the scores and write them as tags of the group ``RFM``."""
    settings = get_rfm_settings(runtime=runtime, workspace_id=workspace_id)
    buyers = read_buyers(runtime=runtime, workspace_id=workspace_id, now=now, dialect=dialect)
    scores, cuts = rfm.score(buyers, settings=settings, now=now)
    with runtime.sessions() as session, session.begin():
        layer_store.replace_rfm_scores(
            session=session, workspace_id=workspace_id, scores=scores, now=now
        )
        changes = tags.replace_model_tags(
            session=session,
            workspace_id=workspace_id,
            group=RFM_GROUP,
            assignments={s.person_id: s.segment.value for s in scores},
            now=now,
            reason=f"rfm {now:%Y-%m-%d %H:%M} UTC",
        )
    return RfmRun(
        computed_at=now,
        dialect=Dialect(dialect),
        settings=settings,
        cuts=cuts,
        buyers=len(scores),
        segments=dict(Counter(s.segment.value for s in scores)),
        tags_gained=changes.gained,
        tags_lost=changes.lost,
    )


def rfm_report(
    *,
    runtime: Runtime,
    workspace_id: str,
    segment: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RfmReport:
    """The stored scores: counts per segment and a page (highest spend first)."""
    with runtime.sessions() as session:
        counts, at = layer_store.rfm_counts(session=session, workspace_id=workspace_id)
        items = layer_store.rfm_page(
            session=session,
            workspace_id=workspace_id,
            segment=segment,
            limit=limit,
            offset=offset,
        )
    return RfmReport(computed_at=at, segments=counts, items=items)


def get_lifecycle_settings(*, runtime: Runtime, workspace_id: str) -> LifecycleSettings:
    """The workspace's lifecycle thresholds (defaults until saved)."""
    with runtime.sessions() as session:
        return layer_store.load_settings(
            session=session, workspace_id=workspace_id, name="lifecycle", model=LifecycleSettings
        )


def put_lifecycle_settings(
    *, runtime: Runtime, workspace_id: str, settings: LifecycleSettings, now: datetime
) -> LifecycleSettings:
    """Save the workspace's lifecycle thresholds."""
    with runtime.sessions() as session, session.begin():
        workspaces.get_workspace(session=session, workspace_id=workspace_id)
        layer_store.save_settings(
            session=session, workspace_id=workspace_id, name="lifecycle", value=settings, now=now
        )
    return settings


def _referred_buyers(
    runtime: Runtime,
    workspace_id: str,
    now: datetime,
    dialect: Dialect | str,
    person_map: list[tuple[str, str]],
) -> dict[str, int]:
    found = pareto_core.koc_candidates(
        engine_for(runtime, dialect),
        workspace_id=workspace_id,
        end=now,
        limit=None,
        person_map=person_map,
    )
    return {k.person_id: k.referred_buyers for k in found}


def _write_lifecycle(
    runtime: Runtime, workspace_id: str, states: list[lifecycle.LifecycleState], now: datetime
) -> tuple[list[Transition], TagChanges]:
    reason = f"lifecycle {now:%Y-%m-%d %H:%M} UTC"
    with runtime.sessions() as session, session.begin():
        moved = layer_store.replace_lifecycle_states(
            session=session, workspace_id=workspace_id, states=states, now=now
        )
        stage = tags.replace_model_tags(
            session=session,
            workspace_id=workspace_id,
            group=lifecycle.STAGE_GROUP,
            assignments={s.person_id: lifecycle.STAGE_TAGS[s.stage] for s in states},
            now=now,
            reason=reason,
        )
        activity = tags.replace_model_tags(
            session=session,
            workspace_id=workspace_id,
            group=lifecycle.ACTIVITY_GROUP,
            assignments={s.person_id: lifecycle.ACTIVITY_TAGS[s.activity] for s in states},
            now=now,
            reason=reason,
        )
    return moved, TagChanges(gained=stage.gained + activity.gained, lost=stage.lost + activity.lost)


def run_lifecycle(
    *, runtime: Runtime, workspace_id: str, now: datetime, dialect: Dialect | str = Dialect.DUCKDB
) -> LifecycleRun:
    """Place every person in a stage and an activity status; record transitions; tag."""
    settings = get_lifecycle_settings(runtime=runtime, workspace_id=workspace_id)
    person_map = _person_map(runtime, workspace_id)
    facts = read_facts(
        engine_for(runtime, dialect),
        workspace_id=workspace_id,
        now=now,
        active_days=settings.active_days,
        referred_buyers=_referred_buyers(runtime, workspace_id, now, dialect, person_map),
        person_map=person_map,
    )
    states = lifecycle.classify(facts, settings=settings, now=now)
    moved, changes = _write_lifecycle(runtime, workspace_id, states, now)
    return LifecycleRun(
        computed_at=now,
        dialect=Dialect(dialect),
        settings=settings,
        persons=len(states),
        stages=dict(Counter(s.stage.value for s in states)),
        activities=dict(Counter(s.activity.value for s in states)),
        transitions=len(moved),
        tags_gained=changes.gained,
        tags_lost=changes.lost,
    )


def lifecycle_report(*, runtime: Runtime, workspace_id: str, since: datetime) -> LifecycleReport:
    """Stored stages and activity, and the transitions since ``since``."""
    with runtime.sessions() as session:
        stages, activities, at = layer_store.lifecycle_counts(
            session=session, workspace_id=workspace_id
        )
        moves = layer_store.transition_counts(
            session=session, workspace_id=workspace_id, since=since
        )
    return LifecycleReport(
        computed_at=at,
        stages=stages,
        activities=activities,
        since=since,
        moves=[
            TransitionCount(dimension=d, from_value=f, to_value=t, persons=n)
            for d, f, t, n in moves
        ],
    )


def person_transitions(
    *, runtime: Runtime, workspace_id: str, person_id: str, limit: int = 100
) -> list[Transition]:
    """A person's lifecycle transitions (and those of persons it absorbed), newest first."""
    with runtime.sessions() as session:
        ids = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        return layer_store.person_transitions(
            session=session, workspace_id=workspace_id, person_ids=ids, limit=limit
        )


def pareto_report(
    *,
    runtime: Runtime,
    workspace_id: str,
    now: datetime,
    tops: tuple[float, ...] = pareto_core.DEFAULT_TOPS,
    koc_limit: int = 20,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> ParetoReport:
    """Share of revenue from the top buyers, and the top KOC candidates, before ``now``."""
    person_map = _person_map(runtime, workspace_id)
    engine = engine_for(runtime, dialect)
    rows = read_order_days(
        engine,
        workspace_id=workspace_id,
        end=now,
        timezone=_timezone(runtime, workspace_id),
        person_map=person_map,
    )
    koc = pareto_core.koc_candidates(
        engine, workspace_id=workspace_id, end=now, limit=koc_limit, person_map=person_map
    )
    return ParetoReport(
        as_of=now,
        dialect=Dialect(dialect),
        pareto=pareto_core.revenue_shares(per_person(rows).revenue_fen, tops),
        koc=koc,
    )

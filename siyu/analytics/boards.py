"""AARRR and RARRA boards: the five stages' numbers for a period, each with its definition.

The same numbers serve both boards; only the order differs. AARRR (Dave McClure) reads
Acquisition → Activation → Retention → Revenue → Referral; RARRA (Thomas Petit) puts
retention first — Retention → Activation → Referral → Revenue → Acquisition — because a
private pool grows by keeping customers, not by buying them again.

Definitions (persons after identity merges; "the period" is whole local days):

- **Acquisition** — *new persons*: first event ever in the period; split by the channel
  of their first event that had one (``(direct)`` if none). *Active*: any event in it.
- **Activation** — new persons who did a key action (default: ``Product Added`` or an
  order) in the period; *activation rate* = activated / new.
- **Retention** — *returning*: active persons first seen before the period; *retained*:
  active in the previous period of the same length and again in this one; *retention
  rate* = retained / active in the previous period.
- **Revenue** — buyers, orders, GMV (fen), AOV = GMV / orders, ARPU = GMV / active,
  paying rate = buyers / active, repeat buyers (ordered before the period too).
- **Referral** — referrers (sent the referral event in the period), referred (accepted a
  referral in the period), referred buyers and their GMV (buyers of the period who had
  accepted a referral by its end), referral share of GMV.

Every metric also carries its value in the previous period of the same length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from functools import partial

from pydantic import BaseModel, Field

from siyu.analytics.attribution import DIRECT
from siyu.analytics.engine import Dialect, Engine, sql_literal
from siyu.analytics.gmv import ORDER_EVENT, REFERRAL_EVENT
from siyu.analytics.periods import Period

REFERRAL_SENT_EVENT = "Referral Sent"
ACTIVATION_EVENTS = ("Product Added", ORDER_EVENT)


class BoardKind(StrEnum):
    """Which order the stages are shown in."""

    AARRR = "aarrr"
    RARRA = "rarra"


class Stage(StrEnum):
    """The five stages."""

    ACQUISITION = "acquisition"
    ACTIVATION = "activation"
    RETENTION = "retention"
    REVENUE = "revenue"
    REFERRAL = "referral"


ORDERS: dict[BoardKind, tuple[Stage, ...]] = {
    BoardKind.AARRR: (
        Stage.ACQUISITION,
        Stage.ACTIVATION,
        Stage.RETENTION,
        Stage.REVENUE,
        Stage.REFERRAL,
    ),
    BoardKind.RARRA: (
        Stage.RETENTION,
        Stage.ACTIVATION,
        Stage.REFERRAL,
        Stage.REVENUE,
        Stage.ACQUISITION,
    ),
}


class BoardQuery(BaseModel):
    """A board for a period."""

    period: Period
    kind: BoardKind = BoardKind.AARRR
    activation_events: list[str] = Field(
        default_factory=lambda: list(ACTIVATION_EVENTS),
        min_length=1,
        description="Key actions that make a new person activated.",
    )
    order_event: str = ORDER_EVENT
    referral_sent_event: str = REFERRAL_SENT_EVENT
    referral_accepted_event: str = REFERRAL_EVENT


def to_sql(query: BoardQuery, period: Period, dialect: Dialect) -> str:
    """SQL answering (metric, label, value) rows of the raw counts for ``period``."""
    lit = partial(sql_literal, dialect=dialect)
    s, e, ps = lit(period.start), lit(period.end), lit(period.previous().start)
    order = lit(query.order_event)
    within = f"timestamp >= {s} AND timestamp < {e}"
    key_events = ", ".join(lit(name) for name in query.activation_events)
    return f"""WITH first_seen AS (
    SELECT person_id, min(timestamp) AS first_at FROM events
    WHERE person_id IS NOT NULL AND timestamp < {e} GROUP BY person_id
), newcomers AS (
    SELECT person_id FROM first_seen WHERE first_at >= {s}
), active AS (
    SELECT DISTINCT person_id FROM events WHERE person_id IS NOT NULL AND {within}
), active_before AS (
    SELECT DISTINCT person_id FROM events
    WHERE person_id IS NOT NULL AND timestamp >= {ps} AND timestamp < {s}
), buyers AS (
    SELECT person_id, count(*) AS n, sum(coalesce(revenue_fen, 0)) AS fen FROM events
    WHERE event = {order} AND person_id IS NOT NULL AND {within} GROUP BY person_id
), referred AS (
    SELECT DISTINCT person_id FROM events
    WHERE event = {lit(query.referral_accepted_event)} AND timestamp < {e}
), touched AS (
    SELECT person_id, timestamp AS ts, channel FROM events
    WHERE channel IS NOT NULL AND channel <> '' AND timestamp < {e}
        AND person_id IN (SELECT person_id FROM newcomers)
), first_touch AS (
    SELECT person_id, min(ts) AS ts FROM touched GROUP BY person_id
), acquired AS (
    SELECT t.person_id AS person_id, min(t.channel) AS channel
    FROM touched AS t JOIN first_touch AS f ON f.person_id = t.person_id AND f.ts = t.ts
    GROUP BY t.person_id
), counts AS (
    SELECT 'active' AS metric, '' AS label, count(*) AS value FROM active
    UNION ALL SELECT 'new', '', count(*) FROM newcomers
    UNION ALL SELECT 'activated', '', count(*) FROM newcomers WHERE person_id IN (
        SELECT person_id FROM events WHERE event IN ({key_events}) AND {within})
    UNION ALL SELECT 'returning', '', count(*) FROM active
        WHERE person_id NOT IN (SELECT person_id FROM newcomers)
    UNION ALL SELECT 'active_before', '', count(*) FROM active_before
    UNION ALL SELECT 'retained', '', count(*) FROM active_before
        WHERE person_id IN (SELECT person_id FROM active)
    UNION ALL SELECT 'buyers', '', count(*) FROM buyers
    UNION ALL SELECT 'orders', '', coalesce(sum(n), 0) FROM buyers
    UNION ALL SELECT 'gmv_fen', '', coalesce(sum(fen), 0) FROM buyers
    UNION ALL SELECT 'repeat_buyers', '', count(*) FROM buyers WHERE person_id IN (
        SELECT person_id FROM events WHERE event = {order} AND timestamp < {s})
    UNION ALL SELECT 'referrers', '', count(DISTINCT person_id) FROM events
        WHERE event = {lit(query.referral_sent_event)} AND {within}
    UNION ALL SELECT 'referred', '', count(DISTINCT person_id) FROM events
        WHERE event = {lit(query.referral_accepted_event)} AND {within}
    UNION ALL SELECT 'referred_buyers', '', count(*) FROM buyers
        WHERE person_id IN (SELECT person_id FROM referred)
    UNION ALL SELECT 'referred_gmv_fen', '', coalesce(sum(fen), 0) FROM buyers
        WHERE person_id IN (SELECT person_id FROM referred)
    UNION ALL SELECT 'new_by_channel', channel, count(*) FROM acquired GROUP BY channel
    UNION ALL SELECT 'new_by_channel', {lit(DIRECT)}, count(*) FROM newcomers
        WHERE person_id NOT IN (SELECT person_id FROM acquired)
)
SELECT metric, CAST(label AS VARCHAR) AS label, CAST(value AS BIGINT) AS value FROM counts
ORDER BY metric, label"""


# -- the board ---------------------------------------------------------------------------


class Metric(BaseModel):
    """One number on the board, its value a period earlier, and what it counts."""

    name: str
    value: float
    previous: float | None = Field(description="The same number one period earlier.")
    unit: str = Field(description="persons, orders, fen or ratio.")
    definition: str


class Breakdown(BaseModel):
    """A metric split by a label (e.g. new persons by first channel)."""

    label: str
    value: int


class StageNumbers(BaseModel):
    """One stage of the board."""

    stage: Stage
    title: str = Field(description="English and Chinese name.")
    definition: str
    metrics: list[Metric]
    breakdown: list[Breakdown] = Field(default_factory=list)


class Board(BaseModel):
    """The five stages for a period, in the board's order."""

    kind: BoardKind
    period: Period
    compare_to: Period
    stages: list[StageNumbers]


Counts = dict[str, float]
Spec = tuple[str, str, str, Callable[[Counts], float]]


def _ratio(a: str, b: str) -> Callable[[Counts], float]:
    return lambda c: c.get(a, 0) / c[b] if c.get(b) else 0.0


def _count(name: str) -> Callable[[Counts], float]:
    return lambda c: c.get(name, 0)


STAGES: dict[Stage, tuple[str, str, list[Spec]]] = {
    Stage.ACQUISITION: (
        "Acquisition 获客",
        "Persons seen for the first time in the period, by the channel that brought them.",
        [
            ("new", "persons", "first event ever in the period", _count("new")),
            ("active", "persons", "any event in the period", _count("active")),
        ],
    ),
    Stage.ACTIVATION: (
        "Activation 激活",
        "New persons who did a key action in the period.",
        [
            ("activated", "persons", "new persons with a key action", _count("activated")),
            ("activation_rate", "ratio", "activated / new", _ratio("activated", "new")),
        ],
    ),
    Stage.RETENTION: (
        "Retention 留存",
        "Persons who came back: active now and seen before.",
        [
            ("returning", "persons", "active, first seen before the period", _count("returning")),
            ("retained", "persons", "active in the previous period and again", _count("retained")),
            (
                "retention_rate",
                "ratio",
                "retained / active in the previous period",
                _ratio("retained", "active_before"),
            ),
        ],
    ),
    Stage.REVENUE: (
        "Revenue 变现",
        "Orders and GMV of the period.",
        [
            ("buyers", "persons", "persons with an order in the period", _count("buyers")),
            ("orders", "orders", "orders in the period", _count("orders")),
            ("gmv_fen", "fen", "order revenue in the period", _count("gmv_fen")),
            ("aov_fen", "fen", "GMV / orders", _ratio("gmv_fen", "orders")),
            ("arpu_fen", "fen", "GMV / active persons", _ratio("gmv_fen", "active")),
            ("paying_rate", "ratio", "buyers / active persons", _ratio("buyers", "active")),
            (
                "repeat_buyers",
                "persons",
                "buyers who had ordered before the period",
                _count("repeat_buyers"),
            ),
        ],
    ),
    Stage.REFERRAL: (
        "Referral 推荐",
        "Customers bringing customers (裂变).",
        [
            ("referrers", "persons", "sent a referral in the period", _count("referrers")),
            ("referred", "persons", "accepted a referral in the period", _count("referred")),
            (
                "referred_buyers",
                "persons",
                "buyers who had accepted a referral",
                _count("referred_buyers"),
            ),
            ("referred_gmv_fen", "fen", "GMV of referred buyers", _count("referred_gmv_fen")),
            (
                "referral_gmv_share",
                "ratio",
                "referred GMV / GMV",
                _ratio("referred_gmv_fen", "gmv_fen"),
            ),
        ],
    ),
}


def counts_of(rows: Sequence[Mapping[str, object]]) -> tuple[Counts, list[Breakdown]]:
    """Scalar counts and the new-persons-by-channel breakdown from :func:`to_sql` rows."""
    counts: Counts = {}
    channels: list[Breakdown] = []
    for r in rows:
        value = int(r["value"] or 0)  # type: ignore[call-overload]
        if r["metric"] == "new_by_channel":
            if value:
                channels.append(Breakdown(label=str(r["label"]), value=value))
        else:
            counts[str(r["metric"])] = value
    channels.sort(key=lambda b: (-b.value, b.label))
    return counts, channels


def board_of(
    query: BoardQuery, now: tuple[Counts, list[Breakdown]], before: tuple[Counts, list[Breakdown]]
) -> Board:
    """The board from this period's and the previous period's counts."""
    stages = []
    for stage in ORDERS[query.kind]:
        title, definition, specs = STAGES[stage]
        metrics = [
            Metric(name=n, value=f(now[0]), previous=f(before[0]), unit=u, definition=d)
            for n, u, d, f in specs
        ]
        extra = now[1] if stage is Stage.ACQUISITION else []
        stages.append(
            StageNumbers(
                stage=stage, title=title, definition=definition, metrics=metrics, breakdown=extra
            )
        )
    return Board(
        kind=query.kind, period=query.period, compare_to=query.period.previous(), stages=stages
    )


def run_board(
    engine: Engine,
    *,
    workspace_id: str,
    query: BoardQuery,
    person_map: Sequence[tuple[str, str]] = (),
) -> Board:
    """The board for ``query`` with previous-period values."""

    def counts(period: Period) -> tuple[Counts, list[Breakdown]]:
        sql = to_sql(query, period, engine.dialect)
        return counts_of(
            engine.run(workspace_id=workspace_id, sql=sql, person_map=person_map).to_pylist()
        )

    return board_of(query, counts(query.period), counts(query.period.previous()))

"""Build the demo brand through the real collect path: parse, ingest, flush, compact.

Nothing is bypassed: every message goes through :func:`normalize.parse_batch` and
:func:`pipeline.ingest_events` (dedupe, identity, profiles, durable inbox), one
transaction per chunk, exactly as an SDK batch would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from siyu import pipeline
from siyu.collect import normalize
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from siyu.demo import activities_seed, assistant_seed, content_seed, groups_seed, owner, ugc_seed
from siyu.demo import journeys as demo_journeys
from siyu.demo import loyalty as demo_loyalty
from siyu.demo.brand import WORKSPACE_NAME, Brand, draw_brand
from siyu.demo.messages import Renderer, people_of
from siyu.workspaces import service as workspaces

CHUNK_MESSAGES = 5_000
# The share of the history that flows with the loyalty programme on (the latest part). Loyalty
# is applied per batch (siyu.loyalty.tier_bulk), so the whole history can: members reach every
# tier from their own orders.
LOYALTY_SHARE = 1.0
LOYALTY_MIN_MESSAGES = 2_000  # … but at least these, so a small demo has members too
KEYS_FILE = "demo-keys.json"


class DemoKeys(BaseModel):
    """The demo workspace's keys, kept in ``data_dir/demo-keys.json`` (mode 600)."""

    workspace_id: str
    write_key: str
    secret_key: str = Field(description="Shown once by the API; kept here for the demo.")
    users: int
    seed: int
    complete: bool = Field(default=False, description="Whether the last build finished.")
    sample_member_id: str | None = Field(default=None, description="A customer to look at.")
    owner_email: str = Field(default=owner.OWNER_EMAIL, description="The console login.")
    owner_password: str | None = Field(
        default=None, exclude=True, description="Set when just made or changed; never stored."
    )


class DemoReport(BaseModel):
    """What a build did and how fast."""

    customers: int
    events: int = Field(description="Messages sent through the pipeline.")
    accepted: int
    rejected: int
    orders: int
    gmv_fen: int
    stored_events: int = Field(description="Rows in the event store after compaction.")
    ingest_seconds: float
    total_seconds: float
    events_per_second: float = Field(description="Messages ingested per second of ingest.")
    sample_member_id: str | None
    loyalty: demo_loyalty.LoyaltyReport | None = Field(
        default=None, description="Members, tiers, referrals, coupons, mall and live codes made."
    )
    loyalty_seconds: float = Field(default=0.0, description="Time in the loyalty stages.")


def keys_path(data_dir: Path) -> Path:
    """Where the demo keeps its workspace keys."""
    return data_dir / KEYS_FILE


def load_keys(path: Path) -> DemoKeys | None:
    """The saved keys, or None when there are none (or they are unreadable)."""
    try:
        return DemoKeys.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def save_keys(path: Path, keys: DemoKeys) -> None:
    """Write the keys readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keys.model_dump_json(indent=2))


def _exists(runtime: Runtime, workspace_id: str) -> bool:
    with runtime.sessions() as session:
        try:
            workspaces.get_workspace(session=session, workspace_id=workspace_id)
        except NotFoundError:
            return False
    return True


def prepare_workspace(
    runtime: Runtime,
    *,
    users: int,
    seed: int,
    rebuild: bool,
    now: datetime,
    owner_password: str | None = None,
) -> tuple[DemoKeys, bool]:
    """The demo workspace's keys, and whether its data still has to be built.

    A demo already in the data directory is reused (whatever ``users`` and ``seed`` say)
    unless ``rebuild``; an interrupted build is resumed with its own ``users`` and ``seed``
    (message ids are deterministic, so what was committed is skipped). ``rebuild`` starts
    a new workspace; the old one stays, untouched. The workspace's owner user
    (:mod:`siyu.demo.owner`) is made if missing, with ``owner_password`` or a random one,
    returned in ``owner_password`` (not saved).
    """
    path = keys_path(runtime.settings.data_dir)
    keys = load_keys(path)
    if keys is not None and not rebuild and _exists(runtime, keys.workspace_id):
        return _with_owner(runtime, keys, owner_password, now), not keys.complete
    with runtime.sessions() as session, session.begin():
        created = workspaces.create_workspace(
            session=session, name=WORKSPACE_NAME, now=now, timezone=runtime.settings.timezone
        )
    keys = DemoKeys(**created.model_dump(), users=users, seed=seed)
    save_keys(path, keys)
    return _with_owner(runtime, keys, owner_password, now), True


def _with_owner(runtime: Runtime, keys: DemoKeys, password: str | None, now: datetime) -> DemoKeys:
    made = owner.ensure_owner(
        runtime, workspace_id=keys.workspace_id, email=keys.owner_email, password=password, now=now
    )
    return keys.model_copy(update={"owner_password": made})


def sample_member(brand: Brand) -> str | None:
    """The member number of a loyal customer with several ids (the one to look at first)."""
    c = brand.customers
    candidates = np.flatnonzero(
        c.member & c.wecom & c.second_device & (c.clerk < 0) & (c.tablet < 0)
    )
    if len(candidates) == 0:
        return None
    best = int(candidates[np.argmax(c.orders[candidates])])
    return people_of(brand).member_id[best]


def ingest_brand(
    runtime: Runtime,
    *,
    workspace_id: str,
    brand: Brand,
    now: datetime,
    on_chunk: Callable[[int], None] | None = None,
    loyalty_from: int | None = None,
) -> tuple[int, int]:
    """Send every message of ``brand`` through parse → ingest; returns (accepted, rejected).

    From message ``loyalty_from`` on, the workspace has its loyalty programme (configured just
    before), so those identifies enrol members and those orders earn points and growth in the
    flow; earlier history is ingested before the programme existed.
    """
    accepted = rejected = 0
    seen = 0
    for chunk in Renderer(brand).chunks(CHUNK_MESSAGES):
        parts = [chunk]
        if loyalty_from is not None and seen <= loyalty_from < seen + len(chunk):
            cut = loyalty_from - seen
            parts = [chunk[:cut], chunk[cut:]]
        for n, messages in enumerate(parts):
            if len(parts) == 2 and n == 1:
                demo_loyalty.configure(runtime, workspace_id=workspace_id, now=now)
            if not messages:
                continue
            events, rejections = normalize.parse_batch(
                messages, vault=runtime.vault, received_at=now
            )
            with runtime.sessions() as session, session.begin():
                accepted += pipeline.ingest_events(
                    session=session, workspace_id=workspace_id, events=events, now=now
                )
            rejected += len(rejections)
        seen += len(chunk)
        if on_chunk is not None:
            on_chunk(len(chunk))
    return accepted, rejected


def build_demo(
    runtime: Runtime,
    *,
    workspace_id: str,
    users: int,
    seed: int,
    now: datetime,
    on_chunk: Callable[[int], None] | None = None,
    on_stage: Callable[[str, int | None], None] | None = None,
) -> DemoReport:
    """Draw the brand, ingest it, move it to the event store and compact it.

    ``on_stage`` hears each stage's description and size (events, or None when unsized);
    ``on_chunk`` how many messages each committed chunk held.
    """
    started = time.perf_counter()
    brand = draw_brand(users=users, seed=seed, now=now)
    stats = brand.stats()
    if on_stage is not None:
        on_stage(f"ingesting {users:,} customers' events", stats["events"])
    ingest_started = time.perf_counter()
    accepted, rejected = ingest_brand(
        runtime,
        workspace_id=workspace_id,
        brand=brand,
        now=now,
        on_chunk=on_chunk,
        loyalty_from=max(
            0,
            min(
                int(stats["events"] * (1 - LOYALTY_SHARE)),
                stats["events"] - LOYALTY_MIN_MESSAGES,
            ),
        ),
    )
    demo_loyalty.configure(runtime, workspace_id=workspace_id, now=now)  # if not yet
    ingest_seconds = time.perf_counter() - ingest_started
    if on_stage is not None:
        on_stage("moving events to the event store, compacting", None)
    pipeline.flush(runtime=runtime)
    if on_stage is not None:
        on_stage("referrals, live codes, coupons, points mall, expiry", None)
    loyalty_started = time.perf_counter()
    made = demo_loyalty.settle(runtime, workspace_id=workspace_id, now=now)
    loyalty_seconds = time.perf_counter() - loyalty_started
    assistant_seed.seed_assistant(runtime, workspace_id=workspace_id, now=now)
    # Activities before journeys: their attributed orders change who is at risk, and the
    # win-back journey must enter the segment as it will stay.
    activities_seed.seed_activities(runtime, workspace_id=workspace_id, now=now)
    # Customer groups before journeys too: their members' group messages are events.
    groups_seed.seed_groups(runtime, workspace_id=workspace_id, now=now)
    # UGC before journeys too: orders that came through KOCs' posts change who is at risk.
    ugc_seed.seed_ugc(runtime, workspace_id=workspace_id, now=now)
    if on_stage is not None:
        on_stage("journeys: welcome series, repurchase reminder, win-back (A/B + holdout)", None)
    demo_journeys.seed_journeys(runtime, workspace_id=workspace_id, now=now)
    # After the journeys: content clicks add no orders, but they are recent activity.
    content_seed.seed_content(runtime, workspace_id=workspace_id, now=now)
    stored = runtime.events.compact(workspace_id)
    return DemoReport(
        customers=users,
        events=stats["events"],
        accepted=accepted,
        rejected=rejected,
        orders=stats["orders"],
        gmv_fen=stats["gmv_fen"],
        stored_events=stored,
        ingest_seconds=round(ingest_seconds, 2),
        total_seconds=round(time.perf_counter() - started, 2),
        events_per_second=round(stats["events"] / max(ingest_seconds, 1e-9)),
        sample_member_id=sample_member(brand),
        loyalty=made,
        loyalty_seconds=round(loyalty_seconds, 2),
    )

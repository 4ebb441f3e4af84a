"""What an entry point opens once and hands down: settings, stores, the PII vault."""

from __future__ import annotations

import gc
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.config import Settings, get_settings
from siyu.core.crypto import Vault, load_vault
from siyu.core.db import make_engine, make_session_factory, migrate
from siyu.core.eventstore import EventStore, open_event_store


@dataclass
class Runtime:
    """Open stores for one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    events: EventStore
    """``SIYU_EVENTS_URL``: the embedded DuckDB store, or ClickHouse (a server, or chdb)."""
    vault: Vault

    def close(self) -> None:
        """Release database connections and the event store."""
        self.engine.dispose()
        self.events.close()


def open_runtime(settings: Settings | None = None, *, run_migrations: bool = True) -> Runtime:
    """Open the operational store (migrated to head), the event store and the vault."""
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    if run_migrations:
        migrate(engine)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        events=open_event_store(settings.resolved_events_url()),
        vault=load_vault(settings.master_key, settings.data_dir),
    )


def tune_gc_for_ingest() -> None:
    """Fewer, cheaper garbage collections for long-running ingest processes.

    Ingest allocates many short-lived objects per event; with the defaults a full
    collection (which walks every live object, including everything loaded at start-up)
    fires every few batches. Freezing the start-up objects and raising the young-generation
    threshold removed most of that cost in bench.ingest_stages.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)

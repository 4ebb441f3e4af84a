"""Settings read from the environment (prefix ``SIYU_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings; every field can be set as ``SIYU_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SIYU_", extra="ignore")

    data_dir: Path = Field(default=Path(".siyu"), description="Where embedded stores live.")
    database_url: str = Field(
        default="",
        description="Operational store (SQLAlchemy URL). Default: SQLite file in data_dir.",
    )
    events_url: str = Field(
        default="",
        description="Event store. Default: duckdb:// over a directory in data_dir.",
    )
    master_key: str = Field(
        default="",
        description="Base64 key for PII encryption and keyed hashes; default: data_dir/master.key.",
    )
    timezone: str = Field(default="Asia/Shanghai", description="Default workspace zone.")
    max_batch_bytes: int = Field(default=512 * 1024, description="Largest /v1/batch body.")
    max_event_bytes: int = Field(default=32 * 1024, description="Largest single event.")
    flush_interval_seconds: float = Field(default=1.0, description="Inbox → event store period.")
    schedule_interval_seconds: float = Field(
        default=60.0, description="How often the server refreshes due segments and rule tags."
    )
    sdk_test_page: bool = Field(
        default=False, description="Serve /sdk/test.html, a page exercising the web SDK."
    )

    def resolved_database_url(self) -> str:
        """The operational store URL, defaulting to a SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'siyu.sqlite3').resolve()}"

    def resolved_events_url(self) -> str:
        """The event store URL, defaulting to a DuckDB-managed directory under ``data_dir``."""
        if self.events_url:
            return self.events_url
        return f"duckdb:///{(self.data_dir / 'events').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()

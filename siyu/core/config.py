"""Settings read from the environment (prefix ``SIYU_``)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(text: str) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) separated by commas or spaces; ValueError names a bad one."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {part!r}") from None
    return tuple(networks)


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
        description="Event store. Default: duckdb:// over a directory in data_dir; "
        "clickhouse://user:pw@host:port/db for a ClickHouse server, chdb:///dir for "
        "ClickHouse in this process (one process at a time).",
    )
    master_key: str = Field(
        default="",
        description="Master keyring for PII at rest: 'hash:<b64>,k1:<b64>,k2:<b64>' (the last "
        "k encrypts, all decrypt, hash makes lookup hashes) or one base64 key; "
        "default: data_dir/master.key. See docs/privacy.md.",
    )
    trusted_proxies: str = Field(
        default="",
        description="CIDRs of reverse proxies whose X-Forwarded-For / X-Real-IP are believed "
        "(comma-separated, e.g. '10.0.0.0/8,127.0.0.1'); default none: the peer is the client.",
    )
    timezone: str = Field(default="Asia/Shanghai", description="Default workspace zone.")
    max_batch_bytes: int = Field(default=512 * 1024, description="Largest /v1/batch body.")
    max_api_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        description="Largest request body elsewhere than /v1 (imports included); 413 past it.",
    )
    max_event_bytes: int = Field(default=32 * 1024, description="Largest single event.")
    flush_interval_seconds: float = Field(default=1.0, description="Inbox → event store period.")
    write_key_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a process trusts a looked-up write key: a revoked key stops "
        "collecting within this time on every process.",
    )
    schedule_interval_seconds: float = Field(
        default=60.0, description="How often the server refreshes due segments and rule tags."
    )
    public_url: str = Field(
        default="https://siyu.local",
        description="Public address of this server: tracked content links and QR codes use it.",
    )
    sdk_test_page: bool = Field(
        default=False, description="Serve /sdk/test.html, a page exercising the web SDK."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        trusted_networks(value)  # a bad CIDR stops the process at start, naming it
        return value

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """``trusted_proxies`` parsed."""
        return trusted_networks(self.trusted_proxies)

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

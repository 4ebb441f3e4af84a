"""Master-key rotation: find every ciphertext at rest, count them per key, re-encrypt them under
the active key in batches, and retire a key nothing uses any more.

Ciphertext columns are found in the shared metadata, not listed by hand, so a domain that
adds one is covered when it follows the naming rule: a column named ``encrypted``,
``*_enc`` or ``*_encrypted``, or any column declared with ``info={"ciphertext": True}``.
``tests/privacy/test_key_rotation.py`` checks the rule against every ``vault.encrypt`` call.

Re-encryption walks each table once in primary-key order and commits per batch. A row is
rewritten only if its value is still the one read (a concurrent writer wins), and rows
already under the active key are skipped, so a crash or a second run simply continues —
the pass is resumable and idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import Column, Table, and_, bindparam, func, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.crypto import FORMAT, KeyringError, Vault, token_prefix
from siyu.core.errors import ConflictError
from siyu.migrations.registry import metadata

LEGACY = "(no id)"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class CiphertextColumn:
    """One column that holds vault ciphertexts."""

    table: Table
    column: Column[Any]

    @property
    def name(self) -> str:
        """``table.column``."""
        return f"{self.table.name}.{self.column.name}"


@dataclass
class ReencryptReport:
    """What a re-encryption pass did, per ``table.column``."""

    active_id: str
    rewritten: dict[str, int] = field(default_factory=dict)
    skipped_changed: int = 0  # changed by a writer meanwhile, or unreadable (left as is)

    @property
    def total(self) -> int:
        """Ciphertexts rewritten in all."""
        return sum(self.rewritten.values())


def _is_ciphertext(column: Column[Any]) -> bool:
    name = column.name
    return (
        bool(column.info.get("ciphertext"))
        or name == "encrypted"
        or name.endswith(("_enc", "_encrypted"))
    )


def ciphertext_columns() -> list[CiphertextColumn]:
    """Every column of the schema that holds vault ciphertexts, in a stable order."""
    found = [
        CiphertextColumn(table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if _is_ciphertext(column)
    ]
    return sorted(found, key=lambda c: c.name)


def _not_active(target: CiphertextColumn, vault: Vault) -> Any:
    col = target.table.c[target.column.name]
    return and_(col.is_not(None), ~col.startswith(token_prefix(vault.active_id), autoescape=True))


def count_by_key(*, session: Session, vault: Vault) -> dict[str, dict[str, int]]:
    """Per ``table.column``: how many ciphertexts each key id seals (``(no id)``: old form).

    An id in the store that the keyring lacks is counted under its own name too.
    """
    counts: dict[str, dict[str, int]] = {}
    for target in ciphertext_columns():
        col = target.table.c[target.column.name]
        versioned = col.startswith(f"{FORMAT}:", autoescape=True)
        per_key = {
            key_id: _count(
                session, target.table, col.startswith(token_prefix(key_id), autoescape=True)
            )
            for key_id in vault.key_ids
        }
        per_key[LEGACY] = _count(session, target.table, and_(col.is_not(None), ~versioned))
        unknown = _count(session, target.table, versioned) - sum(
            n for k, n in per_key.items() if k != LEGACY
        )
        if unknown:
            per_key["(unknown id)"] = unknown
        counts[target.name] = {k: n for k, n in per_key.items() if n}
    return counts


def _count(session: Session, table: Table, condition: Any) -> int:
    return int(
        session.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
    )


def pending(*, session: Session, vault: Vault) -> int:
    """Ciphertexts not yet under the active key, in every column."""
    return sum(_count(session, t.table, _not_active(t, vault)) for t in ciphertext_columns())


def _rewrite_batch(
    session: Session,
    target: CiphertextColumn,
    vault: Vault,
    size: int,
    after: tuple[Any, ...] | None,
) -> tuple[list[Any], int]:
    """Rewrite up to ``size`` rows past ``after``: (the rows read, how many were rewritten)."""
    pk = list(target.table.primary_key.columns)
    col = target.table.c[target.column.name]
    query = select(*pk, col).where(_not_active(target, vault)).order_by(*pk).limit(size)
    if after is not None:
        query = query.where(tuple_(*pk) > tuple_(*after))
    rows = list(session.execute(query).all())
    statement = (
        update(target.table)
        .where(*(c == bindparam(f"pk_{i}") for i, c in enumerate(pk)))
        .where(col == bindparam("old_token"))
        .values({col.name: bindparam("new_token")})
    )
    done = 0
    for row in rows:
        new_token = _reencrypted(vault, row[-1])
        if new_token is None:
            continue  # unreadable: left as it is, and counted as not rewritten
        params = {f"pk_{i}": row[i] for i in range(len(pk))}
        params |= {"old_token": row[-1], "new_token": new_token}
        done += session.execute(statement, params).rowcount  # type: ignore[attr-defined]
    return rows, done


def _reencrypted(vault: Vault, token: str) -> str | None:
    # A value no key opens (not a ciphertext at all, or under a key that is gone) must not
    # stop the sweep; it stays, blocks retiring (it has no usable id) and is reported.
    try:
        return vault.reencrypt(token)
    except (KeyringError, InvalidTag, ValueError):
        return None


def _rewrite_column(
    sessions: sessionmaker[Session],
    target: CiphertextColumn,
    vault: Vault,
    batch_size: int,
    progress: Progress,
) -> tuple[int, int]:
    width = len(target.table.primary_key.columns)
    rewritten = changed = 0
    after: tuple[Any, ...] | None = None
    while True:
        with sessions() as session, session.begin():  # one transaction per batch
            rows, done = _rewrite_batch(session, target, vault, batch_size, after)
        if not rows:
            return rewritten, changed
        rewritten += done
        changed += len(rows) - done
        after = tuple(rows[-1][:width])
        progress(len(rows))


def reencrypt_all(
    *,
    sessions: sessionmaker[Session],
    vault: Vault,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> ReencryptReport:
    """Seal every ciphertext not under the active key again under it (resumable, idempotent).

    Args:
        sessions: the operational store.
        vault: a keyring holding every key the store's ciphertexts name.
        batch_size: rows per transaction.
        progress: called with the number of rows handled after each batch.
    """
    report = ReencryptReport(active_id=vault.active_id)
    for target in ciphertext_columns():
        done, changed = _rewrite_column(
            sessions, target, vault, batch_size, progress or (lambda _n: None)
        )
        report.rewritten[target.name] = done
        report.skipped_changed += changed
    return report


def check_retirable(*, session: Session, vault: Vault, key_id: str) -> None:
    """ConflictError while any ciphertext is sealed by ``key_id`` or has no key id."""
    counts = count_by_key(session=session, vault=vault)
    using = {name: per[k] for name, per in counts.items() for k in (key_id, LEGACY) if per.get(k)}
    if using:
        where = ", ".join(f"{name}: {n}" for name, n in sorted(using.items()))
        raise ConflictError(
            f"master key {key_id} may still seal {sum(using.values())} ciphertexts ({where}); "
            "run `siyu keys reencrypt-master` first",
            field="key_id",
        )

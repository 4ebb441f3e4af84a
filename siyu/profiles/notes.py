"""Notes (画像补白) operators attach to a person: what no event says ("prefers calls after 6pm")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from siyu.core.errors import NotFoundError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.profiles.tag_models import Note
from siyu.profiles.tag_tables import person_notes


def add_note(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    text: str,
    now: datetime,
    author: str | None = None,
) -> Note:
    """Attach a note to a person (its survivor, if it was merged).

    Raises:
        NotFoundError: no such person.
    """
    survivor = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    note_id = new_id("note")
    session.execute(
        insert(person_notes).values(
            id=note_id,
            workspace_id=workspace_id,
            person_id=survivor,
            body=text.strip(),
            author=author,
            created_at=now,
            updated_at=now,
        )
    )
    return Note(
        id=note_id,
        person_id=survivor,
        text=text.strip(),
        author=author,
        created_at=now,
        updated_at=now,
    )


def notes_of(*, session: Session, workspace_id: str, person_id: str) -> list[Note]:
    """Notes on a person and on every person it absorbed, newest first."""
    members = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    n = person_notes.c
    rows = session.execute(
        select(person_notes)
        .where(n.workspace_id == workspace_id, n.person_id.in_(members))
        .order_by(n.created_at.desc(), n.id.desc())
    )
    return [Note.model_validate({**row._mapping, "text": row.body}) for row in rows]


def delete_note(*, session: Session, workspace_id: str, note_id: str) -> None:
    """Remove a note.

    Raises:
        NotFoundError: no such note.
    """
    n = person_notes.c
    deleted = session.execute(
        delete(person_notes).where(n.workspace_id == workspace_id, n.id == note_id)
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no note {note_id}", field="note_id")

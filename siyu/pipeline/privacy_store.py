"""The operational store as erasure and export see it: every table that holds rows about a
person, how they point at the person, and what an erasure does to them.

Why one declarative plan here instead of an ``erase`` in every domain service: a data-subject
request must reach every table at once, in one transaction, and a test
(tests/privacy/test_plan.py) checks that every table of the metadata with a person-like
column is in this plan — a new table cannot silently escape erasure.

Two actions:

* ``delete`` — rows about the person go (profiles, tags, notes, consent, messages…);
* ``anonymise`` — money-like rows stay, detached from the person: the person id becomes a
  fresh ``anon_…`` id per erased person id (one per account, so the points ledger still
  replays to the stored balances and ``siyu loyalty verify`` stays clean), and the person id
  inside idempotency keys is replaced the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table, Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from siyu.activities import tables as activities_tables
from siyu.assistant import tables as assistant_tables
from siyu.channels import tables as channels_tables
from siyu.channels import wechat_tables
from siyu.community import tables as community_tables
from siyu.identity import tables as identity_tables
from siyu.journeys import tables as journeys_tables
from siyu.loyalty import coupon_tables, points_tables, tier_tables
from siyu.pipeline import privacy_inbox
from siyu.pipeline.privacy_inbox import Subject
from siyu.profiles import tables as profiles_tables
from siyu.profiles import tag_tables
from siyu.referral import tables as referral_tables
from siyu.segments import layer_tables
from siyu.segments import tables as segments_tables
from siyu.ugc import tables as ugc_tables

Action = Literal["delete", "anonymise"]


@dataclass(frozen=True)
class PersonRows:
    """Rows of ``table`` about a person: those whose ``columns`` hold one of its ids."""

    table: Table
    columns: tuple[str, ...]
    action: Action = "delete"
    by_external_userid: str | None = None  # also rows whose column holds its WeCom id
    keys_with_person: tuple[str, ...] = ()  # idempotency keys that embed the person id


_id = identity_tables
_ch = channels_tables
_wc = wechat_tables
_ref = referral_tables
_pts = points_tables
_tier = tier_tables

PLAN: tuple[PersonRows, ...] = (
    # identity (identifiers and links are handled by key, see erase_identity)
    PersonRows(_id.identity_persons, ("id", "survivor_id")),
    PersonRows(_id.identity_merges, ("survivor_id", "absorbed_id")),
    PersonRows(_id.identity_conflicts, ("person_id", "other_person_id")),
    # profiles, tags, notes
    PersonRows(profiles_tables.profiles, ("person_id",)),
    PersonRows(profiles_tables.profile_traits, ("person_id",)),
    PersonRows(profiles_tables.profile_event_counts, ("person_id",)),
    PersonRows(tag_tables.person_tags, ("person_id",)),
    PersonRows(tag_tables.tag_history, ("person_id",)),
    PersonRows(tag_tables.person_notes, ("person_id",)),
    # segments and layers
    PersonRows(segments_tables.segment_members, ("person_id",)),
    PersonRows(segments_tables.segment_changes, ("person_id",)),
    PersonRows(layer_tables.rfm_scores, ("person_id",)),
    PersonRows(layer_tables.lifecycle_states, ("person_id",)),
    PersonRows(layer_tables.lifecycle_transitions, ("person_id",)),
    # journeys (their per-state events go with the states, see _erase_journey_events)
    PersonRows(journeys_tables.journey_states, ("person_id",)),
    # channels
    PersonRows(_ch.channel_messages, ("person_id",)),
    PersonRows(_ch.channel_consents, ("person_id",)),
    PersonRows(_ch.channel_consent_history, ("person_id",)),
    PersonRows(_ch.mp_subscriptions, ("person_id",)),
    PersonRows(_ch.mp_subscription_grants, ("person_id",)),
    PersonRows(_wc.wecom_tasks, ("person_id",), by_external_userid="target"),
    PersonRows(_wc.wecom_contacts, (), by_external_userid="external_userid"),
    PersonRows(_wc.wecom_follows, (), by_external_userid="external_userid"),
    PersonRows(_wc.wecom_contact_history, (), by_external_userid="external_userid"),
    # referral
    PersonRows(_ref.customer_owners, ("person_id",)),
    PersonRows(_ref.live_code_scans, ("person_id",)),
    PersonRows(_ref.referral_codes, ("person_id",)),
    PersonRows(_ref.referrals, ("invitee_id",)),
    PersonRows(_ref.referrals, ("inviter_id",), "anonymise"),  # the invitee's tree stays
    PersonRows(_ref.referral_refusals, ("inviter_id", "invitee_id")),
    PersonRows(
        _ref.referral_rewards,
        ("person_id", "invitee_id"),
        "anonymise",
        keys_with_person=("idempotency_key",),
    ),
    # activities: entries, quotas and teams' members go; prizes paid out stay anonymised
    PersonRows(activities_tables.activity_entries, ("person_id",)),
    PersonRows(activities_tables.activity_members, ("person_id",)),
    PersonRows(activities_tables.activity_quotas, ("person_id",)),
    PersonRows(activities_tables.activity_refusals, ("person_id",)),
    PersonRows(activities_tables.activity_teams, ("leader_id",), "anonymise"),
    PersonRows(
        activities_tables.activity_rewards,
        ("person_id",),
        "anonymise",
        keys_with_person=("idempotency_key",),
    ),
    # community assistant: a group member is a WeCom external_userid
    PersonRows(assistant_tables.assistant_optouts, (), by_external_userid="member_id"),
    # community: memberships, activity (the assistant's group messages and joins included),
    # scans and moderation of a customer go
    PersonRows(community_tables.community_members, ("person_id",), by_external_userid="member_id"),
    PersonRows(community_tables.community_activity, ("person_id",), by_external_userid="member_id"),
    PersonRows(community_tables.community_live_code_scans, ("person_id",)),
    PersonRows(community_tables.community_flags, (), by_external_userid="member_id"),
    PersonRows(community_tables.community_spammers, ("person_id",), by_external_userid="member_id"),
    PersonRows(community_tables.community_tasks, (), by_external_userid="member_id"),
    # UGC: the person's own posts and reviews go (their metric reports hold counts only)
    PersonRows(ugc_tables.ugc_posts, ("person_id",)),
    # loyalty: membership and counters go; points, coupons and fees stay anonymised
    PersonRows(_tier.members, ("person_id",)),
    PersonRows(_tier.member_growth, ("person_id",)),
    PersonRows(_tier.member_tier_history, ("person_id",)),
    PersonRows(_tier.paid_memberships, ("person_id",), "anonymise"),
    PersonRows(coupon_tables.coupon_holdings, ("person_id",)),
    PersonRows(coupon_tables.coupons, ("person_id",), "anonymise"),
    PersonRows(_pts.points_checkins, ("person_id",)),
    PersonRows(_pts.points_accounts, ("person_id",), "anonymise"),
    PersonRows(
        _pts.points_entries,
        ("person_id", "contra_account"),
        "anonymise",
        keys_with_person=("idempotency_key", "source"),
    ),
    PersonRows(_pts.points_lots, ("person_id",), "anonymise"),
    PersonRows(
        _pts.mall_redemptions, ("person_id",), "anonymise", keys_with_person=("idempotency_key",)
    ),
)

# Tables the plan covers in their own way (identity by key; journey events by state; the
# idempotency cache and the inbox by content).
HANDLED_APART = frozenset(
    {
        "identity_identifiers",
        "identity_links",
        "identity_blocks",
        "identity_block_members",
        "journey_events",
        "loyalty_request_keys",
        "event_inbox",
    }
)


def _where(rows: PersonRows, subject: Subject) -> ColumnElement[bool]:
    t = rows.table.c
    tests = [t[col].in_(subject.person_ids) for col in rows.columns]
    if rows.by_external_userid and subject.external_userids:
        tests.append(t[rows.by_external_userid].in_(subject.external_userids))
    return (t.workspace_id == subject.workspace_id) & or_(*tests)


def subject_of(*, session: Session, workspace_id: str, person_ids: Sequence[str]) -> Subject:
    """The subject: these persons and the identifiers they hold or introduced."""
    t = _id.identity_identifiers.c
    rows = session.execute(
        select(t.id_type, t.key).where(
            t.workspace_id == workspace_id,
            or_(t.person_id.in_(list(person_ids)), t.origin_person_id.in_(list(person_ids))),
        )
    ).all()
    return Subject(workspace_id, tuple(person_ids), tuple((r.id_type, r.key) for r in rows))


# -- export ---------------------------------------------------------------------------------


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items() if not isinstance(v, bytes | bytearray)}


def export_rows(*, session: Session, subject: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every row about the subject in the operational store, per table."""
    found: dict[str, list[dict[str, Any]]] = {}
    for rows in PLAN:
        if not rows.columns and not subject.external_userids:
            continue
        result = session.execute(select(rows.table).where(_where(rows, subject))).mappings()
        found.setdefault(rows.table.name, []).extend(_plain(r) for r in result)
    found["journey_events"] = [
        _plain(r) for r in session.execute(_journey_events_query(subject)).mappings()
    ]
    found["identity_links"] = [_plain(r) for r in session.execute(_links_query(subject)).mappings()]
    return {name: rows for name, rows in found.items() if rows}


def _journey_events_query(subject: Subject) -> Any:
    states = journeys_tables.journey_states.c
    events = journeys_tables.journey_events
    mine = select(states.id).where(
        states.workspace_id == subject.workspace_id, states.person_id.in_(subject.person_ids)
    )
    return select(events).where(
        events.c.workspace_id == subject.workspace_id, events.c.state_id.in_(mine)
    )


def _links_query(subject: Subject) -> Any:
    t = _id.identity_links.c
    if not subject.id_keys:
        return select(_id.identity_links).where(t.seq < 0)
    likes = [t.identifiers.contains(json.dumps(key)) for _, key in subject.id_keys]
    return select(_id.identity_links).where(t.workspace_id == subject.workspace_id, or_(*likes))


# -- erasure --------------------------------------------------------------------------------


def erase_rows(*, session: Session, subject: Subject, anon: Mapping[str, str]) -> dict[str, int]:
    """Delete or anonymise every row about the subject; rows touched per ``store.table``.

    ``anon`` maps each person id to the anonymous id its money-like rows get.
    """
    counts: dict[str, int] = {}
    counts["operational.journey_events"] = _erase_journey_events(session, subject)
    for rows in PLAN:
        if not rows.columns and not subject.external_userids:
            continue
        name = f"operational.{rows.table.name}"
        done = (
            _delete(session, rows, subject)
            if rows.action == "delete"
            else _anonymise(session, rows, subject, anon)
        )
        counts[name] = counts.get(name, 0) + done
    counts.update(erase_identity(session=session, subject=subject))
    counts["operational.loyalty_request_keys"] = _erase_request_cache(session, subject)
    counts["operational.event_inbox"] = privacy_inbox.scrub_inbox(session=session, subject=subject)
    return {name: n for name, n in counts.items() if n}


def _rowcount(result: Any) -> int:
    return max(int(result.rowcount or 0), 0)


def _erase_journey_events(session: Session, subject: Subject) -> int:
    states = journeys_tables.journey_states.c
    events = journeys_tables.journey_events
    mine = select(states.id).where(
        states.workspace_id == subject.workspace_id, states.person_id.in_(subject.person_ids)
    )
    return _rowcount(
        session.execute(
            delete(events).where(
                events.c.workspace_id == subject.workspace_id, events.c.state_id.in_(mine)
            )
        )
    )


def _delete(session: Session, rows: PersonRows, subject: Subject) -> int:
    return _rowcount(session.execute(delete(rows.table).where(_where(rows, subject))))


def _anonymise(
    session: Session, rows: PersonRows, subject: Subject, anon: Mapping[str, str]
) -> int:
    t = rows.table.c
    touched = 0
    for person_id, anon_id in anon.items():
        for col in rows.columns:
            changes: dict[str, Any] = {col: anon_id}
            for key_col in rows.keys_with_person:
                changes[key_col] = func.replace(t[key_col], person_id, anon_id)
            touched += _rowcount(
                session.execute(
                    update(rows.table)
                    .where(t.workspace_id == subject.workspace_id, t[col] == person_id)
                    .values(**changes)
                )
            )
    return touched


def erase_identity(*, session: Session, subject: Subject) -> dict[str, int]:
    """Remove the subject's identifiers (hashes and ciphertexts), blocks and links."""
    t = _id.identity_identifiers.c
    ws = subject.workspace_id
    ids = list(subject.person_ids)
    counts = {
        "operational.identity_identifiers": _rowcount(
            session.execute(
                delete(_id.identity_identifiers).where(t.workspace_id == ws, t.person_id.in_(ids))
            )
        )
    }
    # An identifier the person introduced but another person holds now stays with the holder.
    session.execute(
        update(_id.identity_identifiers)
        .where(t.workspace_id == ws, t.origin_person_id.in_(ids))
        .values(origin_person_id=t.person_id)
    )
    counts["operational.identity_blocks"] = _erase_blocks(session, subject)
    counts["operational.identity_links"] = _erase_links(session, subject)
    return counts


def _erase_blocks(session: Session, subject: Subject) -> int:
    blocks = _id.identity_blocks.c
    members = _id.identity_block_members
    mine = select(blocks.id).where(
        blocks.workspace_id == subject.workspace_id,
        or_(
            blocks.person_id.in_(subject.person_ids), blocks.other_person_id.in_(subject.person_ids)
        ),
    )
    keys = [key for _, key in subject.id_keys]
    gone = _rowcount(
        session.execute(
            delete(members).where(
                members.c.workspace_id == subject.workspace_id,
                or_(members.c.block_id.in_(mine), members.c.key.in_(keys)),
            )
        )
    )
    emptied = select(members.c.block_id)
    return gone + _rowcount(
        session.execute(
            delete(_id.identity_blocks).where(
                blocks.workspace_id == subject.workspace_id,
                or_(blocks.id.in_(mine), blocks.id.not_in(emptied)),
            )
        )
    )


def _erase_links(session: Session, subject: Subject) -> int:
    # A link is the replay log of one message's identifiers; other persons' ids in it stay.
    t = _id.identity_links.c
    mine = {key for _, key in subject.id_keys}
    touched = 0
    for row in session.execute(_links_query(subject)).all():
        kept = [pair for pair in json.loads(row.identifiers) if pair[1] not in mine]
        where = (t.workspace_id == row.workspace_id) & (t.seq == row.seq)
        if kept:
            session.execute(
                update(_id.identity_links).where(where).values(identifiers=json.dumps(kept))
            )
        else:
            session.execute(delete(_id.identity_links).where(where))
        touched += 1
    return touched


def _erase_request_cache(session: Session, subject: Subject) -> int:
    # Cached answers of retried loyalty requests may name the person; they are only a cache.
    table = coupon_tables.loyalty_request_keys
    t = table.c
    text = cast(t.result, Text)
    return _rowcount(
        session.execute(
            delete(table).where(
                t.workspace_id == subject.workspace_id,
                or_(*[text.contains(p) for p in subject.person_ids]),
            )
        )
    )


def export_identities(
    *, session: Session, subject: Subject, decrypt: Callable[[str], str]
) -> list[dict[str, Any]]:
    """The subject's identifiers, PII decrypted (the export is for the person themselves)."""
    t = _id.identity_identifiers.c
    rows = session.execute(
        select(_id.identity_identifiers)
        .where(t.workspace_id == subject.workspace_id, t.person_id.in_(subject.person_ids))
        .order_by(t.first_seen)
    ).all()
    return [
        {
            "type": r.id_type,
            "value": decrypt(r.encrypted) if r.encrypted else r.key,
            "person_id": r.person_id,
            "introduced_by": r.origin_person_id,
            "first_seen": r.first_seen,
        }
        for r in rows
    ]

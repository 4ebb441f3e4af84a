"""Verified WeChat callbacks → Segment-spec messages for the collect path (pure functions).

A WeCom contact add becomes an ``identify`` (external_userid, unionid when known, the
owning staff as a trait) and a ``wecom_contact_added`` track whose ``context.campaign``
carries the 联系我 ``state`` (and the channel it maps to), so first-touch attribution works
as for any campaign. Official-account events become ``mp_subscribed`` / ``mp_scan`` /
``mp_unsubscribed`` with the per-appid openid and the QR scene. Message ids are derived from
the event, so WeChat's retries are deduplicated by collect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from siyu.channels.wechat_xml import ContactChange, MpEvent, MpEventType, WecomContactEvent
from siyu.channels.wecom_contacts import event_key
from siyu.channels.wecom_models import ContactChangeResult, ContactRecord
from siyu.collect.models import IdType

WECOM_CONTACT_ADDED = "wecom_contact_added"
WECOM_CONTACT_REMOVED = "wecom_contact_removed"
MP_EVENTS = {
    MpEventType.SUBSCRIBE: "mp_subscribed",
    MpEventType.SCAN: "mp_scan",
    MpEventType.UNSUBSCRIBE: "mp_unsubscribed",
}
_ADDS = frozenset({ContactChange.ADD, ContactChange.ADD_HALF})
_REMOVES = frozenset({ContactChange.DEL_EXTERNAL, ContactChange.DEL_FOLLOW})


def _campaign(medium: str, scene: str | None, channel: str | None) -> dict[str, Any]:
    if not scene:
        return {}
    campaign = {"medium": medium, "content": scene, "name": scene}
    if channel:
        campaign["source"] = channel
    return {"campaign": campaign}


def wecom_contact_messages(
    event: WecomContactEvent, result: ContactChangeResult, *, channel: str | None = None
) -> list[dict[str, Any]]:
    """Identify + track messages for a contact add or removal; none for other changes.

    ``channel`` is the acquisition channel the add's ``state`` maps to (a live code's or QR
    scene's channel), when known.
    """
    contact = result.contact
    ids: list[dict[str, Any]] = [
        {"type": IdType.WECOM_EXTERNAL_USERID.value, "id": event.external_userid}
    ]
    if contact.unionid:
        ids.append({"type": IdType.UNIONID.value, "id": contact.unionid})
    key = f"wecom:{event.corp_id}:{event_key(event)}"
    base = {
        "anonymousId": f"wecom:{event.external_userid}",
        "timestamp": event.at.isoformat(),
    }
    if event.change in _ADDS:
        identify = {
            **base,
            "type": "identify",
            "messageId": f"{key}:identify",
            "traits": {"wecom_owner_userid": contact.owner_userid, "wecom_contact": True},
            "context": {"externalIds": ids},
        }
        track = {
            **base,
            "type": "track",
            "event": WECOM_CONTACT_ADDED,
            "messageId": key,
            "properties": {
                "staff_userid": event.userid,
                "owner_userid": contact.owner_userid,
                "state": event.state,
                "new_contact": result.new_contact,
            },
            "context": {"externalIds": ids, **_campaign("wecom", event.state, channel)},
        }
        return [identify, track]
    if event.change in _REMOVES:
        removed = {
            **base,
            "type": "track",
            "event": WECOM_CONTACT_REMOVED,
            "messageId": key,
            "properties": {
                "staff_userid": event.userid,
                "by": "staff" if event.change is ContactChange.DEL_EXTERNAL else "customer",
                "owner_userid": contact.owner_userid,
                "still_a_contact": contact.active,
            },
            "context": {"externalIds": ids},
        }
        return [removed]
    return []


def mp_event_messages(
    event: MpEvent, *, app_id: str, channel: str | None = None
) -> list[dict[str, Any]]:
    """The track message of an official-account subscribe / scan / unsubscribe."""
    stamp = int(event.at.timestamp())
    ids = [{"type": IdType.WECHAT_OPENID.value, "id": event.openid, "collection": app_id}]
    return [
        {
            "type": "track",
            "event": MP_EVENTS[event.event],
            "messageId": f"mp:{app_id}:{event.openid}:{event.event.value}:{stamp}",
            "anonymousId": f"mp:{app_id}:{event.openid}",
            "timestamp": event.at.isoformat(),
            "properties": {"scene": event.scene, "app_id": app_id},
            "context": {"externalIds": ids, **_campaign("wechat_qr", event.scene, channel)},
        }
    ]


def contact_identify_messages(
    contacts: Sequence[ContactRecord], *, corp_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Identify messages for synced contacts: external_userid + unionid, owner and state.

    Timestamped at the first add (so a contact older than siyu keeps its first touch) and
    keyed by what they say, so re-syncing an unchanged contact ingests nothing new.
    """
    messages = []
    for c in contacts:
        ids: list[dict[str, Any]] = [
            {"type": IdType.WECOM_EXTERNAL_USERID.value, "id": c.external_userid}
        ]
        if c.unionid:
            ids.append({"type": IdType.UNIONID.value, "id": c.unionid})
        key = f"{c.owner_userid}:{c.unionid}:{int(c.active)}"
        messages.append(
            {
                "type": "identify",
                "messageId": f"wecom-sync:{corp_id}:{c.external_userid}:{key}"[:200],
                "anonymousId": f"wecom:{c.external_userid}",
                "timestamp": (c.first_added_at or now).isoformat(),
                "traits": {
                    "wecom_owner_userid": c.owner_userid,
                    "wecom_contact": c.active,
                    "wecom_first_state": c.first_state,
                },
                "context": {"externalIds": ids},
            }
        )
    return messages


def mp_unionid_messages(
    *, app_id: str, openid: str, unionid: str, now: datetime
) -> list[dict[str, Any]]:
    """An identify tying an official-account openid to its unionid (once per pair)."""
    ids = [
        {"type": IdType.WECHAT_OPENID.value, "id": openid, "collection": app_id},
        {"type": IdType.UNIONID.value, "id": unionid},
    ]
    return [
        {
            "type": "identify",
            "messageId": f"mp-unionid:{app_id}:{openid}:{unionid}"[:200],
            "anonymousId": f"mp:{app_id}:{openid}",
            "timestamp": now.isoformat(),
            "context": {"externalIds": ids},
        }
    ]

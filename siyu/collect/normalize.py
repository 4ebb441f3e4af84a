"""Turn one raw Segment-spec message into a :class:`CollectedEvent`, or say exactly why not.

Pure: no session, no clock. ``received_at`` is passed in and PII is hashed and encrypted
with the :class:`~siyu.core.crypto.Vault` passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from siyu.collect.models import (
    PII_TYPES,
    CollectedEvent,
    Identifier,
    IdType,
    MessageType,
    Rejection,
)
from siyu.core.crypto import Vault, mask

MAX_ID_LENGTH = 200

# Trait names (identify calls, member imports) that carry an identifier, and its type.
TRAIT_IDS: dict[str, IdType] = {
    "phone": IdType.PHONE,
    "mobile": IdType.PHONE,
    "email": IdType.EMAIL,
    "member_id": IdType.MEMBER_ID,
    "memberId": IdType.MEMBER_ID,
    "unionid": IdType.UNIONID,
    "unionId": IdType.UNIONID,
    "wecom_external_userid": IdType.WECOM_EXTERNAL_USERID,
    "external_userid": IdType.WECOM_EXTERNAL_USERID,
    "douyin_openid": IdType.DOUYIN_OPENID,
    "taobao_buyer_id": IdType.TAOBAO_BUYER_ID,
    "jd_buyer_id": IdType.JD_BUYER_ID,
}

# Types whose value is only unique within one WeChat appid: externalIds must name it in
# ``collection``; the key becomes ``appid:openid``.
PER_APP_TYPES = frozenset({IdType.WECHAT_OPENID, IdType.MP_OPENID})

_ID_TYPES: dict[str, IdType] = {t.value: t for t in IdType}

_PHONE_JUNK = re.compile(r"[\s\-()]")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class FieldError(ValueError):
    """A message failed validation at ``field`` (a dotted path)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def normalize_phone(raw: str) -> str:
    """Digits of a mobile number; mainland numbers lose +86 / 0086 (``13800138000``)."""
    digits = _PHONE_JUNK.sub("", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if _CN_MOBILE.match(digits):
        return digits
    plain = digits.removeprefix("+")
    if plain.isdigit() and 7 <= len(plain) <= 15:
        return "+" + plain
    raise ValueError("not a phone number")


def _normalize_value(kind: IdType, raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError("must be a string")
    value = str(raw).strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"longer than {MAX_ID_LENGTH} characters")
    if kind is IdType.PHONE:
        return normalize_phone(value)
    if kind is IdType.EMAIL:
        value = value.lower()
        if not _EMAIL.match(value):
            raise ValueError("not an email address")
    return value


def make_identifier(vault: Vault, kind: IdType, raw: object, field: str) -> Identifier:
    """A normalised identifier; phone and email are stored as keyed hash + ciphertext."""
    try:
        value = _normalize_value(kind, raw)
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None
    if kind in PII_TYPES:
        return Identifier(
            type=kind,
            key=vault.lookup_hash(kind.value, value),
            masked=mask(kind.value, value),
            encrypted=vault.encrypt(value),
        )
    return Identifier(type=kind, key=value)


def parse_time(raw: object, field: str) -> datetime | None:
    """An ISO-8601 string (or epoch milliseconds) as aware UTC; None if absent."""
    if raw is None or raw == "":
        return None
    try:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return datetime.fromtimestamp(raw / 1000, tz=UTC)
        if isinstance(raw, str):
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise FieldError(field, "not an ISO-8601 time")


def event_time(
    message: dict[str, Any], batch_sent_at: datetime | None, received_at: datetime
) -> tuple[datetime, datetime | None]:
    """When the event happened, corrected for client clock skew as the Segment spec does.

    With a client ``sentAt``: ``timestamp = receivedAt − (sentAt − originalTimestamp)``
    (the client clock's error cancels out). Without it, the given timestamp is trusted
    (historical imports); without any time, ``receivedAt``.
    """
    sent_at = parse_time(message.get("sentAt"), "sentAt") or batch_sent_at
    original = parse_time(message.get("originalTimestamp"), "originalTimestamp")
    stamped = parse_time(message.get("timestamp"), "timestamp")
    client_time = original or stamped
    if client_time is None:
        return received_at, sent_at
    if sent_at is not None:
        return received_at - (sent_at - client_time), sent_at
    return client_time, sent_at


def _external_ids(vault: Vault, context: dict[str, Any]) -> list[Identifier]:
    raw = context.get("externalIds")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise FieldError("context.externalIds", "must be a list")
    found = []
    for i, item in enumerate(raw):
        where = f"context.externalIds[{i}]"
        if not isinstance(item, dict):
            raise FieldError(where, "must be an object with id and type")
        kind = _ID_TYPES.get(item.get("type"))  # type: ignore[arg-type]
        if kind is None:
            allowed = ", ".join(t.value for t in IdType)
            raise FieldError(f"{where}.type", f"unknown id type; one of {allowed}")
        value = item.get("id")
        if kind in PER_APP_TYPES:
            appid = item.get("collection")
            if not isinstance(appid, str) or not appid.strip():
                raise FieldError(f"{where}.collection", f"the appid is required for {kind}")
            value = f"{appid.strip()}:{value}" if isinstance(value, str | int) else value
        found.append(make_identifier(vault, kind, value, f"{where}.id"))
    return found


def collect_identifiers(vault: Vault, message: dict[str, Any]) -> list[Identifier]:
    """Every identifier a message carries: userId, anonymousId, externalIds, id traits."""
    found: list[Identifier] = []
    for field, kind in (
        ("userId", IdType.USER_ID),
        ("anonymousId", IdType.ANONYMOUS_ID),
        ("previousId", IdType.ANONYMOUS_ID),
    ):
        if message.get(field) not in (None, ""):
            found.append(make_identifier(vault, kind, message[field], field))
    context = message.get("context") or {}
    found.extend(_external_ids(vault, context))
    device = context.get("device")
    if isinstance(device, dict) and device.get("id"):
        found.append(make_identifier(vault, IdType.DEVICE_ID, device["id"], "context.device.id"))
    traits = message.get("traits") or context.get("traits") or {}
    if isinstance(traits, dict):
        found.extend(
            make_identifier(vault, TRAIT_IDS[name], traits[name], f"traits.{name}")
            for name in sorted(TRAIT_IDS.keys() & traits.keys())
            if traits[name] not in (None, "")
        )
    return list({(i.type, i.key): i for i in found}.values())


def amount_fen(properties: dict[str, Any]) -> int | None:
    """Order amount in fen from ``revenue_fen``/``total_fen`` or ``revenue``/``total`` (yuan)."""
    for name in ("revenue_fen", "total_fen"):
        value = properties.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    for name in ("revenue", "total"):
        value = properties.get(name)
        if value is None or isinstance(value, bool):
            continue
        try:
            yuan = Decimal(str(value))
        except InvalidOperation:
            raise FieldError(f"properties.{name}", "not a number") from None
        if not yuan.is_finite():
            raise FieldError(f"properties.{name}", "not a finite number")
        return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return None


def _object(message: dict[str, Any], field: str) -> dict[str, Any]:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(field, "must be an object")
    return value


def _text(message: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = message.get(field)
    if value is None or value == "":
        if required:
            raise FieldError(field, "is required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FieldError(field, "must be a string")
    return str(value)[:MAX_ID_LENGTH]


def _acquisition(context: dict[str, Any], properties: dict[str, Any]) -> tuple[str | None, ...]:
    campaign = context.get("campaign")
    campaign = campaign if isinstance(campaign, dict) else {}
    channel = campaign.get("source") or properties.get("utm_source") or properties.get("channel")
    name = campaign.get("name") or properties.get("utm_campaign")
    return (str(channel) if channel else None, str(name) if name else None)


def _name_of(kind: MessageType, message: dict[str, Any]) -> str | None:
    if kind is MessageType.TRACK:
        return _text(message, "event", required=True)
    if kind in (MessageType.PAGE, MessageType.SCREEN):
        return _text(message, "name")
    return None


def parse_message(
    message: object,
    *,
    vault: Vault,
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    forced_type: MessageType | None = None,
) -> CollectedEvent:
    """Validate one message; raises :class:`FieldError` naming the first bad field."""
    if not isinstance(message, dict):
        raise FieldError("", "each message must be a JSON object")
    try:
        kind = forced_type or MessageType(str(message.get("type")))
    except ValueError:
        raise FieldError(
            "type", "must be one of track, identify, page, screen, alias, group"
        ) from None
    message_id = _text(message, "messageId", required=True)
    if not message.get("userId") and not message.get("anonymousId"):
        raise FieldError("userId", "userId or anonymousId is required")
    if kind is MessageType.ALIAS and not message.get("previousId"):
        raise FieldError("previousId", "is required for alias")
    context = _object(message, "context")
    properties = _object(message, "properties")
    traits = _object(message, "traits")
    timestamp, sent_at = event_time(message, batch_sent_at, received_at)
    channel, campaign = _acquisition(context, properties)
    assert message_id is not None
    return CollectedEvent(
        message_id=message_id,
        type=kind,
        event=_name_of(kind, message),
        anonymous_id=_text(message, "anonymousId"),
        user_id=_text(message, "userId"),
        group_id=_text(message, "groupId", required=kind is MessageType.GROUP),
        identifiers=collect_identifiers(vault, message),
        traits=traits,
        properties=properties,
        context=context,
        timestamp=timestamp,
        received_at=received_at,
        sent_at=sent_at,
        channel=channel,
        campaign=campaign,
        revenue_fen=amount_fen(properties),
    )


def parse_batch(
    messages: list[Any],
    *,
    vault: Vault,
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    forced_type: MessageType | None = None,
    prefix: str = "batch[{index}]",
    size_of: Callable[[Any], int] | None = None,
    max_event_bytes: int | None = None,
) -> tuple[list[CollectedEvent], list[Rejection]]:
    """Parse every message; bad ones become rejections and never stop the good ones.

    ``prefix`` names a message in error paths (``{index}`` is its position).
    """
    accepted: list[CollectedEvent] = []
    rejected: list[Rejection] = []
    for index, message in enumerate(messages):
        message_id = message.get("messageId") if isinstance(message, dict) else None
        try:
            if size_of and max_event_bytes and size_of(message) > max_event_bytes:
                raise FieldError("", f"event larger than {max_event_bytes} bytes")
            event = parse_message(
                message,
                vault=vault,
                received_at=received_at,
                batch_sent_at=batch_sent_at,
                forced_type=forced_type,
            )
        except FieldError as exc:
            head = prefix.format(index=index)
            where = head + (f".{exc.field}" if exc.field else "")
            rejected.append(
                Rejection(
                    index=index,
                    message_id=str(message_id) if message_id else None,
                    field=where,
                    reason=exc.reason,
                )
            )
            continue
        accepted.append(event)
    return accepted, rejected

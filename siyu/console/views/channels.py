"""Channels page builders: credential status, caps as form values, held-back reasons,
recent messages, templates and a person's consents."""

from __future__ import annotations

from collections import Counter
from datetime import time
from typing import Any

from siyu.accounts.models import ApiKey, KeyKind
from siyu.channels.models import Channel
from siyu.channels.outbox_models import Consent, ConsentChange, Message, Template
from siyu.channels.restraint import ChannelCaps
from siyu.channels.wechat_accounts import AccountKind, WechatAccount
from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column
from siyu.console.views.people import local_time
from siyu.core.errors import InvalidInputError
from siyu.pipeline.channel_settings import ChannelSettingsView

MASK = "••• "
WECHAT = {kind.value: kind for kind in AccountKind}
CREDENTIALS = ("sms", "email", "webhook", *WECHAT)


def credential_rows(
    settings: list[ChannelSettingsView],
    accounts: dict[AccountKind, WechatAccount | None],
    lang: str,
    zone: str,
) -> list[dict[str, Any]]:
    """One row per credential set: configured or not, its public id, whether a secret is set."""
    stored = {view.channel.value: view for view in settings}
    rows = []
    for name in CREDENTIALS:
        view = stored.get(name)
        account = accounts.get(WECHAT[name]) if name in WECHAT else None
        configured = view is not None or account is not None
        ident = ""
        if view is not None:
            ident = str(view.config.get("access_key_id") or view.config.get("host") or "")
        elif account is not None:
            ident = account.app_id
        updated = view.updated_at if view else account.updated_at if account else None
        rows.append(
            {
                "key": name,
                "channel": translate(lang, f"channels.kind.{name}"),
                "status": translate(
                    lang, "channels.configured" if configured else "channels.unset"
                ),
                "ident": ident or "—",
                "secret": secret_label(configured and (view is None or view.secret_set), lang),
                "updated": local_time(updated, zone) if updated else "—",
            }
        )
    return rows


def secret_label(is_set: bool, lang: str) -> str:
    """A write-only secret as operators see it: ••• set, or not set."""
    if is_set:
        return MASK + translate(lang, "channels.secret_set")
    return translate(lang, "channels.secret_unset")


def cap_value(raw: object, field: str) -> int | None:
    """A cap from a form field: blank is no cap, else a whole number ≥ 0.

    Raises:
        InvalidInputError: not a whole number ≥ 0 (``field`` named).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        number = float(str(raw))
    except ValueError:
        raise InvalidInputError("a cap is a whole number (blank: no cap)", field=field) from None
    if number < 0 or not number.is_integer():
        raise InvalidInputError("a cap is a whole number ≥ 0 (blank: no cap)", field=field)
    return int(number)


def caps_from_form(daily: object, weekly: object, monthly: object) -> ChannelCaps:
    """Caps from the three form fields (blank = no cap)."""
    return ChannelCaps(
        daily=cap_value(daily, "daily"),
        weekly=cap_value(weekly, "weekly"),
        monthly=cap_value(monthly, "monthly"),
    )


def clock_time(raw: str, field: str) -> time:
    """HH:MM from a form field. Raises InvalidInputError naming ``field``."""
    try:
        return time.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInputError("a time of day is HH:MM", field=field) from None


def cap_rows(
    default: ChannelCaps, caps: dict[Channel, ChannelCaps], lang: str
) -> list[dict[str, Any]]:
    """The caps in force per channel (overrides first, then the default for the rest)."""

    def show(value: int | None) -> str:
        return translate(lang, "channels.no_cap") if value is None else str(value)

    rows = []
    for channel in Channel:
        found = caps.get(channel, default)
        rows.append(
            {
                "key": channel.value,
                "channel": channel.value,
                "daily": show(found.daily),
                "weekly": show(found.weekly),
                "monthly": show(found.monthly),
                "source": translate(
                    lang, "channels.override" if channel in caps else "channels.default"
                ),
            }
        )
    return rows


def held_reasons_view(messages: list[Message], lang: str) -> ChartView:
    """Held-back messages by reason (bars, most common first), with the same as a table."""
    counts = Counter(m.reason.value for m in messages if m.reason is not None)
    ordered = counts.most_common()
    options = base_options(lang) | {
        "xAxis": {"type": "category", "data": [reason for reason, _ in ordered]},
        "yAxis": {"type": "value", "name": translate(lang, "journeys.messages")},
        "series": [
            {
                "type": "bar",
                "name": translate(lang, "channels.held"),
                "data": [n for _, n in ordered],
                "label": {"show": True, "position": "top"},
            }
        ],
    }
    return ChartView(
        title=translate(lang, "channels.held_title", n=len(messages)),
        options=options,
        columns=[
            column("reason", translate(lang, "col.reason")),
            column("messages", translate(lang, "journeys.messages"), align="right"),
        ],
        rows=[{"key": reason, "reason": reason, "messages": n} for reason, n in ordered],
        empty_hint=translate(lang, "channels.no_held"),
    )


def message_rows(messages: list[Message], zone: str) -> list[dict[str, Any]]:
    """Recent outbox messages: time, channel, template, source, status and hold reason."""
    return [
        {
            "key": m.id,
            "time": local_time(m.created_at, zone),
            "person": m.person_id,
            "channel": m.channel.value,
            "template": m.template,
            "source": m.source,
            "status": m.status.value,
            "reason": m.reason.value if m.reason else "—",
        }
        for m in messages
    ]


def template_rows(templates: list[Template], zone: str) -> list[dict[str, Any]]:
    """Templates by channel and name, the body cut to one line."""
    return [
        {
            "key": f"{item.channel.value}/{item.name}",
            "channel": item.channel.value,
            "name": item.name,
            "body": item.body if len(item.body) <= 60 else item.body[:59] + "…",
            "provider": item.provider_template_id or "—",
            "updated": local_time(item.updated_at, zone),
        }
        for item in templates
    ]


def consent_rows(
    consents: list[Consent], history: list[ConsentChange], zone: str
) -> list[dict[str, Any]]:
    """Current answers per channel, then every change, newest first."""
    current = [
        {
            "key": f"now:{c.channel.value}",
            "channel": c.channel.value,
            "status": c.status.value,
            "source": c.source,
            "time": local_time(c.updated_at, zone),
            "current": True,
        }
        for c in consents
    ]
    changes = [
        {
            "key": f"{i}:{c.channel.value}",
            "channel": c.channel.value,
            "status": c.status.value,
            "source": c.source,
            "time": local_time(c.at, zone),
            "current": False,
        }
        for i, c in enumerate(sorted(history, key=lambda c: c.at, reverse=True))
    ]
    return current + changes


def key_rows(keys: list[ApiKey], lang: str, zone: str) -> list[dict[str, Any]]:
    """API keys as listed: name, kind, the first characters then a mask, dates, status."""
    return [
        {
            "key": key.id,
            "name": key.name,
            "kind": key.kind.value,
            "hint": key.hint + "•" * 16,
            "created": local_time(key.created_at, zone),
            "rotated": local_time(key.rotated_at, zone) if key.rotated_at else "—",
            "status": translate(
                lang, "channels.key_revoked" if key.revoked_at else "channels.key_live"
            ),
        }
        for key in keys
    ]


def rotatable(keys: list[ApiKey]) -> dict[str, str]:
    """Live secret keys by id, labelled with name and hint (what the rotate menu offers)."""
    return {
        key.id: f"{key.name} ({key.hint}…)"
        for key in keys
        if key.kind is KeyKind.secret and key.revoked_at is None
    }

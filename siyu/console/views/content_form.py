"""The content editor's form ↔ the content domain's shapes: an item's fields and one set of
inputs per channel variant (a variant is sent when any of its inputs is filled).

Pure: the page draws the inputs these name, and the domain's models validate what they
build (a pydantic error names the field, e.g. ``variants.0.sms.text``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from siyu.content.models import (
    VARIANT_CHANNELS,
    Content,
    ContentCreate,
    ContentUpdate,
    EmailVariant,
    MiniProgramVariant,
    OfficialAccountVariant,
    SmsVariant,
    WecomGroupVariant,
    WecomVariant,
)

SEPARATOR = "|"
ITEM_FIELDS = ("title", "body", "url", "media_path", "tags", "status")
LONG_FIELDS = frozenset({"body", "text"})
VARIANT_MODELS: dict[str, type[BaseModel]] = {
    "wecom": WecomVariant,
    "wecom_group": WecomGroupVariant,
    "mp_template": OfficialAccountVariant,
    "miniprogram": MiniProgramVariant,
    "sms": SmsVariant,
    "email": EmailVariant,
}


def variant_fields(channel: str) -> tuple[str, ...]:
    """The inputs of a channel's variant, in the model's order."""
    return tuple(name for name in VARIANT_MODELS[channel].model_fields if name != "channel")


def form_key(channel: str, field: str) -> str:
    """The form's key of a variant input: ``sms.text``."""
    return f"{channel}.{field}"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _optional(value: Any) -> str | None:
    return _text(value) or None


def split_tags(text: Any) -> list[str]:
    """``大促 | 新品`` → ["大促", "新品"] (blanks dropped)."""
    return [part.strip() for part in _text(text).split(SEPARATOR) if part.strip()]


def variants_from_form(values: dict[str, Any]) -> list[dict[str, str]]:
    """Every channel with at least one filled input, as the dict its variant model takes."""
    found = []
    for channel in VARIANT_CHANNELS:
        filled = {
            field: _text(values.get(form_key(channel, field)))
            for field in variant_fields(channel)
            if _text(values.get(form_key(channel, field)))
        }
        if filled:
            found.append({"channel": channel, **filled})
    return found


def _item_values(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": _text(values.get("title")),
        "body": _text(values.get("body")),
        "url": _optional(values.get("url")),
        "media_path": _optional(values.get("media_path")),
        "tags": split_tags(values.get("tags")),
        "status": _text(values.get("status")) or "draft",
        "variants": variants_from_form(values),
    }


def item_from_form(values: dict[str, Any]) -> ContentCreate:
    """A new item from the form (ValidationError names the field)."""
    return ContentCreate.model_validate({"kind": _text(values.get("kind")), **_item_values(values)})


def update_from_form(values: dict[str, Any]) -> ContentUpdate:
    """The whole form as changes (a channel left blank drops its variant)."""
    return ContentUpdate.model_validate(_item_values(values))


def form_values(item: Content) -> dict[str, Any]:
    """What the form shows for a stored item (the inverse of :func:`item_from_form`)."""
    values: dict[str, Any] = {
        "kind": item.kind.value,
        "title": item.title,
        "body": item.body,
        "url": item.url or "",
        "media_path": item.media_path or "",
        "tags": f" {SEPARATOR} ".join(item.tags),
        "status": item.status.value,
    }
    for channel in VARIANT_CHANNELS:
        variant = item.variant(channel)
        for field in variant_fields(channel):
            value = getattr(variant, field, None) if variant is not None else None
            values[form_key(channel, field)] = "" if value is None else str(value)
    return values


def blank_values() -> dict[str, Any]:
    """An empty form (a draft article)."""
    values: dict[str, Any] = dict.fromkeys(ITEM_FIELDS, "")
    values |= {"kind": "article", "status": "draft"}
    for channel in VARIANT_CHANNELS:
        for field in variant_fields(channel):
            values[form_key(channel, field)] = ""
    return values

"""Where a message goes on each channel, picked from the person's identifiers."""

from __future__ import annotations

from dataclasses import dataclass

from siyu.channels.models import Channel, MessageRequest
from siyu.channels.outbox_models import Template
from siyu.collect.models import IdType

ADDRESS_TYPE: dict[Channel, IdType] = {
    Channel.SMS: IdType.PHONE,
    Channel.EMAIL: IdType.EMAIL,
    Channel.MP_TEMPLATE: IdType.WECHAT_OPENID,
    Channel.MINIPROGRAM: IdType.MP_OPENID,
    Channel.WECOM: IdType.WECOM_EXTERNAL_USERID,
}


@dataclass(frozen=True)
class Address:
    """Where a message goes: clear (openid, URL) or encrypted (phone, email)."""

    recipient: str | None = None
    encrypted: str | None = None
    app_id: str | None = None


def pick_address(
    identifiers: dict[tuple[str, str], list[tuple[str, str | None]]],
    person_id: str,
    request: MessageRequest,
    template: Template | None,
) -> Address | None:
    """The address for ``request``: the newest fitting identifier, or None if there is none.

    ``identifiers`` maps (person, id type) to [(key, ciphertext)], newest first. Phone and
    email stay ciphertext (decrypted only by the dispatcher); openids are stored as
    ``appid:openid`` and must match the template's app when it names one; a webhook goes to
    the template's endpoint and a WeCom group to ``params['chat_id']``.
    """
    if request.channel is Channel.WEBHOOK:
        return Address(recipient=template.endpoint) if template and template.endpoint else None
    if request.channel is Channel.WECOM_GROUP:
        chat = request.params.get("chat_id")
        return Address(recipient=chat) if chat else None
    kind = ADDRESS_TYPE[request.channel]
    app_id = template.app_id if template else None
    for key, encrypted in identifiers.get((person_id, kind.value), []):
        if encrypted is not None:
            return Address(encrypted=encrypted)
        if kind in (IdType.WECHAT_OPENID, IdType.MP_OPENID):
            app, _, openid = key.partition(":")
            if openid and (app_id is None or app == app_id):
                return Address(recipient=openid, app_id=app)
            continue
        return Address(recipient=key)
    return None

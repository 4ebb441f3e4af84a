"""The welcome message of a new WeCom contact (欢迎语), sent with the add's WelcomeCode.

WeCom hands a ``WelcomeCode`` in the add callback that is valid for 20 seconds and once; the
text is the workspace's WeCom template named ``welcome`` (placeholders: ``staff_userid``,
``state``). Without such a template nothing is sent.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from siyu.channels import templates
from siyu.channels.models import Channel, SendError
from siyu.channels.wechat_xml import ContactChange, WecomContactEvent
from siyu.channels.wecom import WecomClient

log = logging.getLogger("siyu.channels.wecom")
WELCOME_TEMPLATE = "welcome"


def welcome_text(*, session: Session, workspace_id: str, event: WecomContactEvent) -> str | None:
    """The rendered welcome text for this add, or None (not an add, no code, no template)."""
    if event.change is not ContactChange.ADD or not event.welcome_code:
        return None
    template = templates.find_template(
        session=session, workspace_id=workspace_id, channel=Channel.WECOM, name=WELCOME_TEMPLATE
    )
    if template is None or not template.body:
        return None
    params = {"staff_userid": event.userid, "state": event.state or ""}
    return templates.render(template.body, params)


def send_welcome(*, client: WecomClient, welcome_code: str, text: str) -> bool:
    """Send it; False (logged) when WeCom refuses, e.g. the code expired or was used."""
    try:
        client.send_welcome(welcome_code=welcome_code, text=text)
    except SendError as exc:
        log.warning("welcome message not sent: %s", exc)
        return False
    return True

"""A WeCom (企业微信) customer-contact API client: contacts, 联系我, mass sends, welcome messages.

Every call goes through :class:`~siyu.channels.wechat_api.WechatApi` (token cache, one
refresh on a refused token, error codes mapped to SendError / RetryableSendError). The base
URL is configurable so tests talk to a fake server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from siyu.channels.wechat_api import WechatApi, WechatApiError
from siyu.channels.wecom_models import (
    ContactWay,
    ExternalContact,
    FollowUser,
    MassSend,
    RecipientResult,
    RecipientStatus,
    StaffTask,
    TaskStatus,
)
from siyu.core.clock import utcnow

WECOM_BASE_URL = "https://qyapi.weixin.qq.com"
_EC = "/cgi-bin/externalcontact"
_RECIPIENT = {
    0: RecipientStatus.PENDING,
    1: RecipientStatus.SENT,
    2: RecipientStatus.NOT_FRIEND,
    3: RecipientStatus.LIMITED,
}


def _at(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), tz=UTC) if seconds else None


def _follow(raw: dict[str, Any]) -> FollowUser:
    return FollowUser(
        userid=str(raw["userid"]),
        added_at=_at(raw.get("createtime")),
        state=raw.get("state") or None,
        remark=raw.get("remark") or None,
        add_way=raw.get("add_way"),
    )


def _contact(raw: dict[str, Any], follows: list[dict[str, Any]]) -> ExternalContact:
    return ExternalContact(
        external_userid=str(raw["external_userid"]),
        name=raw.get("name") or None,
        unionid=raw.get("unionid") or None,
        type=raw.get("type"),
        follow_users=[_follow(f) for f in follows],
    )


class WecomClient:
    """One WeCom corp's customer-contact API (the 客户联系 secret or an app allowed to use it)."""

    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        base_url: str = WECOM_BASE_URL,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.corp_id = corp_id
        self.api = WechatApi(
            base_url=base_url,
            auth_path="/cgi-bin/gettoken",
            token_params={"corpid": corp_id, "corpsecret": secret},
            http=http,
            clock=clock,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    # -- contacts --------------------------------------------------------------------------

    def follow_users(self) -> list[str]:
        """Staff userids with the customer-contact feature (get_follow_user_list)."""
        body = self.api.call("GET", f"{_EC}/get_follow_user_list")
        return [str(u) for u in body.get("follow_user", [])]

    def list_contacts(self, *, userid: str) -> list[str]:
        """External userids of one staff member's contacts (externalcontact/list)."""
        try:
            body = self.api.call("GET", f"{_EC}/list", params={"userid": userid})
        except WechatApiError as exc:
            if exc.details.get("errcode") == 84061:  # the staff member has no contacts
                return []
            raise
        return [str(u) for u in body.get("external_userid", [])]

    def get_contact(self, *, external_userid: str) -> ExternalContact:
        """One external contact with every staff member following them (externalcontact/get)."""
        body = self.api.call("GET", f"{_EC}/get", params={"external_userid": external_userid})
        return _contact(body["external_contact"], body.get("follow_user", []))

    def contacts_by_user(
        self, *, userids: Sequence[str], page_size: int = 100
    ) -> Iterator[ExternalContact]:
        """Every contact of the given staff, page by page (batch/get_by_user); a contact
        followed by two of them is yielded once per follow, each with that follow user."""
        cursor = ""
        while True:
            body = self.api.call(
                "POST",
                f"{_EC}/batch/get_by_user",
                json={"userid_list": list(userids), "cursor": cursor, "limit": page_size},
            )
            for item in body.get("external_contact_list", []):
                yield _contact(item["external_contact"], [item["follow_info"]])
            cursor = body.get("next_cursor") or ""
            if not cursor:
                return

    def add_contact_way(
        self, *, state: str, userids: Sequence[str], remark: str = "", skip_verify: bool = True
    ) -> ContactWay:
        """A multi-person 联系我 QR code whose adds carry ``state`` (≤ 30 characters)."""
        body = self.api.call(
            "POST",
            f"{_EC}/add_contact_way",
            json={
                "type": 2 if len(userids) > 1 else 1,
                "scene": 2,
                "state": state,
                "user": list(userids),
                "remark": remark,
                "skip_verify": skip_verify,
            },
        )
        return ContactWay(config_id=body["config_id"], qr_code=body.get("qr_code"), state=state)

    # -- mass sends (staff confirm them in WeCom) -------------------------------------------

    def add_msg_template(
        self,
        *,
        sender: str,
        text: str,
        chat_type: Literal["single", "group"] = "single",
        external_userids: Sequence[str] = (),
        chat_ids: Sequence[str] = (),
        attachments: Sequence[dict[str, Any]] = (),
    ) -> MassSend:
        """Create a mass-send task for ``sender`` (to contacts, or to their groups)."""
        payload: dict[str, Any] = {
            "chat_type": chat_type,
            "sender": sender,
            "text": {"content": text},
        }
        if external_userids:
            payload["external_userid"] = list(external_userids)
        if chat_ids:
            payload["chat_id_list"] = list(chat_ids)
        if attachments:
            payload["attachments"] = list(attachments)
        body = self.api.call("POST", f"{_EC}/add_msg_template", json=payload)
        return MassSend(msgid=str(body["msgid"]), fail_list=list(body.get("fail_list") or []))

    def groupmsg_tasks(self, *, msgid: str) -> list[StaffTask]:
        """Each staff member's status on a mass send (get_groupmsg_task, all pages)."""
        tasks: list[StaffTask] = []
        cursor = ""
        while True:
            body = self.api.call(
                "POST", f"{_EC}/get_groupmsg_task", json={"msgid": msgid, "cursor": cursor}
            )
            tasks.extend(
                StaffTask(
                    userid=str(t["userid"]),
                    status=TaskStatus.SENT if int(t.get("status", 0)) == 2 else TaskStatus.PENDING,
                    sent_at=_at(t.get("send_time")),
                )
                for t in body.get("task_list", [])
            )
            cursor = body.get("next_cursor") or ""
            if not cursor:
                return tasks

    def groupmsg_results(self, *, msgid: str, userid: str) -> list[RecipientResult]:
        """What became of each recipient of ``userid``'s part (get_groupmsg_send_result)."""
        results: list[RecipientResult] = []
        cursor = ""
        while True:
            body = self.api.call(
                "POST",
                f"{_EC}/get_groupmsg_send_result",
                json={"msgid": msgid, "userid": userid, "cursor": cursor},
            )
            results.extend(
                RecipientResult(
                    external_userid=r.get("external_userid") or None,
                    chat_id=r.get("chat_id") or None,
                    userid=str(r.get("userid", userid)),
                    status=_RECIPIENT.get(int(r.get("status", 0)), RecipientStatus.PENDING),
                    sent_at=_at(r.get("send_time")),
                )
                for r in body.get("send_list", [])
            )
            cursor = body.get("next_cursor") or ""
            if not cursor:
                return results

    def remind(self, *, msgid: str) -> None:
        """Notify the staff again (remind_groupmsg_send). WeCom allows 3 per task per 24 h;
        :func:`siyu.channels.wecom_tasks.remind_task` keeps count."""
        self.api.call("POST", f"{_EC}/remind_groupmsg_send", json={"msgid": msgid})

    def send_welcome(self, *, welcome_code: str, text: str) -> None:
        """Send the welcome message of a fresh contact add (the code lives 20 seconds)."""
        self.api.call(
            "POST",
            f"{_EC}/send_welcome_msg",
            json={"welcome_code": welcome_code, "text": {"content": text}},
        )

    def cancel(self, *, msgid: str) -> None:
        """Stop a mass send staff have not confirmed (cancel_groupmsg_send)."""
        self.api.call("POST", f"{_EC}/cancel_groupmsg_send", json={"msgid": msgid})

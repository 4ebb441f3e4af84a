"""Master-key rotation over a seeded store (SQLite and PostgreSQL): after re-encryption every
ciphertext — identifiers, outbox recipients, channel, WeChat and group-robot credentials, one
left in the pre-keyring form — reads back the same under the new key, none names the old key,
the old key can be retired, lookups still find people, and a crashed pass resumes."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String, Text, select, update

from siyu.assistant import groups as assistant_groups
from siyu.assistant.models import AssistantSettings, GroupSet
from siyu.channels import wechat_accounts
from siyu.channels.wechat_accounts import AccountKind, WechatAccountSet
from siyu.core.crypto import Vault, token_key_id, with_new_key, without_key
from siyu.core.errors import ConflictError
from siyu.identity.tables import identity_identifiers
from siyu.migrations.registry import metadata
from siyu.pipeline import key_rotation
from siyu.pipeline.channel_settings import SmsSettings, put_settings
from tests.privacy.conftest import ALICE_PHONE, BOB_PHONE, NOW, Seeded

Cell = tuple[str, tuple[Any, ...]]


def _credentials(seeded: Seeded) -> None:
    rt = seeded.runtime
    with rt.sessions() as s, s.begin():
        put_settings(
            session=s,
            vault=rt.vault,
            workspace_id=seeded.workspace_id,
            now=NOW,
            settings=SmsSettings(provider="aliyun", access_key_id="AK", secret="短信密钥"),
        )
        wechat_accounts.set_account(
            session=s, vault=rt.vault, workspace_id=seeded.workspace_id, kind=AccountKind.WECOM,
            now=NOW, account=WechatAccountSet(app_id="ww1", token="tok123", secret="wx-secret",
                                              encoding_aes_key="a" * 43),
        )  # fmt: skip
        robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="
        assistant_groups.set_settings(
            session=s, workspace_id=seeded.workspace_id, now=NOW, vault=rt.vault,
            settings=AssistantSettings(robot_webhook_url=robot + "default-key"),
        )  # fmt: skip
        assistant_groups.set_group(
            session=s, workspace_id=seeded.workspace_id, chat_id="wr-1", now=NOW, vault=rt.vault,
            group=GroupSet(name="VIP 群", robot_webhook_url=robot + "group-key"),
        )  # fmt: skip


def _legacy_alice(seeded: Seeded) -> None:
    """Alice's phone ciphertext as siyu wrote it before keyrings (no key id)."""
    rt, c = seeded.runtime, identity_identifiers.c
    nonce = os.urandom(12)
    sealed = AESGCM(dict(rt.vault.keys)["k1"]).encrypt(nonce, ALICE_PHONE.encode(), None)
    key = rt.vault.lookup_hash("phone", ALICE_PHONE)
    with rt.sessions() as s, s.begin():
        done = s.execute(update(identity_identifiers).where(c.key == key)
                         .values(encrypted=base64.b64encode(nonce + sealed).decode()))  # fmt: skip
        assert done.rowcount == 1  # type: ignore[attr-defined]


def _plaintexts(seeded: Seeded, vault: Vault) -> dict[Cell, str]:
    found: dict[Cell, str] = {}
    with seeded.runtime.sessions() as s:
        for target in key_rotation.ciphertext_columns():
            pk = list(target.table.primary_key.columns)
            col = target.table.c[target.column.name]
            for row in s.execute(select(*pk, col).where(col.is_not(None))):
                found[(target.name, tuple(row[:-1]))] = vault.decrypt(row[-1])
    return found


def _tokens_anywhere(seeded: Seeded, prefix: str) -> set[str]:
    """Every text column of the schema holding a value that starts with ``prefix``."""
    columns = set()
    with seeded.runtime.sessions() as s:
        for table in metadata.sorted_tables:
            for col in table.columns:
                if (
                    isinstance(col.type, String | Text)
                    and s.execute(
                        select(col).where(col.startswith(prefix, autoescape=True)).limit(1)
                    ).first()
                ):
                    columns.add(f"{table.name}.{col.name}")
    return columns


def test_every_ciphertext_reads_back_under_the_new_key_and_none_uses_the_old(
    seeded: Seeded,
) -> None:
    _credentials(seeded)
    _legacy_alice(seeded)
    old = seeded.runtime.vault
    before = _plaintexts(seeded, old)
    kinds = {name for name, _ in before}
    assert kinds >= {
        "identity_identifiers.encrypted", "channel_messages.recipient_encrypted",
        "channel_settings.secret_enc", "wechat_accounts.token_enc",
        "wechat_accounts.aes_key_enc", "wechat_accounts.secret_enc",
        "assistant_settings.robot_webhook_url", "assistant_groups.robot_webhook_url",
    }  # fmt: skip
    assert {ALICE_PHONE, BOB_PHONE, "短信密钥", "wx-secret", "tok123"} <= set(before.values())
    # Discovery finds every column that holds a ciphertext.
    assert _tokens_anywhere(seeded, "v1:k1:") <= kinds
    with seeded.runtime.sessions() as s:
        assert key_rotation.count_by_key(session=s, vault=old)["identity_identifiers.encrypted"][
            key_rotation.LEGACY] == 1  # fmt: skip

    new = with_new_key(old)
    with seeded.runtime.sessions() as s, pytest.raises(ConflictError, match="k1"):
        key_rotation.check_retirable(session=s, vault=new, key_id="k1")
    report = key_rotation.reencrypt_all(sessions=seeded.runtime.sessions, vault=new, batch_size=2)
    assert report.total == len(before) and report.skipped_changed == 0
    assert set(report.rewritten) == {c.name for c in key_rotation.ciphertext_columns()}

    retired = without_key(new, "k1")
    assert _plaintexts(seeded, retired) == before
    assert _tokens_anywhere(seeded, "v1:k1:") == set()
    with seeded.runtime.sessions() as s:
        counts = key_rotation.count_by_key(session=s, vault=new)
        assert all(set(per) == {"k2"} for per in counts.values()), counts
        key_rotation.check_retirable(session=s, vault=new, key_id="k1")
        # Lookups by keyed hash still find Alice after the rotation.
        assert s.execute(select(identity_identifiers.c.person_id).where(
            identity_identifiers.c.key == retired.lookup_hash("phone", ALICE_PHONE))
        ).scalar_one() in seeded.alice_ids  # fmt: skip
    again = key_rotation.reencrypt_all(sessions=seeded.runtime.sessions, vault=new)
    assert again.total == 0


def test_a_crashed_pass_resumes_where_it_stopped(seeded: Seeded) -> None:
    _credentials(seeded)
    before = _plaintexts(seeded, seeded.runtime.vault)
    new = with_new_key(seeded.runtime.vault)
    batches: list[int] = []

    def crash_after_first_batch(n: int) -> None:
        batches.append(n)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        key_rotation.reencrypt_all(
            sessions=seeded.runtime.sessions, vault=new, batch_size=1,
            progress=crash_after_first_batch,
        )  # fmt: skip
    with seeded.runtime.sessions() as s:
        assert key_rotation.pending(session=s, vault=new) == len(before) - 1  # one committed
    rest = key_rotation.reencrypt_all(sessions=seeded.runtime.sessions, vault=new, batch_size=3)
    assert rest.total == len(before) - 1
    assert _plaintexts(seeded, without_key(new, "k1")) == before
    assert all(token_key_id(new.encrypt(v)) == "k2" for v in before.values())


def test_a_value_no_key_opens_is_left_and_blocks_retiring(seeded: Seeded) -> None:
    rt, c = seeded.runtime, identity_identifiers.c
    key = rt.vault.lookup_hash("phone", BOB_PHONE)
    with rt.sessions() as s, s.begin():
        s.execute(update(identity_identifiers).where(c.key == key).values(encrypted="http://x"))
    new = with_new_key(rt.vault)
    report = key_rotation.reencrypt_all(sessions=rt.sessions, vault=new)
    assert report.skipped_changed == 1 and report.total >= 1
    with rt.sessions() as s:
        with pytest.raises(ConflictError, match=r"identity_identifiers\.encrypted: 1"):
            key_rotation.check_retirable(session=s, vault=new, key_id="k1")
        assert s.execute(select(c.encrypted).where(c.key == key)).scalar_one() == "http://x"

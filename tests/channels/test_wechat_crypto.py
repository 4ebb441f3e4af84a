"""Callback crypto checked against wechatpy, an independent implementation of WXBizMsgCrypt."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto as WechatpyMpCrypto
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyWecomCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException

from siyu.channels.wechat_crypto import CallbackCrypto, check_plain_signature, sha1_signature
from siyu.channels.wechat_xml import parse_xml
from siyu.core.errors import AuthError, InvalidInputError

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP = "wx5823bf96d3bd56c7"


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=CORP)


def test_verify_url_decrypts_an_echostr_made_by_wechatpy(crypto: CallbackCrypto) -> None:
    key = base64.b64decode(AES_KEY + "=")
    echostr = PrpCrypto(key).encrypt("1616140317555161061", CORP).decode()
    signature = _get_signature(TOKEN, "1409659589", "263014780", echostr)
    plain = crypto.verify_url(
        msg_signature=signature, timestamp="1409659589", nonce="263014780", echostr=echostr
    )
    assert plain == "1616140317555161061"


def test_decrypts_a_callback_body_encrypted_by_wechatpy(crypto: CallbackCrypto) -> None:
    inner = "<xml><ToUserName><![CDATA[wx5823]]></ToUserName><Content>你好 客户</Content></xml>"
    body = WechatpyWecomCrypto(TOKEN, AES_KEY, CORP).encrypt_message(inner, "nonce1", "1700000000")
    fields = parse_xml(body)
    plain = crypto.decrypt_xml(
        msg_signature=fields["MsgSignature"],
        timestamp="1700000000",
        nonce="nonce1",
        body=body.encode(),
    )
    assert plain == inner


@pytest.mark.parametrize("size", [0, 1, 11, 12, 43, 44, 1000])
def test_wechatpy_decrypts_our_replies_of_every_padding_length(
    crypto: CallbackCrypto, size: int
) -> None:
    message = "汉" * size  # 3 bytes each: every residue mod 32 over the sizes
    reply = crypto.encrypt_reply(message, timestamp="1700000001", nonce="n2")
    fields = parse_xml(reply)
    out = WechatpyWecomCrypto(TOKEN, AES_KEY, CORP).decrypt_message(
        reply, fields["MsgSignature"], "1700000001", "n2"
    )
    assert out == message


def test_official_account_scheme_round_trips_with_wechatpy() -> None:
    appid = "wx2c2769f8efd9abc2"
    ours = CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=appid)
    body = WechatpyMpCrypto(TOKEN, AES_KEY, appid).encrypt_message("<xml>hi</xml>", "n", "1")
    sig = parse_xml(body)["MsgSignature"]
    assert ours.decrypt_xml(msg_signature=sig, timestamp="1", nonce="n", body=body.encode()) == (
        "<xml>hi</xml>"
    )


def test_bad_signature_is_an_auth_error(crypto: CallbackCrypto) -> None:
    encrypt = crypto.encrypt("x")
    with pytest.raises(AuthError) as caught:
        crypto.decrypt(msg_signature="0" * 40, timestamp="1", nonce="n", encrypt=encrypt)
    assert caught.value.field == "msg_signature"


def test_wrong_receive_id_is_refused_both_ways(crypto: CallbackCrypto) -> None:
    other = CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id="wwOTHERCORP")
    encrypt = other.encrypt("<xml/>")
    sig = sha1_signature(TOKEN, "1", "n", encrypt)
    with pytest.raises(AuthError) as caught:
        crypto.decrypt(msg_signature=sig, timestamp="1", nonce="n", encrypt=encrypt)
    assert caught.value.field == "receive_id"
    key = base64.b64decode(AES_KEY + "=")
    with pytest.raises(InvalidCorpIdException):
        PrpCrypto(key).decrypt(crypto.encrypt("<xml/>"), "wwOTHERCORP")


def test_bad_padding_and_garbage_are_invalid_input(crypto: CallbackCrypto) -> None:
    garbage = base64.b64encode(os.urandom(64)).decode()
    sig = sha1_signature(TOKEN, "1", "n", garbage)
    with pytest.raises((InvalidInputError, AuthError)):
        crypto.decrypt(msg_signature=sig, timestamp="1", nonce="n", encrypt=garbage)
    not_blocks = base64.b64encode(b"x" * 17).decode()
    sig = sha1_signature(TOKEN, "1", "n", not_blocks)
    with pytest.raises(InvalidInputError, match="blocks"):
        crypto.decrypt(msg_signature=sig, timestamp="1", nonce="n", encrypt=not_blocks)
    sig = sha1_signature(TOKEN, "1", "n", "%%%")
    with pytest.raises(InvalidInputError, match="base64"):
        crypto.decrypt(msg_signature=sig, timestamp="1", nonce="n", encrypt="%%%")


def test_padding_byte_out_of_range_is_named() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    raw = enc.update(b"\x00" * 31 + b"\x21") + enc.finalize()  # pad byte 33 > 32
    encrypt = base64.b64encode(raw).decode()
    crypto = CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=CORP)
    with pytest.raises(InvalidInputError, match="padding"):
        crypto.decrypt(
            msg_signature=sha1_signature(TOKEN, "1", "n", encrypt),
            timestamp="1",
            nonce="n",
            encrypt=encrypt,
        )


def test_a_short_aes_key_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        CallbackCrypto(token=TOKEN, encoding_aes_key="abc", receive_id=CORP).encrypt("x")
    assert caught.value.field == "encoding_aes_key"


def test_plain_signature() -> None:
    sig = sha1_signature(TOKEN, "123", "abc")
    check_plain_signature(token=TOKEN, signature=sig, timestamp="123", nonce="abc")
    with pytest.raises(AuthError):
        check_plain_signature(token=TOKEN, signature=sig, timestamp="124", nonce="abc")


@settings(max_examples=60, deadline=None)
@given(
    message=st.text(max_size=300),
    receive_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=32),
)
def test_any_message_round_trips_with_wechatpy(message: str, receive_id: str) -> None:
    ours = CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=receive_id)
    key = base64.b64decode(AES_KEY + "=")
    assert PrpCrypto(key).decrypt(ours.encrypt(message), receive_id) == message
    theirs = PrpCrypto(key).encrypt(message, receive_id).decode()
    sig = sha1_signature(TOKEN, "1", "n", theirs)
    assert ours.decrypt(msg_signature=sig, timestamp="1", nonce="n", encrypt=theirs) == message

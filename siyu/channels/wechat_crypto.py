"""WeChat / WeCom callback crypto (the WXBizMsgCrypt scheme): signatures, AES-CBC, receive id.

``msg_signature`` is the SHA-1 of ``token``, ``timestamp``, ``nonce`` and the ciphertext,
sorted and concatenated. The ciphertext is AES-256-CBC with the key
``base64decode(EncodingAESKey + "=")`` and the IV its first 16 bytes, PKCS#7-padded to
32-byte blocks, over ``16 random bytes + 4-byte big-endian length + message + receive id``
(the corpid for WeCom, the appid for an official account), which must match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from siyu.channels import wechat_xml
from siyu.core.errors import AuthError, InvalidInputError

BLOCK = 32  # WeChat pads to 32-byte blocks, not AES's 16
_AES_KEY_CHARS = 43


def sha1_signature(*parts: str) -> str:
    """SHA-1 hex of the parts sorted and concatenated (WeChat's callback signature)."""
    return hashlib.sha1("".join(sorted(parts)).encode(), usedforsecurity=False).hexdigest()


def check_plain_signature(*, token: str, signature: str, timestamp: str, nonce: str) -> None:
    """Check an official account's plain-mode ``signature`` (token, timestamp, nonce).

    Raises:
        AuthError: the signature does not match.
    """
    if not hmac.compare_digest(sha1_signature(token, timestamp, nonce), signature or ""):
        raise AuthError("signature does not match the token", field="signature")


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey.

    Raises:
        InvalidInputError: the key is not 43 base64 characters.
    """
    if len(encoding_aes_key) != _AES_KEY_CHARS:
        raise InvalidInputError("EncodingAESKey must be 43 characters", field="encoding_aes_key")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise InvalidInputError("EncodingAESKey is not base64", field="encoding_aes_key") from None
    return key


def _pad(data: bytes) -> bytes:
    amount = BLOCK - len(data) % BLOCK
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    amount = data[-1] if data else 0
    if not 1 <= amount <= BLOCK or data[-amount:] != bytes([amount]) * amount:
        raise InvalidInputError("bad PKCS#7 padding after decryption", field="encrypt")
    return data[:-amount]


@dataclass(frozen=True)
class CallbackCrypto:
    """One callback endpoint's crypto: its token, EncodingAESKey and receive id."""

    token: str
    encoding_aes_key: str
    receive_id: str

    @property
    def _key(self) -> bytes:
        return decode_aes_key(self.encoding_aes_key)

    def _cipher(self) -> Cipher[modes.CBC]:
        key = self._key
        return Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def check_signature(self, *, msg_signature: str, timestamp: str, nonce: str, data: str) -> None:
        """Raise AuthError unless ``msg_signature`` signs ``data`` with this token."""
        expected = sha1_signature(self.token, timestamp, nonce, data)
        if not hmac.compare_digest(expected, msg_signature or ""):
            raise AuthError("msg_signature does not match", field="msg_signature")

    def decrypt(self, *, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """The plaintext of a signed ciphertext.

        Raises:
            AuthError: the signature or the receive id does not match.
            InvalidInputError: the ciphertext is not base64, not whole blocks, or badly padded.
        """
        self.check_signature(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, data=encrypt
        )
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except binascii.Error:
            raise InvalidInputError("Encrypt is not base64", field="encrypt") from None
        if not raw or len(raw) % 16:
            raise InvalidInputError("Encrypt is not whole AES blocks", field="encrypt")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(raw) + decryptor.finalize())
        return self._unwrap(plain)

    def _unwrap(self, plain: bytes) -> str:
        if len(plain) < 20:
            raise InvalidInputError("decrypted message too short", field="encrypt")
        (length,) = struct.unpack(">I", plain[16:20])
        body, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(body) != length:
            raise InvalidInputError("decrypted length prefix is wrong", field="encrypt")
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise AuthError("receive id (corpid/appid) does not match", field="receive_id")
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise InvalidInputError("decrypted message is not UTF-8", field="encrypt") from None

    def verify_url(self, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The plaintext of a URL-verification ``echostr`` (what to answer the GET with)."""
        return self.decrypt(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypt=echostr
        )

    def decrypt_xml(self, *, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> str:
        """The decrypted inner XML of a callback POST body ``<xml><Encrypt>…</Encrypt></xml>``."""
        encrypt = wechat_xml.parse_xml(body).get("Encrypt")
        if not encrypt:
            raise InvalidInputError("the body has no Encrypt element", field="Encrypt")
        return self.decrypt(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypt=encrypt
        )

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        """Base64 ciphertext of ``message`` for this receive id."""
        body = message.encode()
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body
        plain += self.receive_id.encode()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def encrypt_reply(self, message: str, *, timestamp: str, nonce: str) -> str:
        """A signed, encrypted passive reply: the XML a callback answers with."""
        encrypt = self.encrypt(message)
        signature = sha1_signature(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

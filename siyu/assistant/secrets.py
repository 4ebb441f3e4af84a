"""Robot webhook URLs at rest: sealed with the workspace vault, masked when read.

A group robot's webhook URL carries its key (``…/webhook/send?key=…``): whoever has it can
post into the group. It is stored as the vault's ciphertext (``v1:<key id>:…``) and shown
only masked (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…5aaa``). A write that
sends back the masked form it read keeps the stored URL. A row written before sealing
(plain ``http(s)://``) is still read, and sealed at its next write.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from siyu.core.crypto import Vault
from siyu.core.errors import InvalidInputError

STORED_MAX = 500  # the column's width
SHOWN_TAIL = 4


def check_url(url: str | None, field: str) -> None:
    """An http(s) URL or None, else InvalidInputError naming ``field``."""
    if url is not None and not url.startswith(("https://", "http://")):
        raise InvalidInputError("webhook URL must be http(s)", field=field)


def is_plain(stored: str) -> bool:
    """A URL stored before sealing."""
    return stored.startswith(("https://", "http://"))


def reveal(vault: Vault, stored: str | None) -> str | None:
    """The URL of a stored value (sealed or, from before sealing, plain)."""
    if stored is None:
        return None
    return stored if is_plain(stored) else vault.decrypt(stored)


def mask(url: str | None) -> str | None:
    """What reads show: scheme, host and path, then ``…`` and the last characters."""
    if url is None:
        return None
    parts = urlsplit(url)
    tail = url[-SHOWN_TAIL:] if len(url) > 3 * SHOWN_TAIL else ""
    if parts.query:
        return f"{parts.scheme}://{parts.netloc}{parts.path}?key=…{tail}"
    return f"{parts.scheme}://{parts.netloc}/…{tail}"


def masked_stored(vault: Vault | None, stored: str | None) -> str | None:
    """The masked form of a stored value (None when there is none or it cannot be opened)."""
    if stored is None:
        return None
    if is_plain(stored):
        return mask(stored)
    if vault is None:
        return "…"
    return mask(vault.decrypt(stored))


def seal(vault: Vault | None, url: str | None, stored: str | None, field: str) -> str | None:
    """The value to store for a written ``url``: the stored one when ``url`` is its masked
    form (a read sent back), else ``url`` sealed.

    Raises:
        InvalidInputError: not http(s), or too long once sealed.
    """
    if url is None:
        return None
    if stored is not None and "…" in url and url == masked_stored(vault, stored):
        return stored
    check_url(url, field)
    if vault is None:
        raise ValueError("a webhook URL is stored sealed: pass the workspace vault")
    sealed = vault.encrypt(url)
    if len(sealed) > STORED_MAX:
        raise InvalidInputError("webhook URL too long", field=field)
    return sealed

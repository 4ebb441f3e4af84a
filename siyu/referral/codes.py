"""QR images for live codes and invite links (segno: pure Python, no network)."""

from __future__ import annotations

import io

import segno

DEFAULT_BASE_URL = "https://siyu.local"


def live_code_url(base_url: str, code_id: str, scene: str) -> str:
    """What a live code's QR encodes: the landing address with its scene (state) parameter."""
    return f"{base_url.rstrip('/')}/lc/{code_id}?scene={scene}"


def invite_link(base_url: str, code: str) -> str:
    """A person's invite link."""
    return f"{base_url.rstrip('/')}/invite?ref={code}"


def qr_png(content: str, scale: int = 8) -> bytes:
    """``content`` as a PNG QR code (error correction M, quiet zone 4)."""
    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(out, kind="png", scale=scale)
    return out.getvalue()


def qr_svg(content: str, scale: int = 8) -> str:
    """``content`` as an SVG QR code."""
    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(out, kind="svg", scale=scale, xmldecl=False)
    return out.getvalue().decode()

"""The landing page of an item without a web address of its own (article, poster, snippet).

Plain HTML, everything escaped (titles and bodies are operators' text); a share button asks
``POST /c/{code}/share`` for the visitor's own link, so re-shares grow the fission chain.
"""

from __future__ import annotations

from html import escape

from siyu.content.models import Content

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.7 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
img{{max-width:100%}}button{{font-size:1rem;padding:.5rem 1rem}}</style></head>
<body><article><h1>{title}</h1>{media}{body}</article>
<p><button id="share">分享给好友 · Share</button> <span id="link"></span></p>
<script>
document.getElementById("share").addEventListener("click", function () {{
  fetch("/c/{code}/share", {{method: "POST", credentials: "same-origin"}})
    .then(function (r) {{ return r.json(); }})
    .then(function (j) {{ document.getElementById("link").textContent = j.url || ""; }});
}});
</script></body></html>
"""


def _media(path: str | None) -> str:
    if path and path.startswith(("https://", "http://")):
        return f'<p><img src="{escape(path, quote=True)}" alt=""></p>'
    return ""


def landing_html(item: Content, code: str) -> str:
    """The page a tracked link of ``item`` shows when the item has no URL to go to."""
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in item.body.split("\n") if p.strip())
    return _PAGE.format(
        title=escape(item.title),
        media=_media(item.media_path),
        body=paragraphs,
        code=escape(code, quote=True),
    )

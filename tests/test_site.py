"""Checks on the built site (`make site` or `make book` first): internal links, alt text, and
that the pages load nothing from other hosts (tests/test_browser.py checks it in a browser)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.assets: list[str] = []  # what the browser fetches by itself: scripts, styles, icons, images

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in {"link", "script"} and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))
            if tag == "script" or {"stylesheet", "icon", "preload", "modulepreload"} & set(
                (a.get("rel") or "").split()
            ):
                self.assets.append(a.get("href") or a.get("src"))
        if tag == "img":
            self.images.append(a)
            if a.get("src"):
                self.links.append(a["src"])
                self.assets.append(a["src"])


def _pages() -> dict[Path, _Page]:
    if not (HTML / "index.html").exists():
        pytest.fail("the site is not built: run `make site` (make test does it first)")
    pages = {}
    for path in HTML.rglob("*.html"):
        if "_static" in path.parts:
            continue
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    return pages


def test_every_internal_link_and_anchor_resolves():
    pages = _pages()
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "data:", "javascript:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(HTML)} -> {link}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if target in pages and parts.fragment not in ids:
                    broken.append(f"{path.relative_to(HTML)} -> {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_every_image_has_alt_text():
    missing = [
        f"{path.relative_to(HTML)}: {img.get('src')}"
        for path, page in _pages().items()
        for img in page.images
        if not (img.get("alt") or "").strip() and "logo" not in (img.get("class") or "")
    ]
    assert not missing, "images without alt text:\n" + "\n".join(missing)


def test_every_toc_page_was_built():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for f in files:
        assert (HTML / f"{f}.html").exists(), f"{f} was not built"


def test_pages_load_nothing_from_other_hosts():
    remote = [
        f"{path.relative_to(HTML)}: {src}"
        for path, page in _pages().items()
        for src in page.assets
        if urlsplit(src).scheme in {"http", "https"} or src.startswith("//")
    ]
    assert not remote, "assets loaded from other hosts:\n" + "\n".join(remote)


def test_each_inline_script_once_and_no_source_maps():
    for path in HTML.rglob("*.html"):
        if "_static" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert text.count("const THEBE_JS_URL") <= 1, f"{path.relative_to(HTML)} declares THEBE_JS_URL twice"
    static = HTML / "_static"
    assert not list(static.rglob("*.map")), "source maps are shipped"
    assert (static / "mathjax" / "tex-chtml.js").exists(), "MathJax is not served from the site"
    assert (static / "mathjax" / "LICENSE").exists(), "MathJax's licence is not shipped with it"

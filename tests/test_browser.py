"""The built site in a real browser: every page opened in headless Chromium, offline.

Serves `_build/html` on 127.0.0.1, opens every page of the book (every document in `_toc.yml`,
plus the search and index pages) at 1280 px and 390 px in Debian's Chromium driven by
Playwright, blocks and records every request to any other host, and asserts what a reader
needs: no console error, no uncaught exception, no failed request, nothing fetched from
another host, all mathematics rendered (no TeX source left in the page text), no display
equation clipped or overlapping its number, nothing wider than the page, every image with alt
text, one search entry point, and a page weight under budget. Screenshots of every page at both
widths go to `_build/screenshots/`, and the measurements to `_build/browser-report/`.

Run after `make site` (`make test` does). Without Chromium the tests skip locally and FAIL in
CI (`CI=true`): `.ci/run` installs Debian's `chromium`. Playwright downloads nothing here: it
drives the browser at $LOSSBOOK_CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import threading
import tomllib
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# LOSSBOOK_SITE points the test at another build (e.g. an older one, to compare).
HTML = Path(os.environ.get("LOSSBOOK_SITE", ROOT / "_build" / "html"))
SHOTS = HTML.parent / "screenshots"
REPORT = HTML.parent / "browser-report"
CHROMIUM = Path(os.environ.get("LOSSBOOK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (1280, 390)
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
# What one page load fetches of the site's machinery (styles, scripts, fonts, search index;
# not the page's own HTML and figures), uncompressed. Measured 2026-12: 1.04 MiB on pages
# without mathematics, 2.20-2.29 MiB with it (MathJax's script is 1.11 MiB, and its fonts load
# as symbols need them). The margins leave room for the search index to grow with the book;
# the theme's Font Awesome script (1.4 MiB) or source maps coming back would exceed them.
ASSET_BUDGET_BYTES = {"without math": 1.25 * 2**20, "with math": 2.6 * 2**20}


def _toc_docnames() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return names


def _built_docnames() -> set[str]:
    return {
        p.relative_to(HTML).with_suffix("").as_posix()
        for p in HTML.rglob("*.html")
        if not {"_static", "_sources", "_images"} & set(p.relative_to(HTML).parts)
    } - {"index"}  # index.html only redirects to the root document


# Every document of the book, then every other page the build made (search, index, ...).
TOC_DOCS = _toc_docnames()
PAGES = list(dict.fromkeys([*TOC_DOCS, "genindex", "search", *sorted(_built_docnames())]))


def _fail_or_skip(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run; .ci/run installs it)")
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".woff": "font/woff",
        ".woff2": "font/woff2",
        ".svg": "image/svg+xml",
        ".js": "text/javascript",
    }

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url():
    if not (HTML / "index.html").exists():
        pytest.fail("the site is not built: run `make site` (make test does it first)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _fail_or_skip("python package playwright is not installed (requirements.txt pins it)")
    if not CHROMIUM.exists():
        _fail_or_skip(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium`")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """One page in a fresh browser context, with everything that went wrong recorded."""

    def __init__(self, browser, url: str, width: int, color_scheme: str = "light"):
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.errors: list[str] = []
        self.exceptions: list[str] = []
        self.failed: list[str] = []
        self.off_host: list[str] = []
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=color_scheme, service_workers="block"
        )
        self.context.route("**/*", self._route)
        self.page = page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"{m.text} @ {m.location}"))
        page.on("pageerror", lambda e: self.exceptions.append(str(e)))
        page.on("requestfailed", self._request_failed)
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        page.goto(url, wait_until="load")
        # MathJax typesets after the load event; wait until every math element has its
        # rendering (or give up after 30 s, and the test then lists what is left as TeX).
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                "() => [...document.querySelectorAll('.math')].every((e) => e.querySelector('mjx-container'))",
                timeout=30_000,
            )
        page.evaluate(
            """async () => {
                if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                    await MathJax.startup.promise;
                }
                await document.fonts.ready;
                // let the site's scripts finish laying out (lossbook.js fits wide equations)
                await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
            }"""
        )

    def _route(self, route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            self.off_host.append(route.request.url)
            route.abort()

    def _request_failed(self, request):
        if request.url not in self.off_host:
            self.failed.append(f"{request.failure} {request.url}")

    def close(self):
        self.context.close()


# Everything measured on a loaded page, in one pass.
_MEASURE = r"""() => {
  const out = {};
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .cell_input";
  // delimiters, environments, and single-dollar math holding a command or a braced sub/superscript
  // (a heading's $\hat y$ repeated as link text stays TeX if nothing renders it there)
  const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{|\$[^$\n]{0,80}?(\\[A-Za-z]+|[\^_]\{)[^$\n]{0,80}?\$/;
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest(skip)) continue;
    const m = n.textContent.match(tex);
    if (m) {
      const i = m.index;
      raw.push(n.textContent.slice(Math.max(0, i - 40), i + 40).replace(/\s+/g, " "));
    }
  }
  out.raw_tex = raw;
  out.math_elements = document.querySelectorAll(".math").length;
  out.unrendered_math = [...document.querySelectorAll(".math")]
    .filter((el) => !el.querySelector("mjx-container"))
    .map((el) => el.textContent.slice(0, 80));
  out.math_errors = [...document.querySelectorAll("mjx-merror")].map((el) => el.textContent.slice(0, 80));

  const vw = document.documentElement.clientWidth;
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const clipped = [];
  const scrolling = [];
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    const box = c.getBoundingClientRect();
    if (box.width === 0) continue; // inside a closed drop-down
    const label = (c.closest("[id]") || {}).id || c.textContent.slice(0, 40);
    const why = [];
    if (c.scrollWidth > c.clientWidth + 1 && !scrolls(c)) why.push("overflows without scrolling");
    if (box.left < -1 || box.right > vw + 1) why.push(`box ${box.left.toFixed(0)}..${box.right.toFixed(0)} outside 0..${vw}`);
    // Too wide for its box: the reader must scroll. Allowed, but never beside the number,
    // where the hidden part would sit under it.
    const eqno = c.parentElement.querySelector(":scope > .eqno");
    if (c.scrollWidth > c.clientWidth + 1) {
      scrolling.push(label);
      if (eqno) {
        const e = eqno.getBoundingClientRect();
        if (e.top < box.bottom - 1 && box.top < e.bottom - 1) why.push("cut off beside its equation number");
      }
    }
    if (why.length) clipped.push(`${label}: ${why.join(", ")}`);
  }
  out.display_equations = document.querySelectorAll('mjx-container[display="true"]').length;
  out.clipped_equations = clipped;
  out.scrolling_equations = scrolling;

  // A wide code cell, output or table must fit, or scroll inside a box that itself fits.
  const scroller = (el) => {
    for (let a = el; a && a !== document.body; a = a.parentElement) if (scrolls(a)) return a;
    return null;
  };
  const spill = [];
  for (const el of document.querySelectorAll("article pre, div.cell_output .output, article table")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    const s = scroller(el);
    const name = `${el.tagName.toLowerCase()}.${el.className}`;
    if (el.scrollWidth > el.clientWidth + 1 && !s) spill.push(`${name}: ${el.scrollWidth} > ${el.clientWidth} px, cut`);
    else if ((s || el).getBoundingClientRect().right > vw + 1) spill.push(`${name}: right edge past the window`);
  }
  out.spilled_boxes = spill;
  out.page_scroll_width = document.documentElement.scrollWidth;
  out.viewport_width = vw;

  out.images_without_alt = [...document.querySelectorAll("img")]
    .filter((img) => !(img.getAttribute("alt") || "").trim())
    .map((img) => img.getAttribute("src"));
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden"; };
  out.search_entry_points = [...document.querySelectorAll(".search-button__button, form.bd-search")]
    .filter((el) => !el.closest("article, dialog") && shown(el)).length;

  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
  out.bytes = entries.reduce((s, e) => s + (e.decodedBodySize || 0), 0);
  // The site's machinery (styles, scripts, fonts, search index), without the page and its figures.
  out.asset_bytes = entries
    .filter((e) => e.entryType === "resource" && !e.name.includes("/_images/"))
    .reduce((s, e) => s + (e.decodedBodySize || 0), 0);
  out.requests = entries.length;
  out.mathjax = entries.some((e) => e.name.includes("/mathjax/"));
  out.theme = document.documentElement.dataset.theme;
  // The version of the book, in the footer of every page (_ext/lossbook_appendix.py).
  const version = document.querySelector(".lossbook-version");
  out.version_shown = version && shown(version) ? version.textContent.trim() : "";
  out.source_downloads = [...document.querySelectorAll("a.btn-download-source-button")].map((a) => ({
    href: a.getAttribute("href"), download: a.getAttribute("download"), target: a.getAttribute("target"),
  }));
  return out;
}"""


def _check(doc: str, width: int, visit: Visit, m: dict) -> list[str]:
    problems = []
    for what, items in [
        ("console errors", visit.errors),
        ("uncaught exceptions", visit.exceptions),
        ("failed requests", visit.failed),
        ("requests to other hosts", visit.off_host),
        ("raw TeX in the page text", m["raw_tex"]),
        ("math elements not rendered", m["unrendered_math"]),
        ("MathJax errors", m["math_errors"]),
        ("clipped display equations", m["clipped_equations"]),
        ("boxes that spill out instead of scrolling", m["spilled_boxes"]),
        ("images without alt text", m["images_without_alt"]),
    ]:
        if items:
            problems.append(f"{doc} at {width}px: {len(items)} {what}: " + "; ".join(map(str, items[:5])))
    if m["page_scroll_width"] > m["viewport_width"] + 1:
        problems.append(f"{doc} at {width}px: page is {m['page_scroll_width']} px wide (scrolls sideways)")
    if doc in TOC_DOCS:  # every page of the book offers its source (.ipynb or .md) as a download
        links = m["source_downloads"]
        if len(links) != 1 or not links[0]["download"] or links[0]["target"]:
            problems.append(f"{doc} at {width}px: source download link is not one plain download: {links}")
    if m["version_shown"] != f"lossbook version {VERSION}":
        problems.append(f"{doc} at {width}px: footer shows {m['version_shown']!r}, not version {VERSION}")
    if m["search_entry_points"] != 1:
        problems.append(f"{doc} at {width}px: {m['search_entry_points']} search entry points, expected 1")
    budget = ASSET_BUDGET_BYTES["with math" if m["mathjax"] else "without math"]
    if m["asset_bytes"] > budget:
        problems.append(
            f"{doc} at {width}px: {m['asset_bytes'] / 2**20:.2f} MiB of styles, scripts and fonts,"
            f" over {budget / 2**20:.1f} MiB"
        )
    return problems


@pytest.mark.parametrize("doc", PAGES)
def test_page_in_browser(doc, browser, site_url):
    path = HTML / f"{doc}.html"
    assert path.exists(), f"{doc} is in the book but {path.relative_to(ROOT)} was not built"
    SHOTS.mkdir(parents=True, exist_ok=True)
    REPORT.mkdir(parents=True, exist_ok=True)
    problems, record = [], {}
    for width in WIDTHS:
        visit = Visit(browser, f"{site_url}/{doc}.html", width)
        try:
            m = visit.page.evaluate(_MEASURE)
            visit.page.screenshot(path=str(SHOTS / f"{doc.replace('/', '__')}-{width}.png"), full_page=True)
            problems += _check(doc, width, visit, m)
            record[width] = {
                **m,
                "console_errors": visit.errors,
                "exceptions": visit.exceptions,
                "failed": visit.failed,
                "off_host": visit.off_host,
            }
        finally:
            visit.close()
    (REPORT / f"{doc.replace('/', '__')}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    assert not problems, "\n".join(problems)


def test_every_built_page_is_visited():
    assert _built_docnames() <= set(PAGES), (
        f"pages the browser test does not open: {_built_docnames() - set(PAGES)}"
    )


def test_search_finds_cross_entropy_without_tex_in_snippets(browser, site_url):
    visit = Visit(browser, f"{site_url}/search.html?q=cross-entropy", 1280)
    try:
        page = visit.page
        page.wait_for_function(
            "() => /Search finished/.test(document.getElementById('search-results')?.innerText || '')",
            timeout=30_000,
        )
        results = page.locator("#search-results ul.search > li")
        assert results.count() > 0, "search for cross-entropy found nothing"
        snippets = page.locator("#search-results p.context").all_inner_texts()
        assert snippets, "search results show no text snippets"
        tex = [s for s in snippets if re.search(r"\\\(|\\\[|\$\$|\\frac|\\begin", s)]
        assert not tex, f"search snippets show TeX source: {tex[:3]}"
        problems = visit.errors + visit.exceptions + visit.failed + visit.off_host
        assert not problems, problems
    finally:
        visit.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_theme_follows_the_system_colour_scheme(browser, site_url, scheme):
    doc = PAGES[0]
    visit = Visit(browser, f"{site_url}/{doc}.html", 1280, color_scheme=scheme)
    try:
        assert visit.page.evaluate("document.documentElement.dataset.theme") == scheme
        rgb = visit.page.evaluate("getComputedStyle(document.body).backgroundColor")
        brightness = sum(map(int, re.findall(r"\d+", rgb)[:3])) / 3
        assert (brightness < 80) if scheme == "dark" else (brightness > 200), (
            f"{scheme} page background {rgb}"
        )
        assert not visit.errors + visit.exceptions, visit.errors + visit.exceptions
        if scheme == "dark":
            SHOTS.mkdir(parents=True, exist_ok=True)
            visit.page.screenshot(path=str(SHOTS / f"{doc.replace('/', '__')}-1280-dark.png"))
    finally:
        visit.close()

"""Sphinx extension that makes lossbook's website self-contained, light and error-free.

Loaded by Jupyter Book through ``sphinx.local_extensions`` in ``_config.yml``. Each step fixes
one thing a reader's browser would otherwise hit; ``tests/test_browser.py`` checks the result:

* MathJax 3 is served from the site (``_static/mathjax``), copied at build time from the
  ``django-static-mathjax`` package pinned in requirements.txt (MathJax 3.2.2, Apache-2.0, its
  LICENSE is copied along). No page asks another host for anything.
* Sphinx 7.4 writes an inline ``<script>`` twice when an extension adds it after the builder
  started (``sphinx_thebe`` and ``sphinx_togglebutton`` do): the builder keeps the first copy
  with ``filename=None`` and re-adds the registry's copy with ``filename=''``, which compare
  unequal. Two ``const THEBE_JS_URL`` declarations are a SyntaxError on every page. We drop the
  second copy of every identical inline script before the page is written, and leave MathJax
  (1.1 MiB) off the pages that have no mathematics.
* ``_static/lossbook.css`` keeps wide equations and outputs inside their own scrolling box;
  ``_static/lossbook.js`` makes the download buttons download and strips math from search
  result snippets.
* The theme's icons are drawn by its stylesheet's Font Awesome web fonts; the 1.4 MiB script
  that redraws them as SVG is not shipped, nor are source maps.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx

MATHJAX_DIR = "mathjax"  # under _static
# What the site needs from the MathJax distribution: the TeX-to-CommonHTML combined component,
# the TeX extensions it autoloads on demand (\boldsymbol, \cancel, ...), its web fonts, and the
# accessibility and menu components that the right-click menu loads when a reader asks for them.
MATHJAX_FILES = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "a11y", "sre", "ui")


def _mathjax_source() -> Path:
    import mathjax  # the django-static-mathjax distribution: MathJax 3.2.2 as package data

    root = Path(mathjax.__file__).parent / "static" / "mathjax"
    if not (root / "es5" / "tex-chtml.js").exists():
        raise RuntimeError(f"MathJax not found under {root}: reinstall django-static-mathjax")
    return root


def _config_inited(app: Sphinx, config) -> None:
    # A relative mathjax_path is served from _static.
    config.mathjax_path = f"{MATHJAX_DIR}/tex-chtml.js"


def _page_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Write each inline script once, and load MathJax only on pages with mathematics."""
    scripts = context.get("script_files")
    if not scripts:
        return
    body = context.get("body", "") + context.get("toc", "")
    has_math = 'class="math' in body or any(d in body for d in ("\\(", "\\[", "$$"))
    seen: set[tuple] = set()
    kept = []
    for js in scripts:
        filename = getattr(js, "filename", js) or ""
        attrs = getattr(js, "attributes", {})
        if not has_math and (
            str(filename).endswith(app.config.mathjax_path)
            or attrs.get("body", "").startswith("window.MathJax")
        ):
            continue
        key = (filename, tuple(sorted(attrs.items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept  # Sphinx restores the full list after writing each page


def _build_finished(app: Sphinx, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"

    src = _mathjax_source()
    dest = static / MATHJAX_DIR
    shutil.rmtree(dest, ignore_errors=True)
    for rel in MATHJAX_FILES:
        s, d = src / "es5" / rel, dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d)
        else:
            shutil.copy2(s, d)
    shutil.copy2(src / "LICENSE", dest / "LICENSE")

    # The theme draws its icons twice: its stylesheet ships Font Awesome's CSS and web fonts,
    # and fontawesome.js (1.4 MiB) then swaps each icon for an SVG. The CSS alone draws them.
    fa = static / "scripts" / "fontawesome.js"
    if fa.exists():
        fa.unlink()
        tag = re.compile(r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')
        for page in outdir.rglob("*.html"):
            text = page.read_text(encoding="utf-8")
            if (new := tag.sub("", text)) != text:
                page.write_text(new, encoding="utf-8")

    for path in static.rglob("*.map"):
        path.unlink()
    for path in [*static.rglob("*.js"), *static.rglob("*.css")]:
        if MATHJAX_DIR in path.relative_to(static).parts:
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        stripped = re.sub(r"\n?/[/*][#@] sourceMappingURL=[^\n]*", "", text)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8", errors="surrogateescape")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_scripts, priority=900)
    app.connect("build-finished", _build_finished)
    # Jupyter Book links every .css file in _static by itself; scripts must be named.
    app.add_js_file("lossbook.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx extension for the appendices that are generated, so they cannot drift from the book.

Loaded by Jupyter Book through ``sphinx.local_extensions`` in ``_config.yml``. A page asks for a
generated part with a fenced block naming it::

    ```{generated} misconceptions
    ```

and this extension replaces the block, when Sphinx reads the page, with MyST text built from the
source of truth. An unknown name is an error, and a page whose block was not replaced fails the
strict build (``generated`` is no directive), so nothing is silently left out.

* ``misconceptions``: ``chapters/misconceptions.yml``, one row per misconception of the book
  plan, each naming the MyST target (``(misc-...)=``) in the chapter that demonstrates the
  correct statement; a link to a missing target fails the strict build (``-n``). A row marked
  ``pending`` names a target that lands with another branch: it is shown without a link, and
  ``tests/test_appendices.py`` fails as soon as that target exists, so the mark is removed then.
* ``execution-status``: every chapter notebook's execution record (``metadata.lossbook.execution``,
  written by ``make execute`` through ``_ext/execution_record.py``).
* ``api``: an ``automodule`` section for every public module of ``lossbook``, found by walking the
  package, so a new module is documented without editing the page.

It also takes the book's version from ``pyproject.toml`` (the version of ``lossbook``, which
``tests/test_appendices.py`` keeps equal to ``lossbook.__version__`` and ``CITATION.cff``) and
shows it in the footer of every page and on the PDF's title page.
"""

from __future__ import annotations

import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import yaml
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

sys.path.insert(0, str(Path(__file__).parent))
import execution_record  # beside this file; `make execute` runs it as a script

ROOT = Path(__file__).resolve().parents[1]
MISCONCEPTIONS = ROOT / "chapters" / "misconceptions.yml"
BLOCK = re.compile(r"^```\{generated\}[ \t]+([\w-]+)[ \t]*\n```[ \t]*$", re.M)


def book_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def load_misconceptions(path: Path = MISCONCEPTIONS) -> list[dict]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    required = {"claim", "truth", "chapter", "target", "shown_in"}
    for i, row in enumerate(rows):
        missing = required - set(row)
        if missing:
            raise ExtensionError(f"{path.name} row {i + 1} lacks {sorted(missing)}")
        if not re.fullmatch(r"misc-[a-z0-9-]+", row["target"]):
            raise ExtensionError(f"{path.name} row {i + 1}: target {row['target']!r} is not misc-<name>")
    return rows


def _cell(text: str) -> str:
    """One pipe-table cell: no line breaks, literal pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def misconceptions_md() -> str:
    """A section per chapter; each misconception a definition-list item (the claim, then what is
    true and where the book shows it), which reads at a phone's width as well as a desktop's."""
    rows = load_misconceptions()
    chapters: dict[str, list[dict]] = {}
    for row in rows:
        chapters.setdefault(row["chapter"], []).append(row)
    out = []
    for chapter, items in chapters.items():
        out += [f"## {chapter}", ""]
        for row in items:
            if row.get("pending"):
                where = f"{row['shown_in']} (link pending)"
            else:
                where = f"{{ref}}`{row['shown_in']} <{row['target']}>`"
            claim = " ".join(str(row["claim"]).split())
            truth = " ".join(str(row["truth"]).split())
            out += [claim, f": **What is true:** {truth}", "", f"  **Shown in:** {where}", ""]
    return "\n".join(out)


def execution_status_md(app: Sphinx) -> str:
    found = execution_record.rows(ROOT)
    for doc, _ in found:
        app.env.note_dependency(str(ROOT / f"{doc}.ipynb"))
    records = [r for _, r in found if r]
    distinct = {tuple(sorted(r["versions"].items())) for r in records}
    columns = ["python", *execution_record.PACKAGES]
    titles = ["Python", *execution_record.PACKAGES.values()]
    out = []
    if len(distinct) == 1 and len(records) == len(found):
        v = records[0]["versions"]
        names = ", ".join(f"{t} {v[c]}" for c, t in zip(columns, titles, strict=True))
        out += [f"Every notebook below last ran with {names}.", ""]
        header, per_row = ["notebook", "executed", "seconds", "status"], []
    else:
        header, per_row = ["notebook", "executed", "seconds", "status", *titles], columns
    total = sum(r["seconds"] for r in records)
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for doc, r in found:
        link = f"{{doc}}`/{doc}`"
        if r is None:
            cells = [link, "not recorded", "", "run `make execute`"] + [""] * len(per_row)
        else:
            cells = [link, r["date"], f"{r['seconds']:.1f}", r["status"]] + [
                r["versions"][c] for c in per_row
            ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    out += ["", f"{len(records)} of {len(found)} notebooks recorded, {total:.0f} s in all.", ""]
    return "\n".join(out)


def public_modules() -> list[str]:
    import lossbook

    names = ["lossbook"]
    for info in pkgutil.walk_packages(lossbook.__path__, "lossbook."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names, key=lambda n: (n != "lossbook", n))


def api_md() -> str:
    """A section per public module. A package (``lossbook``, ``lossbook.sanity``) shows the names
    in its ``__all__``, which are what a chapter reaches as ``lb.<name>``; a plain module shows
    every public object it defines, except those its packages already show."""
    import importlib

    out = []
    packages = []
    for name in public_modules():
        module = importlib.import_module(name)
        # autodoc writes reStructuredText, which a MyST page must hand to the rST parser
        out += [f"## `{name}`", "", "```{eval-rst}", f".. automodule:: {name}", "   :members:"]
        shown_above = sorted(
            n
            for package in packages
            if name.startswith(package.__name__ + ".")
            for n in getattr(package, "__all__", ())
            # functions and classes keep their docstrings when re-exported; data's doc comments
            # (``#:``) are found only in the defining module, so data stays documented there
            if hasattr(module, n)
            and getattr(module, n) is getattr(package, n)
            and callable(getattr(module, n))
        )
        if shown_above:
            out.append("   :exclude-members: " + ", ".join(shown_above))
        if hasattr(module, "__path__"):
            packages.append(module)
        else:
            out.append("   :ignore-module-all:")
        out += ["```", ""]
    return "\n".join(out)


def _chapter_title(doc: str) -> str:
    path = ROOT / f"{doc}.ipynb"
    if path.exists():
        import nbformat

        text = "\n".join(
            c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
        )
    else:
        text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


def citation_md(app: Sphinx, chapter: str = "chapters/convexity") -> str:
    """BibTeX for the book and for one chapter, from CITATION.cff (the one place they live)."""
    cff_path = ROOT / "CITATION.cff"
    app.env.note_dependency(str(cff_path))
    cff = yaml.safe_load(cff_path.read_text(encoding="utf-8"))
    authors = " and ".join(
        "{" + a["name"] + "}" if "name" in a else f"{a['family-names']}, {a['given-names']}"
        for a in cff["authors"]
    )
    year = str(cff["date-released"])[:4]
    url = cff["url"]
    book = [
        "@book{lossbook,",
        f"  title     = {{{cff['title']}}},",
        f"  author    = {{{authors}}},",
        f"  year      = {{{year}}},",
        f"  edition   = {{{cff['version']}}},",
        f"  url       = {{{url}}},",
        "  note      = {Text CC BY 4.0, code MIT},",
        "}",
    ]
    slug = chapter.rsplit("/", 1)[-1]
    part = [
        f"@incollection{{lossbook-{slug},",
        f"  title     = {{{_chapter_title(chapter)}}},",
        f"  booktitle = {{{cff['title']}}},",
        f"  author    = {{{authors}}},",
        f"  year      = {{{year}}},",
        f"  edition   = {{{cff['version']}}},",
        f"  url       = {{{url}/blob/main/{chapter}.ipynb}},",
        "}",
    ]
    return "\n".join(
        [
            "The book, version " + str(cff["version"]) + ":",
            "",
            "```bibtex",
            *book,
            "```",
            "",
            f"A chapter, here {{doc}}`/{chapter}`; change the key, title and file name for another:",
            "",
            "```bibtex",
            *part,
            "```",
            "",
        ]
    )


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    makers = {
        "misconceptions": misconceptions_md,
        "execution-status": lambda: execution_status_md(app),
        "api": api_md,
        "citation": lambda: citation_md(app),
    }

    def replace(m: re.Match) -> str:
        name = m.group(1)
        if name not in makers:
            raise ExtensionError(f"{docname}: unknown generated block {name!r}; known: {sorted(makers)}")
        # rebuild the page when its sources or this generator change
        for path in (Path(__file__), Path(execution_record.__file__)):
            app.env.note_dependency(str(path))
        if name == "misconceptions":
            app.env.note_dependency(str(MISCONCEPTIONS))
        if name == "api":
            for path in sorted((ROOT / "lossbook").rglob("*.py")):
                app.env.note_dependency(str(path))
        return makers[name]()

    source[0] = BLOCK.sub(replace, source[0])


_ATTRIBUTE_DOCSTRINGS: dict[str, list[str]] = {}


def _keep_attribute_docstring(app: Sphinx, what, name, obj, options, lines: list[str]) -> None:
    """Before Napoleon: remember an attribute's docstring (see :func:`_restore_attribute_docstring`)."""
    if what in {"data", "attribute", "property"}:
        _ATTRIBUTE_DOCSTRINGS[name] = list(lines)


def _restore_attribute_docstring(app: Sphinx, what, name, obj, options, lines: list[str]) -> None:
    """After Napoleon: put an attribute's docstring back as written. Napoleon reads its first line
    as ``type: description``, but the book's attribute docstrings are prose ("Target: a real
    number, ..."); the type comes from the annotation."""
    if what in {"data", "attribute", "property"} and name in _ATTRIBUTE_DOCSTRINGS:
        lines[:] = _ATTRIBUTE_DOCSTRINGS.pop(name)


def _resolve_by_ending(app: Sphinx, env, node, contnode):
    """Resolve a Python cross-reference to a lossbook object by the end of its name.

    Docstrings write ``:func:`crosscheck``` or ``:attr:`Loss.expr``` as a reader would, while the
    reference documents each object once, under the name a chapter uses (``lossbook.crosscheck``,
    ``lossbook.Loss``). This is Sphinx's own search for a reference written ``.crosscheck``,
    limited to lossbook's objects; an ambiguous or unknown name stays an error of the strict build.
    """
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    domain = env.get_domain("py")
    target = node["reftarget"]
    ending = "." + target
    matches = [n for n in domain.objects if n.startswith("lossbook") and (n.endswith(ending) or n == target)]
    if matches:
        node["refspecific"] = True
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, node, contnode)
    # A dataclass field (``Loss.expr``) has no entry of its own: link the class that lists it.
    owner = node.get("py:class") if "." not in target else target.rsplit(".", 1)[0]
    if owner and node["reftype"] == "attr":
        owners = [
            n for n in domain.objects if n.startswith("lossbook") and (n == owner or n.endswith("." + owner))
        ]
        if len({domain.objects[n].docname + domain.objects[n].node_id for n in owners}) == 1:
            node["refspecific"] = True
            return domain.resolve_xref(env, node["refdoc"], app.builder, "class", owners[0], node, contnode)
    return None


def _config_inited(app: Sphinx, config) -> None:
    version = book_version()
    config.version = config.release = version
    options = dict(config.html_theme_options or {})
    footer = options.get("extra_footer") or ""
    options["extra_footer"] = footer + f'\n<p class="lossbook-version">lossbook version {version}</p>'
    config.html_theme_options = options


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _config_inited)
    app.connect("source-read", _source_read)
    app.connect("autodoc-process-docstring", _keep_attribute_docstring, priority=400)
    app.connect("autodoc-process-docstring", _restore_attribute_docstring, priority=600)
    app.connect("missing-reference", _resolve_by_ending)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

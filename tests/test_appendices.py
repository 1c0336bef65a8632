"""The generated appendices stay true: the misconceptions page covers the book plan's table and
links only to targets that exist, every notebook carries an execution record made with the
pinned versions, CITATION.cff is valid CFF 1.2.0, and one version number is used everywhere."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml

import lossbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import execution_record  # noqa: E402  (_ext is not a package; Sphinx loads it the same way)
import lossbook_appendix  # noqa: E402

HTML = ROOT / "_build" / "html"
# The book plan lives in the project's shared design folder beside the repository. A clone
# elsewhere (CI included: nothing guarantees the folder there) skips this comparison; the rows of
# chapters/misconceptions.yml are still checked against the built page by the other tests.
PLAN = ROOT.parent / "shared" / "design" / "CHAPTERS.md"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def _normalise(text: str) -> str:
    # the page typesets quotes (Docutils' smart quotes); the plan and the data file do not
    for curly, straight in (("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'")):
        text = text.replace(curly, straight)
    return " ".join(text.split())


def _plan_rows() -> list[tuple[str, str]]:
    if not PLAN.exists():
        pytest.skip(f"the book plan {PLAN} is not beside this checkout")
    text = PLAN.read_text(encoding="utf-8")
    table = text.split("## Misconceptions the book must correct", 1)[1]
    rows = []
    for line in table.splitlines():
        if not line.startswith("|"):
            continue
        # a claim may itself hold a "|" (as in |d| = δ); the chapter is the last cell
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] != "claim often seen" and not set(cells[0]) <= {"-"}:
            rows.append((_normalise(cells[0]), cells[-1]))
    assert len(rows) >= 16, f"parsed only {len(rows)} rows of the plan's table"
    return rows


def _chapter_sources() -> dict[str, str]:
    sources = {}
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        sources[path.name] = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for path in sorted((ROOT / "chapters").glob("*.md")):
        sources[path.name] = path.read_text(encoding="utf-8")
    return sources


def _targets() -> dict[str, list[str]]:
    """MyST target -> files that define it."""
    found: dict[str, list[str]] = {}
    for name, text in _chapter_sources().items():
        for label in re.findall(r"^\(([\w-]+)\)=\s*$", text, re.M):
            found.setdefault(label, []).append(name)
    return found


MISCONCEPTIONS = lossbook_appendix.load_misconceptions()


def test_every_misconception_of_the_plan_is_on_the_page_and_no_other():
    plan = _plan_rows()
    ours = [(_normalise(r["claim"]), r["chapter"]) for r in MISCONCEPTIONS]
    assert sorted(c for c, _ in ours) == sorted(c for c, _ in plan)
    chapter_of = dict(ours)
    for claim, chapter in plan:
        # the plan says "Likelihoods", "Design", ...; the page may use the chapter's full name
        assert chapter.split()[0].lower() in chapter_of[claim].lower(), (claim, chapter, chapter_of[claim])


@pytest.mark.parametrize("row", MISCONCEPTIONS, ids=[r["target"] for r in MISCONCEPTIONS])
def test_misconception_target_exists_unless_pending(row):
    where = _targets().get(row["target"], [])
    if row.get("pending"):
        assert not where, (
            f"{row['target']} now exists in {where}: remove `pending: true` from its row in "
            "chapters/misconceptions.yml, so the page links it and the strict build checks the link"
        )
    else:
        assert len(where) == 1, f"{row['target']} must be defined once in chapters/, found in {where}"


def test_misconception_targets_are_distinct():
    targets = [r["target"] for r in MISCONCEPTIONS]
    assert len(set(targets)) == len(targets)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])

    def handle_data(self, data):
        self.parts.append(data)


def _built(doc: str) -> _Text:
    path = HTML / f"{doc}.html"
    if not path.exists():
        pytest.fail("the site is not built: run `make site` (make test does it first)")
    page = _Text()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_misconceptions_page_shows_every_claim_and_links_every_ready_target():
    page = _built("chapters/misconceptions")
    text = _normalise("".join(page.parts))
    for row in MISCONCEPTIONS:
        assert _normalise(row["claim"]) in text, row["claim"]
    linked = {h.split("#", 1)[1] for h in page.hrefs if "#" in h}
    for row in MISCONCEPTIONS:
        if not row.get("pending"):
            assert row["target"] in linked, f"no link to #{row['target']}"


def test_every_notebook_has_an_execution_record_with_the_pinned_versions():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#", 1)[0].strip().split("==")
            pins[name.lower()] = version
    rows = execution_record.rows(ROOT)
    assert rows, "no chapter notebooks found"
    for doc, record in rows:
        assert record is not None, f"{doc}: no execution record; run `make execute NB={doc}.ipynb`"
        assert record["status"] == "ok", (doc, record["status"])
        assert record["seconds"] > 0, doc
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", record["date"]), record["date"]
        versions = record["versions"]
        assert versions["python"].startswith("3.11."), f"{doc} ran with Python {versions['python']}"
        for package in execution_record.PACKAGES:
            # a local tag (+cpu) names the build of the pinned release
            assert versions[package].split("+")[0] == pins[package], (
                doc,
                package,
                versions[package],
                pins[package],
            )


def test_execution_record_survives_normalisation(tmp_path):
    """nbstripout, as `make execute` runs it, keeps the record (and strips what it should)."""
    import subprocess

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"state": {}}
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    entry = execution_record.record(path, 1.25)
    strip = Path(sys.executable).parent / "nbstripout"
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    args = re.search(r"^STRIP := \$\(BIN\)/nbstripout (.*)$", make, re.M).group(1).replace('"', "").split()
    subprocess.run([str(strip), *args, str(path)], check=True)
    after = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert after["lossbook"]["execution"] == entry
    assert "widgets" not in after
    assert entry["seconds"] == 1.2 or entry["seconds"] == 1.3  # rounded to 0.1 s
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        execution_record.record(path, -1.0)


def test_execution_status_page_lists_every_notebook():
    page = _built("chapters/execution_status")
    linked = {h.split("#", 1)[0] for h in page.hrefs}
    for doc, record in execution_record.rows(ROOT):
        assert f"{Path(doc).name}.html" in linked, doc
        assert record is None or record["date"] in "".join(page.parts)


def test_citation_cff_is_valid_cff_1_2_0():
    # tests/data/cff-schema-1.2.0.json is the Citation File Format's schema (CC BY 4.0), as
    # shipped by cffconvert 2.0.0, whose `cffconvert --validate` accepts this file too
    schema = json.loads((ROOT / "tests" / "data" / "cff-schema-1.2.0.json").read_text(encoding="utf-8"))
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    # YAML reads the date as a date; the schema (like cffconvert) validates its ISO text
    cff["date-released"] = str(cff["date-released"])
    jsonschema.validate(cff, schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    assert cff["cff-version"] == "1.2.0"
    broken = {**cff, "license": "CC-BY-4.0-or-whatever"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_one_version_everywhere():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert lossbook.__version__ == VERSION == str(cff["version"])
    assert set(cff["license"]) == {"CC-BY-4.0", "MIT"}


def test_every_built_page_shows_the_version():
    if not (HTML / "index.html").exists():
        pytest.fail("the site is not built: run `make site` (make test does it first)")
    pages = [p for p in HTML.rglob("*.html") if "_static" not in p.parts and p.name != "index.html"]
    assert pages
    for path in pages:
        assert f'<p class="lossbook-version">lossbook version {VERSION}</p>' in path.read_text(
            encoding="utf-8"
        ), path


def test_api_reference_documents_every_public_name_and_module():
    page = _built("chapters/api")
    for name in lossbook.__all__:
        obj = getattr(lossbook, name)
        if callable(obj) and not isinstance(obj, type(lossbook)):
            assert f"lossbook.{name}" in page.ids, f"lossbook.{name} is not documented"
    for module in lossbook_appendix.public_modules():
        assert f"module-{module}" in page.ids, module


def test_citation_page_bibtex_matches_the_cff():
    page = _built("chapters/cite")
    text = "".join(page.parts)
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert "@book{lossbook," in text
    assert "@incollection{lossbook-" in text
    assert f"edition   = {{{cff['version']}}}" in text
    assert f"title     = {{{cff['title']}}}" in text

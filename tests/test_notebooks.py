"""Notebook hygiene: every chapter is in the toc, executed in order, clean, and self-checking."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(CHAPTERS.glob("*.ipynb"))
IGNORED_DIRS = {".venv", "_build", ".git", ".ipynb_checkpoints", "node_modules"}


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return files


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_there_are_chapter_notebooks():
    assert NOTEBOOKS, "chapters/ holds no notebooks"


def test_every_toc_entry_exists_and_every_page_is_in_the_toc():
    entries = _toc_files()
    assert len(entries) == len(set(entries)), "a page appears twice in _toc.yml"
    for entry in entries:
        matches = [p for p in (ROOT / f"{entry}.ipynb", ROOT / f"{entry}.md") if p.exists()]
        assert len(matches) == 1, f"_toc.yml entry {entry!r} must match exactly one .ipynb or .md"
    pages = {
        str(p.relative_to(ROOT).with_suffix("")) for p in CHAPTERS.glob("*") if p.suffix in {".ipynb", ".md"}
    }
    assert pages == set(entries), f"pages not in the toc: {sorted(pages - set(entries))}"


def test_no_stray_notebooks_or_jupytext_pairs():
    stray = [
        p.relative_to(ROOT)
        for p in ROOT.rglob("*.ipynb")
        if not IGNORED_DIRS & set(p.relative_to(ROOT).parts) and p.parent != CHAPTERS
    ]
    assert not stray, f"notebooks outside chapters/: {stray}"
    for nb in NOTEBOOKS:
        for suffix in (".py", ".md"):
            assert not nb.with_suffix(suffix).exists(), f"{nb.name} has a paired {suffix} next to it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_executed_in_order_and_clean(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"not executed top to bottom from a fresh kernel: {counts}"
    )
    assert any("import lossbook" in _source(c) for c in code), "a chapter imports lossbook"
    for i, cell in enumerate(nb["cells"]):
        assert _source(cell).strip(), f"cell {i} is empty"
        assert "execution" not in cell.get("metadata", {}), "volatile metadata: run `make execute`"
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        for out in cell["outputs"]:
            if out["output_type"] == "error":
                assert "raises-exception" in tags, (
                    f"cell {i} raised {out['ename']} without the raises-exception tag"
                )
            if out["output_type"] == "stream":
                assert out["name"] == "stdout", f"cell {i} wrote to stderr (a warning?): {out['text'][:200]}"
            text = "".join(out.get("data", {}).get("text/plain", []))
            # nbval 0.11 runs cells with store_history=False, where IPython ignores a trailing
            # ';' (nbval#194): a figure cell must end with plt.show() or a statement instead
            assert not re.search(r"<matplotlib\.[\w.]+ at 0x|^<Axes: ", text), f"cell {i}: stray plot repr"
        last = _source(cell).rstrip().splitlines()[-1]
        assert not last.endswith(";"), (
            f"cell {i}: nbval ignores a trailing ';' (nbval#194); end with plt.show()"
        )
        if "raises-exception" in tags:
            assert any(o["output_type"] == "error" for o in cell["outputs"]), (
                f"cell {i} is tagged but raised nothing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_alt_text_and_a_name(path):
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if any("image/png" in o.get("data", {}) for o in cell["outputs"]):
            meta = cell["metadata"].get("mystnb", {})
            assert meta.get("figure", {}).get("caption", "").strip(), f"cell {i}: figure without a caption"
            assert meta.get("figure", {}).get("name", "").startswith("fig-"), (
                f"cell {i}: figure without a fig- name"
            )
            assert len(meta.get("image", {}).get("alt", "").strip()) > 40, (
                f"cell {i}: figure without real alt text"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_apparatus(path):
    """Learning objectives, exercises with hidden solutions, takeaways and references."""
    text = "\n".join(_source(c) for c in _load(path)["cells"] if c["cell_type"] == "markdown")
    assert "Learning objectives" in text
    exercises = re.findall(r"\{exercise\}", text)
    assert len(exercises) >= 3, "at least three exercises"
    solutions = re.findall(r"\{solution(?:-start)?\}[^\n]*\n:class: dropdown", text)
    assert len(solutions) == len(exercises), "every exercise has a solution hidden in a dropdown"
    assert "## Key takeaways" in text
    assert "## References" in text
    assert re.search(r"\{footbibliography\}|\{bibliography\}", text)
    assert re.search(r"\{footcite:[pt]\}|\{cite:[pt]\}", text), "a chapter cites its sources"
    # _config.yml silences myst-parser's false "no footnote definition" warning for footcite;
    # that is only safe while no page uses Markdown footnotes
    assert "[^" not in text, "Markdown footnotes are not used in this book: cite with {footcite}"
    for label in re.findall(r"\$\$ \((eq-[\w-]+)\)", text):
        assert f"{{eq}}`{label}`" in text, f"equation {label} is labelled but never referred to"


def test_notation_page_matches_the_package():
    import sympy as sp

    from lossbook import notation as nt

    page = (CHAPTERS / "notation.md").read_text(encoding="utf-8")
    for name, tex, meaning in nt.SYMBOLS:
        assert f"| ${tex}$ | {meaning} |" in page, f"notation page is missing {name}"
        symbol = getattr(nt, name, None)
        if isinstance(symbol, sp.Symbol):
            assert sp.latex(symbol) == tex or tex.startswith(sp.latex(symbol) + " ="), name
            assert f"| `{name}` |" in page
        else:
            assert name in {"C", "N", "K"}, f"{name} is in the table but not in lossbook.notation"


#: A LaTeX macro name (backslash and letters) or SymPy's power operator in text a reader sees.
_RAW_MATH = re.compile(r"\\[A-Za-z]+|\*\*")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_show_no_raw_sympy_or_latex(path):
    """Symbolic results are rendered as mathematics, never printed as SymPy strings.

    A stored ``text/plain`` output that has a rendered twin (``text/latex``, ``text/markdown``,
    ``text/html``) is only a fallback and is not checked; a bare ``text/plain`` or a printed
    stream is what the page shows, and must not contain ``\\sigma``-style macro names or ``**``.
    """
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell["outputs"]:
            if out["output_type"] == "stream":
                shown = "".join(out["text"])
            elif out["output_type"] in ("execute_result", "display_data"):
                data = out.get("data", {})
                if any(k in data for k in ("text/latex", "text/markdown", "text/html", "image/png")):
                    continue
                shown = "".join(data.get("text/plain", ""))
            else:
                continue
            found = _RAW_MATH.findall(shown)
            assert not found, f"cell {i} shows raw math {sorted(set(found))}: {shown[:200]!r}"


#: A number printed with 12 or more significant digits: its last digits are round-off that
#: differs between CPUs (AVX2 and AVX-512 kernels sum in different orders), so a stored output
#: holding one would fail nbval on another machine. Plain-text floats get 6 digits from the
#: kernel configuration (kernel/ipython_kernel_config.py); printed numbers get a fixed precision.
_NUMBER = re.compile(r"\d+\.\d+|\d{12,}")


def _significant_digits(number: str) -> int:
    return len(number.replace(".", "").lstrip("0"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_hold_no_round_off_digits(path):
    """Every stored text output (printed, displayed or glued) shows numbers at a fixed precision."""
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell["outputs"]:
            if out["output_type"] == "stream":
                texts = ["".join(out["text"])]
            elif out["output_type"] in ("execute_result", "display_data"):
                texts = [
                    "".join(v) if isinstance(v, list) else v
                    for k, v in out.get("data", {}).items()
                    if k.startswith("text/") or k.endswith("text/plain")
                ]
            else:
                continue
            for text in texts:
                long = [n for n in _NUMBER.findall(text) if _significant_digits(n) >= 12]
                assert not long, f"cell {i} stores round-off digits {long[:3]}: print at a fixed precision"

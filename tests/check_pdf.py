"""`make pdf` runs this on the PDF it built: the book is all there, and nothing is lost at the margin.

Checks, from the LaTeX log and the PDF's text (pdftotext, from Debian's poppler-utils):
every character was found in a font (XeLaTeX only logs a missing glyph and leaves a gap); every
cross-reference resolved (an unresolved one prints as ??); no
line of code or output is wider than the text block (an overfull box inside a verbatim block,
which Sphinx would otherwise let run off the page); every chapter of the toc and the
exercises' solutions are in the text. Exits non-zero with the reasons otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LATEX = ROOT / "_build" / "latex"
sys.path.insert(0, str(ROOT / "_ext"))
import execution_record  # noqa: E402  (the toc in book order)
import lossbook_appendix  # noqa: E402  (chapter titles)


def problems(pdf: Path, log: Path) -> list[str]:
    found = []
    text_log = log.read_text(encoding="utf-8", errors="replace")
    missing = sorted(set(re.findall(r"Missing character: There is no (\S+)", text_log)))
    if missing:
        found.append(f"characters missing from the fonts: {' '.join(missing)}")
    undefined = re.findall(r"(?:Reference|Citation) `([^']+)' on page \d+ undefined", text_log)
    if undefined:
        found.append(f"{len(undefined)} unresolved references (shown as ??), e.g. {undefined[0]}")
    # An overfull box in verbatim text (code, outputs) sets in the monospaced font.
    cut = re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)[^\n]*\n([^\n]*DejaVuSansMono[^\n]*)", text_log)
    # A line cut at the margin overruns by at least one character of the 10 pt monospaced font,
    # about 6 pt; an overrun under half of that is a word in a narrow table column running into
    # the column gap (CrossEntropyLoss in the catalogue's overview: 2 pt), with nothing cut.
    cut = [(float(w), line) for w, line in cut if float(w) > 3.0]
    if cut:
        found.append(f"{len(cut)} code or output lines wider than the page, e.g. {cut[0][1][:100]!r}")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    root, *docs = execution_record.toc_docnames(ROOT)
    # the root document (the preface) is the book's front matter: its text, without its title
    opening = (ROOT / f"{root}.md").read_text(encoding="utf-8").split("\n\n")[1]
    opening = " ".join(re.sub(r"[`*]", "", opening).split())
    if opening[:60] not in flat:
        found.append(f"the front matter ({root}) is not in the PDF")
    for doc in docs:
        title = lossbook_appendix._chapter_title(doc)
        plain = re.sub(r"[`*$\\{}]", "", title)
        if " ".join(plain.split()) not in flat:
            found.append(f"chapter title not in the PDF: {plain!r} ({doc})")
    if "Solution" not in flat:
        found.append("no exercise solutions in the PDF")
    return found


def main() -> int:
    pdf, log = LATEX / "lossbook.pdf", LATEX / "lossbook.log"
    if not pdf.exists():
        print(f"{pdf} was not built", file=sys.stderr)
        return 1
    found = problems(pdf, log)
    for p in found:
        print("PDF:", p, file=sys.stderr)
    pages = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    count = re.search(r"Pages:\s+(\d+)", pages).group(1)
    print(
        f"{pdf.relative_to(ROOT)}: {count} pages",
        "(problems above)" if found else "checked",
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

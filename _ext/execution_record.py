"""The execution record each chapter notebook carries: when `make execute` last ran it, how long
it took, and the versions it ran with.

`make execute` calls ``python _ext/execution_record.py NOTEBOOK --since START`` right after
nbconvert has executed NOTEBOOK from a fresh kernel (and only if it succeeded), so the record
always describes the outputs stored next to it. The record lives in the notebook's own metadata,
``metadata.lossbook.execution``; nbstripout keeps notebook-level metadata other than the keys it is
told to strip, so the record survives normalisation, and parallel edits to different notebooks
never touch a shared file. The appendix page *Execution status* (``_ext/lossbook_appendix.py``),
``make bench`` (``tests/bench.py``) and ``tests/test_appendices.py`` read it back with
:func:`read` and :func:`rows`.

The versions are those of this interpreter's packages: the kernel that executed the notebook is
the ``python3`` kernel of the same virtual environment (``make execute`` runs nbconvert from
``.venv``), so they are the versions the notebook ran with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KEY = "lossbook"
# What the record names, in the order the page shows it: distribution name -> column title.
PACKAGES = {"torch": "PyTorch", "sympy": "SymPy", "numpy": "NumPy", "matplotlib": "Matplotlib"}


def versions() -> dict[str, str]:
    """Python's version and the installed versions of :data:`PACKAGES` (local tags such as
    ``+cpu`` kept: they say which build of PyTorch ran)."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        found[name] = metadata.version(name)
    return found


def record(path: Path, seconds: float, status: str = "ok") -> dict:
    """Write the execution record into the notebook at `path` and return it."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")
    nb = nbformat.read(path, as_version=4)
    entry = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(seconds, 1),
        "status": status,
        "versions": versions(),
    }
    nb.metadata.setdefault(KEY, {})["execution"] = entry
    nbformat.write(nb, path)
    return entry


def read(path: Path) -> dict | None:
    """The notebook's execution record, or None if it has none."""
    with open(path, encoding="utf-8") as f:
        meta = json.load(f).get("metadata", {})
    return meta.get(KEY, {}).get("execution")


def toc_docnames(root: Path = ROOT) -> list[str]:
    """Every document in `_toc.yml`, in book order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return names


def notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks in book order (those in the toc first, then any others by name)."""
    found = sorted((root / "chapters").glob("*.ipynb"))
    order = {doc: i for i, doc in enumerate(toc_docnames(root))}
    return sorted(
        found, key=lambda p: (order.get(p.relative_to(root).with_suffix("").as_posix(), len(order)), p.name)
    )


def rows(root: Path = ROOT) -> list[tuple[str, dict | None]]:
    """(docname, record or None) for every chapter notebook, in book order."""
    return [(p.relative_to(root).with_suffix("").as_posix(), read(p)) for p in notebooks(root)]


def text_table(found: list[tuple[str, dict | None]]) -> str:
    """The Execution status appendix's table as plain text (for `make bench`)."""
    header = ["notebook", "executed", "seconds", "status", "Python", *PACKAGES.values()]
    lines = [header]
    for doc, r in found:
        if r is None:
            lines.append([doc, "not recorded", "", "", "", *[""] * len(PACKAGES)])
        else:
            v = r["versions"]
            lines.append(
                [doc, r["date"], f"{r['seconds']:.1f}", r["status"], v["python"], *(v[p] for p in PACKAGES)]
            )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--since", type=float, required=True, help="time.time() when execution started")
    args = parser.parse_args(argv)
    entry = record(args.notebook, time.time() - args.since)
    print(f"recorded {args.notebook}: {entry['seconds']:.1f} s, {entry['date']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: time every chapter notebook (fresh kernel) and the registry-wide cross-check.

Prints a table; exits non-zero if a notebook takes 30 s or more, or the cross-check 5 s or
more (the budgets in the developers' guide). Timing lives here, never in assertions of the
test suite.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_BUDGET_S = 30.0
CROSSCHECK_BUDGET_S = 5.0


def time_notebook(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def time_crosscheck() -> float:
    import lossbook as lb

    start = time.perf_counter()
    for name in lb.LOSSES:
        lb.crosscheck(name).assert_ok()
    return time.perf_counter() - start


def main() -> int:
    rows = [
        (p.relative_to(ROOT).as_posix(), time_notebook(p), NOTEBOOK_BUDGET_S)
        for p in sorted((ROOT / "chapters").glob("*.ipynb"))
    ]
    rows.append(("crosscheck of the whole registry", time_crosscheck(), CROSSCHECK_BUDGET_S))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  {'budget':>6}")
    over = False
    for name, seconds, budget in rows:
        flag = "" if seconds < budget else "  OVER BUDGET"
        over |= bool(flag)
        print(f"{name:<{width}}  {seconds:8.2f}  {budget:6.0f}{flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

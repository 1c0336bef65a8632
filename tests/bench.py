"""`make bench`: time every chapter notebook (fresh kernel) and the registry-wide cross-check.

First prints the table of the *Execution status* appendix: each notebook's execution record
(`make execute`'s date, seconds, status and versions, stored in the notebook). Then a table: each notebook's wall time, its budget, and its time as a multiple of the
import floor (a notebook that only does the chapters' common imports: lossbook, torch, sympy,
matplotlib and myst_nb's glue, i.e. what no chapter can go below). Exits non-zero if anything
is over budget: Part I chapters (every notebook under the "Part I" part of `_toc.yml`, with
its sub-pages) 20 s, every other notebook 25 s, the registry-wide cross-check 10 s. Timing
lives here, never in assertions of the test suite: the machine's load would make them flaky.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import execution_record  # noqa: E402  (beside the site extension that renders the same table)

PART_I_BUDGET_S = 20.0
NOTEBOOK_BUDGET_S = 25.0
# 0.2 s per entry on average over the 34 entries; three quarters of the entries take under 0.2 s,
# and the adaptive softmax alone about 4 s (each sampled row has its own weights, so the real
# nn.AdaptiveLogSoftmaxWithLoss is called once per row).
CROSSCHECK_BUDGET_S = 10.0
FLOOR_SOURCE = """\
import lossbook as lb
import matplotlib.pyplot as plt
import sympy as sp
import torch
from myst_nb import glue
"""


def part_i_docnames() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names: set[str] = set()

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.add(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        caption = part.get("caption", "")
        if caption.startswith("Part I") and not caption.startswith(("Part II", "Part IV")):
            walk(part.get("chapters"))
    return names


def run(nb, cwd: Path) -> float:
    """Wall time of executing `nb` from a fresh kernel (kernel start included).

    The kernel talks over IPC sockets named after its connection file (absolute, as the kernel
    runs in `cwd`), like `make execute`'s kernels.
    """
    with tempfile.TemporaryDirectory(prefix="lossbook-bench-") as tmp:
        km = KernelManager(
            kernel_name="python3", transport="ipc", connection_file=str(Path(tmp) / "kernel.json")
        )
        client = NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(cwd)}})
        start = time.perf_counter()
        try:
            client.execute()
            return time.perf_counter() - start
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)


def import_floor() -> float:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_SOURCE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return min(run(nb, ROOT / "chapters") for _ in range(2))


def time_crosscheck() -> float:
    import lossbook as lb

    start = time.perf_counter()
    for name in lb.LOSSES:
        lb.crosscheck(name).assert_ok()
    return time.perf_counter() - start


def main() -> int:
    print("execution records (make execute; the Execution status appendix):")
    print(execution_record.text_table(execution_record.rows(ROOT)))
    print()
    floor = import_floor()
    part_i = part_i_docnames()
    rows = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        doc = path.relative_to(ROOT).with_suffix("").as_posix()
        budget = PART_I_BUDGET_S if doc in part_i else NOTEBOOK_BUDGET_S
        rows.append(
            (path.relative_to(ROOT).as_posix(), run(nbformat.read(path, as_version=4), path.parent), budget)
        )
    notebooks = rows[:]
    rows.append(("crosscheck of the whole registry", time_crosscheck(), CROSSCHECK_BUDGET_S))

    width = max(len(r[0]) for r in rows)
    print(f"import floor (kernel start + common imports): {floor:.2f} s")
    print(f"{'what':<{width}}  {'seconds':>8}  {'budget':>6}  {'x floor':>7}")
    over = False
    for name, seconds, budget in rows:
        flag = "" if seconds < budget else "  OVER BUDGET"
        over |= bool(flag)
        ratio = f"{seconds / floor:7.1f}" if name.endswith(".ipynb") else f"{'':7}"
        print(f"{name:<{width}}  {seconds:8.2f}  {budget:6.0f}  {ratio}{flag}")
    total = sum(s for _, s, _ in notebooks)
    print(
        f"all {len(notebooks)} notebooks: {total:.1f} s = {total / floor:.1f} x the import floor "
        f"({total / (len(notebooks) * floor):.1f} x per notebook)"
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

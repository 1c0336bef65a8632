"""The catalogue's overview table covers every loss class the pinned PyTorch exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

CATALOGUE = Path(__file__).resolve().parents[1] / "chapters" / "catalogue.ipynb"


def _overview_links() -> list[str]:
    """The section targets linked from the overview table, as stored in the executed notebook."""
    nb = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("data", {}).get("text/markdown", []))
            if ":name: tab-cat-overview" in text:
                return re.findall(r"\{ref\}`(\w+) <cat-(\w+)>`", text)
    raise AssertionError("the catalogue has no stored overview table")


def test_overview_links_every_exported_loss_class_once():
    links = _overview_links()
    classes = [cls for cls, _ in links]
    exported = set(torch.nn.modules.loss.__all__) | {"AdaptiveLogSoftmaxWithLoss"}
    assert len(classes) == len(set(classes)), "a class appears twice in the overview"
    assert set(classes) == exported, f"overview and PyTorch differ: {sorted(set(classes) ^ exported)}"
    for cls, target in links:
        assert target == cls.lower(), f"{cls} links to cat-{target}, not cat-{cls.lower()}"

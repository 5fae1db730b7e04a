"""The README is the front door: its Python snippet runs, it stays short, it speaks about the software."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def test_readme_python_snippet_runs_on_a_real_run(tmp_path, synthetic_ibug_graphs, capsys):
    from fer_graph.config import TrainConfig
    from fer_graph.training import train

    run = tmp_path / "gat_mask"
    train(synthetic_ibug_graphs, TrainConfig(arch="gat", folds=2, epochs=2, hidden=8, layers=1, heads=2,
                                             mask_augment=0.5), run)
    blocks = _python_blocks()
    assert blocks, "README has no python snippet"
    for code in blocks:
        assert "runs/ck_lands/gat_mask" in code
        exec(compile(code.replace("runs/ck_lands/gat_mask", str(run)), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert str(synthetic_ibug_graphs.classes) in printed and "(2, 6)" in printed


def test_readme_is_a_front_door():
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 200
    assert not re.search(r"\bsession\b|issue [0-9]", text, flags=re.I)
    for command in ("make main", "make test", "--index-url https://download.pytorch.org/whl/cpu"):
        assert command in text


@pytest.mark.parametrize("doc", sorted((README.parent / "docs").glob("*.md")), ids=lambda p: p.name)
def test_docs_describe_the_software(doc):
    assert not re.search(r"\bsession\b|issue [0-9]", doc.read_text("utf-8"), flags=re.I)

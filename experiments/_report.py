"""Shared output step of the study scripts under ``experiments/``."""

from __future__ import annotations

import json
from pathlib import Path


def write_table(out: Path, stem: str, rows: list[dict], lines: list[str]) -> None:
    """Write ``OUT/<stem>.json`` (the rows) and ``OUT/<stem>.md`` (the Markdown table ``lines``), and print
    the table."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

"""Every name a package exports in ``__all__`` really imports (sklearn once shipped a broken one)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["fer_graph", "fer_graph.landmarks", "fer_graph.graphs", "fer_graph.labels", "fer_graph.exceptions",
            "fer_graph.cli", "fer_graph.occlusion", "fer_graph.models", "fer_graph.training", "fer_graph.evaluation"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_import(name):
    module = importlib.import_module(name)
    for attr in getattr(module, "__all__", []):
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r} but it does not exist"

from __future__ import annotations

import pytest
import torch

from fer_graph.graphs.features import FeatureSpec


def test_features_are_assembled_in_token_order_and_missing_inputs_are_named():
    pos, onset = torch.randn(3, 68, 2), torch.randn(3, 68, 2)
    spec = FeatureSpec.parse("apex+disp+blendshapes+pose")
    x = spec.node_from(pos, onset)
    torch.testing.assert_close(x, torch.cat([pos, pos - onset], dim=-1))
    bs, hp = torch.rand(3, 52), torch.tensor([[90.0, 0.0, -45.0]] * 3)
    ga = spec.graph_from(bs, hp)
    torch.testing.assert_close(ga, torch.cat([bs, hp / 90.0], dim=-1))
    assert FeatureSpec.parse("apex").graph_from() is None
    with pytest.raises(ValueError, match="onset="):
        spec.node_from(pos)
    with pytest.raises(ValueError, match="head_pose="):
        spec.graph_from(bs)

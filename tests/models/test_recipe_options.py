"""Training-recipe options of the GNNs: mirrored graph attributes, the blendshape branch, weight averaging."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.config import TrainConfig
from fer_graph.graphs.augment import attribute_mirror, mirror_attributes, random_augment, random_flip
from fer_graph.graphs.features import FeatureSpec
from fer_graph.graphs.topology import get_topology
from fer_graph.landmarks.mediapipe_source import BLENDSHAPE_NAMES
from fer_graph.models import get_model
from fer_graph.models._gnn_fit import fit_module
from fer_graph.models.estimator import ModelInputs


def test_attribute_mirror_swaps_sides_and_flips_yaw_and_roll():
    names = FeatureSpec.parse("apex+blendshapes+pose").graph_names()
    assert names[:52] == BLENDSHAPE_NAMES and names[52:] == ("pitch", "yaw", "roll")
    perm, sign = attribute_mirror(names)
    i = names.index
    assert perm[i("eyeBlinkLeft")] == i("eyeBlinkRight") and perm[i("eyeBlinkRight")] == i("eyeBlinkLeft")
    assert perm[i("mouthSmileLeft")] == i("mouthSmileRight") and perm[i("jawLeft")] == i("jawRight")
    assert perm[i("jawOpen")] == i("jawOpen") and perm[i("_neutral")] == i("_neutral")
    assert sign.tolist() == [1.0] * 53 + [-1.0, -1.0]
    assert torch.equal(perm[perm], torch.arange(len(names)))  # an involution
    assert attribute_mirror(()) is None
    g = torch.rand(4, len(names))
    flip = torch.tensor([True, False, True, False])
    m = mirror_attributes(g, flip, perm, sign)
    assert torch.equal(m[1], g[1]) and m[0, i("eyeBlinkLeft")] == g[0, i("eyeBlinkRight")]
    assert m[2, i("yaw")] == -g[2, i("yaw")] and m[2, i("pitch")] == g[2, i("pitch")]
    torch.testing.assert_close(mirror_attributes(m, flip, perm, sign), g)


def test_a_flip_drawn_beforehand_gives_the_same_augmentation():
    x = torch.randn(6, 468, 2)
    perm = torch.as_tensor(get_topology("mediapipe468").mirror, dtype=torch.long)
    a = random_augment(x, perm=perm, dims=2, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    b = random_augment(x, perm=perm, dims=2, generator=gen, flip=random_flip(6, 0.5, gen))
    torch.testing.assert_close(a, b)
    assert not random_flip(5, 0.0, torch.Generator()).any()


def test_the_blendshape_branch_comes_after_the_other_parameters():
    kw = dict(in_channels=2, num_classes=3, hidden_channels=8, num_layers=1, heads=2, graph_channels=5,
              num_nodes=468, readout="mean+max", standardize="node", backend="fast")
    plain = get_model("gat", **kw)
    branch = get_model("gat", **kw, graph_hidden=16)
    keys = list(branch.state_dict())
    assert keys[-4:] == ["graph_mlp.0.weight", "graph_mlp.0.bias", "graph_mlp.2.weight", "graph_mlp.2.bias"]
    assert branch.head[0].in_features == 16 + 16 and plain.head[0].in_features == 16 + 5
    edges = get_topology("mediapipe468").edge_index
    out = branch.eval()(torch.randn(4, 468, 2), edges, graph_attr=torch.randn(4, 5))
    assert out.shape == (4, 3)
    assert get_model("gat", **{**kw, "graph_channels": 0}, graph_hidden=16).graph_mlp is None


def _fit(mesh, **cfg):
    inputs = ModelInputs.from_dataset(mesh, FeatureSpec.parse("apex+blendshapes"))
    y = mesh.tensor("y").numpy()
    config = TrainConfig(epochs=3, hidden=8, layers=1, heads=2, node_embedding=0, readout="mean+max", **cfg)
    return fit_module(inputs.x, inputs.graph_attr, y, np.arange(50), np.arange(50, 70), topology=mesh.topology,
                      num_classes=mesh.num_classes, config=config, dims=2, graph_names=inputs.graph_names)


def test_weight_averaging_keeps_an_average_of_the_trained_weights(synthetic_mesh_graphs):
    plain, logs, _ = _fit(synthetic_mesh_graphs, patience=100)
    avg, avg_logs, _ = _fit(synthetic_mesh_graphs, ema=0.9, patience=100)
    # same training trajectory (same draws), but the validated and kept weights are the average
    assert [l.train_loss for l in logs] == [l.train_loss for l in avg_logs]
    assert not torch.equal(plain.input.weight, avg.input.weight)
    assert list(plain.state_dict()) == list(avg.state_dict())
    with pytest.raises(ValueError, match="ema"):
        TrainConfig(ema=1.0)


def test_mirrored_training_swaps_named_blendshapes(synthetic_mesh_graphs, monkeypatch):
    seen = []
    import fer_graph.models._gnn_fit as fit

    real = fit.mirror_attributes
    monkeypatch.setattr(fit, "mirror_attributes", lambda g, flip, *a: seen.append(int(flip.sum())) or real(g, flip, *a))
    _fit(synthetic_mesh_graphs)
    assert sum(seen) > 0


def test_mixup_mixes_features_attributes_and_targets(synthetic_mesh_graphs):
    from types import SimpleNamespace

    from fer_graph.models._gnn_fit import _mixup

    x, ga = torch.randn(6, 468, 2), torch.rand(6, 52)
    off = SimpleNamespace(config=TrainConfig(), mix_rng=np.random.default_rng(0))
    assert _mixup(off, x, ga) == (x, ga, None, 1.0)
    on = SimpleNamespace(config=TrainConfig(mixup=0.4), mix_rng=np.random.default_rng(0))
    xm, gm, partner, lam = _mixup(on, x, ga)
    ref = np.random.default_rng(0)
    assert lam == pytest.approx(ref.beta(0.4, 0.4)) and partner.tolist() == ref.permutation(6).tolist()
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[partner])
    torch.testing.assert_close(gm, lam * ga + (1 - lam) * ga[partner])
    _, logs, _ = _fit(synthetic_mesh_graphs, mixup=0.4)
    assert np.isfinite([l.train_loss for l in logs]).all()
    with pytest.raises(ValueError, match="mixup"):
        TrainConfig(mixup=-1)


def test_mirror_tta_averages_a_face_and_its_mirror_image(tmp_path, synthetic_mesh_graphs):
    from fer_graph.graphs.augment import mirror
    from fer_graph.models.estimator import load_classifier, make_classifier

    ds = synthetic_mesh_graphs
    inputs = ModelInputs.from_dataset(ds, FeatureSpec.parse("apex+blendshapes"))
    cfg = TrainConfig(epochs=2, hidden=8, layers=1, heads=2, node_embedding=0, mirror_tta=True)
    clf = make_classifier("gat", cfg, classes=ds.classes, topology=ds.topology, dims=2)
    clf.fit(inputs, ds.tensor("y").numpy(), train=np.arange(50), validation=np.arange(50, 70))
    assert clf.mirror_tta and clf.graph_names_ == BLENDSHAPE_NAMES
    both = clf.predict_proba(inputs)
    clf.mirror_tta = False
    plain = clf.predict_proba(inputs)
    perm = torch.as_tensor(ds.topology.mirror, dtype=torch.long)
    attr = attribute_mirror(BLENDSHAPE_NAMES)
    flipped = ModelInputs(mirror(inputs.x, perm, 2), mirror_attributes(inputs.graph_attr, torch.ones(70, dtype=torch.bool), *attr))
    np.testing.assert_allclose(both, (plain + clf.predict_proba(flipped)) / 2, atol=1e-6)
    assert not np.allclose(both, plain)
    clf.mirror_tta = True
    loaded, _ = load_classifier(clf.save(tmp_path / "m", {"topology": "mediapipe468", "features": "apex+blendshapes",
                                                          "node_dims": 2}))
    assert loaded.mirror_tta and loaded.graph_names_ == BLENDSHAPE_NAMES
    np.testing.assert_allclose(loaded.predict_proba(inputs), both, atol=1e-6)


def test_a_topology_recipe_applies_to_gnns_below_explicit_values(monkeypatch):
    import fer_graph.config as config

    monkeypatch.setitem(config.GNN_RECIPES, "mediapipe468", {"hidden": 24, "epochs": 7})
    cfg = TrainConfig.for_topology("mediapipe468", arch="gat", epochs=None, seed=3)
    assert (cfg.hidden, cfg.epochs, cfg.seed) == (24, 7, 3)
    assert TrainConfig.for_topology("mediapipe468", arch="gat", hidden=40).hidden == 40
    monkeypatch.setitem(config.LARGE_DATASET_RECIPES, "mediapipe468", {"layers": 1, "epochs": 9})
    at_limit = TrainConfig.for_topology("mediapipe468", config.LARGE_DATASET_GRAPHS, arch="gat")
    large = TrainConfig.for_topology("mediapipe468", config.LARGE_DATASET_GRAPHS + 1, arch="gat", seed=3)
    assert (at_limit.hidden, at_limit.layers, at_limit.epochs) == (24, TrainConfig().layers, 7)
    assert (large.hidden, large.layers, large.epochs, large.seed) == (TrainConfig().hidden, 1, 9, 3)
    assert TrainConfig.for_topology("mediapipe468", 50_000, arch="gat", epochs=3).epochs == 3
    assert TrainConfig.for_topology("ibug68", arch="gat") == TrainConfig()
    assert TrainConfig.for_topology("ibug68", 50_000, arch="gat") == TrainConfig()
    assert TrainConfig.for_topology("mediapipe468", arch="logreg").hidden == TrainConfig().hidden
    with pytest.raises(ValueError, match="nope"):
        TrainConfig.for_topology("mediapipe468", arch="nope")


def test_graph_asinh_standardizes_the_transformed_attributes():
    kw = dict(in_channels=2, num_classes=3, hidden_channels=8, num_layers=1, heads=2, graph_channels=4,
              num_nodes=468, readout="mean+max", standardize="node", backend="fast")
    model = get_model("gat", **kw, graph_asinh=0.01)
    g = torch.rand(50, 4) ** 4  # skewed towards 0, like blendshape scores
    model.set_standardization(torch.randn(50, 468, 2), g)
    t = torch.asinh(g.double() / 0.01)
    torch.testing.assert_close(model.g_mean, t.mean(0).float())
    torch.testing.assert_close(model.g_std, t.std(0).float())
    assert get_model("gat", **kw).graph_asinh == 0.0


def test_the_face_mesh_recipes_share_one_setting_for_both_mesh_topologies():
    import fer_graph.config as config

    for recipes in (config.GNN_RECIPES, config.LARGE_DATASET_RECIPES):
        assert recipes["mediapipe468"] == recipes["mediapipe478"]
    large = TrainConfig.for_topology("mediapipe478", 24_121, arch="gat")
    assert (large.layers, large.dropout, large.rotate_deg, large.scale, large.noise, large.augment, large.members,
            large.epochs) == (1, 0.0, 0.0, 0.0, 0.0, True, 4, 50)
    small = TrainConfig.for_topology("mediapipe478", 900, arch="gat")
    # small datasets: 4 members of the whole schedule, mirrored at prediction, refitted on all training subjects
    assert (small.members, small.keep, small.mirror_tta, small.refit, small.epochs) == (4, "last", True, True, 80)
    assert (large.keep, large.mirror_tta, large.refit) == ("best", False, False)
    assert TrainConfig.for_topology("mediapipe478", 24_121, arch="logreg").members == 1  # baselines: never
    assert large.p_mirror == TrainConfig().p_mirror


def test_occluded_attrs_reaches_the_model_and_trains_with_mask_augmentation(synthetic_mesh_graphs):
    kw = TrainConfig(occluded_attrs=0.05).model_kwargs(2, 3, 5, 468)
    assert kw["occluded_attrs"] == 0.05
    assert "occluded_attrs" not in TrainConfig().model_kwargs(2, 3, 5, 468)  # off: checkpoints unchanged
    model, logs, _ = _fit(synthetic_mesh_graphs, mask_augment=1.0, occluded_attrs=0.05)
    assert model.occluded_attrs == 0.05 and model.visibility and len(logs) == 3
    with pytest.raises(ValueError, match="occluded_attrs"):
        TrainConfig(occluded_attrs=-0.1)


def test_region_scope_gives_each_blendshape_its_region(synthetic_mesh_graphs):
    names = ("mouthSmileLeft", "eyeBlinkLeft", "yaw")
    cfg = TrainConfig(occluded_attrs=0.3, occluded_attrs_scope="region")
    assert cfg.model_kwargs(2, 3, 3, 468, names)["attr_regions"] == ["mouth", "eyes", ""]
    with pytest.raises(ValueError, match="names"):
        cfg.model_kwargs(2, 3, 3, 468)
    with pytest.raises(ValueError, match="occluded_attrs_scope"):
        TrainConfig(occluded_attrs_scope="eyes")
    model, _, kwargs = _fit(synthetic_mesh_graphs, mask_augment=1.0, occluded_attrs=0.3, occluded_attrs_scope="region")
    assert model.attr_nodes.shape == (52, 468) and len(kwargs["attr_regions"]) == 52

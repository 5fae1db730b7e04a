"""Speed of the GNN classifiers on fixed-topology face graphs: stock PyG vs our batcher vs the fast path.

Usage:
    python experiments/bench_speed.py [--quick] [--json PATH] [--threads N] [--train-batch 32] [--tuned-malloc]

One run times three ways of feeding the same model (the same weights) on the same random graphs:

- ``pyg``: PyG backend fed by ``Batch.from_data_list`` of per-graph ``Data`` objects, as a PyG
  ``DataLoader`` does (the ``Data`` list is built once, outside the timing);
- ``batcher``: PyG backend fed by :class:`fer_graph.graphs.batching.FixedTopologyBatcher` (the trainer's
  ``--backend pyg`` path);
- ``fast``: :class:`~fer_graph.models.gnn.DenseGraphClassifier` on dense ``x[idx]`` batches.

Model: ``GraphClassifier`` / ``DenseGraphClassifier`` with the ``TrainConfig`` defaults (3 conv blocks of
width 64, GAT 4 heads x 16 channels concatenated, LayerNorm, ELU, dropout 0.2, residual, 16-d node
embedding, flatten readout, MLP head), for GAT and GCN; node features F=6 on 468-node MediaPipe tessellation graphs, F=4 on 68-node
iBUG graphs; random features, 7 classes.

Measured (paths interleaved round by round, medians over rounds, so load from other processes hits all
paths alike):

- train graphs/s: batch 32 (the trainer default; ``--train-batch``), one AdamW step per batch: batch
  assembly, forward, cross-entropy, backward, optimizer step (no augmentation). Each path uses the
  optimizer its training code uses: default (foreach) AdamW for ``pyg`` and ``batcher``, fused AdamW for
  ``fast`` (as ``fit_gnn`` with ``backend="fast"``); the step times of both optimizers on this model are
  reported too, to separate that gain from the graph code's;
- inference graphs/s: batch 256, eval mode, no grad (batch assembly + forward); the fast model splits such
  batches into chunks of at most ``DenseGraphClassifier.infer_chunk_nodes`` nodes (4 x 64 graphs of 468
  nodes; 68-node batches stay whole). It is also timed in one pass (the model's ``infer_chunk_nodes = 0``), in
  the same rounds: ``infer_graphs_per_s_one_pass``, ``infer_speedup_vs_one_pass`` = fast / that,
  ``infer_chunks`` (``DenseGraphClassifier.inference_chunks``);
- latency: one graph (batch 1), eval mode, no grad, median ms;
- peak memory: high-water mark of live tensor bytes allocated during one train step / one inference
  batch, from the torch profiler's memory events (caches warmed first; parameters and data excluded);
- conv-only: the three conv layers alone (width 64, no norm/activation/dropout/readout), PyG convs on
  the batcher's flat batch vs the fast convs (same weights): forward+backward of a sum at the train
  batch and forward at batch 256, to separate message passing from the model's per-node dense work;
- breakdown: one training step of the full model with the conv layers swapped for identities gives the
  cost of everything else (input layer, norms, ELU, dropout, residuals, readout, head, loss, optimizer);
  the difference to the full step is the conv layers' (projections + message passing);
- projection GFLOP/s: FLOPs of the fast path's matmuls (``aten::mm``/``addmm``/``linear``, counted by the
  profiler) over their own CPU time in one training step, next to a float32 256x256 matmul on the same
  threads.

``OMP_WAIT_POLICY=PASSIVE`` is set unless already set (busy-waiting OpenMP threads slow small steps down
badly when the machine has other load; docs/speed.md). ``--tuned-malloc`` calls glibc ``mallopt`` so large
tensors come from a heap that is never trimmed (mmap threshold 1 GiB, trim threshold 2 GiB): with glibc's
defaults every large tensor is a fresh ``mmap`` whose pages fault in, which costs the PyG paths much
system time. ``--quick`` runs fewer rounds (under a minute).
JSON keys ``gat``/``gcn`` hold the 468-node results (speedups = fast / stock PyG in this run),
``ibug68`` the 68-node ones, ``rows`` every measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402
from torch_geometric.data import Batch, Data  # noqa: E402
from torch_geometric.nn import GATConv, GCNConv  # noqa: E402

from fer_graph.graphs.batching import FixedTopologyBatcher  # noqa: E402
from fer_graph.graphs.topology import IBUG68, MEDIAPIPE468, Topology  # noqa: E402
from fer_graph.models.gnn import DenseGraphClassifier, GraphClassifier  # noqa: E402
from fer_graph.models.fast import FastGATConv, FastGCNConv  # noqa: E402
from fer_graph.training import TrainConfig  # noqa: E402

PATHS = ("pyg", "batcher", "fast")
INFER_BATCH, NUM_CLASSES = 256, 7


class Setup:
    """One (topology, conv): data, the three models (same weights) and their step functions."""

    def __init__(self, topology: Topology, conv: str, in_channels: int, graphs: int, train_batch: int) -> None:
        cfg = TrainConfig()
        self.train_batch = train_batch
        self.topology, self.conv, v = topology, conv, topology.num_nodes
        self.kwargs = dict(conv=conv, hidden_channels=cfg.hidden, num_layers=cfg.layers, heads=cfg.heads,
                           dropout=cfg.dropout, node_embedding=cfg.node_embedding, num_nodes=v,
                           readout=cfg.readout, norm=cfg.norm)
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(graphs, v, in_channels, generator=gen)
        self.y = torch.randint(0, NUM_CLASSES, (graphs,), generator=gen)
        self.order = torch.randperm(graphs, generator=gen)
        self.edge_index = topology.edge_index
        self.data = [Data(x=self.x[g], edge_index=self.edge_index, node_id=torch.arange(v)) for g in range(graphs)]
        self.batcher = FixedTopologyBatcher(self.edge_index, v)
        torch.manual_seed(0)
        ref = GraphClassifier(in_channels, NUM_CLASSES, **self.kwargs)
        self.models = {}
        for path in PATHS:
            cls = DenseGraphClassifier if path == "fast" else GraphClassifier
            m = cls(in_channels, NUM_CLASSES, **self.kwargs)
            m.load_state_dict(ref.state_dict())
            self.models[path] = m
        # the optimizer each path's training uses: a PyG user and fit_gnn's PyG path take the default AdamW,
        # fit_gnn's fast path the fused one
        self.opts = {p: torch.optim.AdamW(m.parameters(), lr=2e-3, fused=True if p == "fast" else None)
                     for p, m in self.models.items()}
        self.cursor = 0

    def indices(self, n: int) -> torch.Tensor:
        if self.cursor + n > len(self.order):
            self.cursor = 0
        idx = self.order[self.cursor:self.cursor + n]
        self.cursor += n
        return idx

    def logits(self, path: str, idx: torch.Tensor) -> torch.Tensor:
        model = self.models[path]
        if path == "pyg":
            b = Batch.from_data_list([self.data[int(i)] for i in idx])
            return model(b.x, b.edge_index, b.batch, b.node_id, num_graphs=len(idx))
        if path == "batcher":
            return model(*self.batcher(self.x[idx]), num_graphs=len(idx))
        return model(self.x[idx], self.edge_index)

    def train_step(self, path: str) -> None:
        model, opt = self.models[path], self.opts[path]
        model.train()
        idx = self.indices(self.train_batch)
        loss = F.cross_entropy(self.logits(path, idx), self.y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer(self, path: str, n: int) -> None:
        self.models[path].eval()
        self.logits(path, self.indices(n))


class _Skip(torch.nn.Module):
    def forward(self, h: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return h


def breakdown(setup: Setup, rounds: int, reps: int) -> dict:
    """Per-path ms of a training step: conv layers vs the rest of the model and the optimizer step."""
    out = {}
    for path in ("pyg", "fast"):
        model = setup.models[path]
        convs = model.convs
        full, rest = [], []
        for _ in range(rounds):
            full.append(_seconds(lambda: setup.train_step(path), reps))
            model.convs = torch.nn.ModuleList(_Skip() for _ in convs)
            rest.append(_seconds(lambda: setup.train_step(path), reps))
            model.convs = convs
        opt = setup.opts[path]
        step = 1e3 * _seconds(opt.step, reps)
        full_ms, rest_ms = 1e3 * statistics.median(full), 1e3 * statistics.median(rest)
        out[path] = {"step_ms": full_ms, "convs_ms": full_ms - rest_ms, "rest_ms": rest_ms - step,
                     "optimizer_ms": step}
    return out


def conv_only(setup: Setup, rounds: int, reps: int) -> dict:
    """Speedups of a 3-conv stack alone: fast convs vs PyG convs on the batcher's flat batch."""
    v, ei = setup.topology.num_nodes, setup.edge_index
    torch.manual_seed(0)
    pyg = [GCNConv(64, 64) if setup.conv == "gcn" else GATConv(64, 16, heads=4) for _ in range(3)]
    fast = [(FastGCNConv if setup.conv == "gcn" else FastGATConv).from_pyg(c) for c in pyg]
    tb = setup.train_batch
    times = {(k, n): [] for k in ("pyg", "fast") for n in (tb, INFER_BATCH)}
    inputs = {n: torch.randn(n, v, 64, requires_grad=n == tb) for n in (tb, INFER_BATCH)}
    weight = torch.randn(tb, v, 64)  # loss sum(h * weight): a dense, contiguous output gradient

    def run(kind: str, n: int) -> None:
        x = inputs[n]
        with torch.set_grad_enabled(n == tb):
            if kind == "pyg":
                h, e, _, _ = setup.batcher(x)
                for c in pyg:
                    h = c(h, e)
            else:
                h = x
                for c in fast:
                    h = c(h, ei)
            if n == tb:
                (h.view(tb, v, 64) * weight).sum().backward()

    for key in times:
        run(*key)
    for _ in range(rounds):
        for key in times:
            times[key].append(_seconds(lambda: run(*key), reps))
    med = {k: statistics.median(t) for k, t in times.items()}
    return {"train_speedup": med["pyg", tb] / med["fast", tb],
            "infer_speedup": med["pyg", INFER_BATCH] / med["fast", INFER_BATCH],
            "train_ms_pyg": 1e3 * med["pyg", tb], "train_ms_fast": 1e3 * med["fast", tb]}


def _seconds(fn, reps: int) -> float:
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def peak_tensor_mb(fn) -> float:
    """High-water mark of live tensor bytes allocated while ``fn`` runs (torch profiler memory events)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak / 2**20


def projection_gflops(fn) -> float:
    """GFLOP/s of the matmuls run by ``fn``: profiler-counted FLOPs over their self CPU time."""
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        fn()
    rows = [r for r in prof.key_averages() if r.key in ("aten::mm", "aten::addmm", "aten::linear", "aten::bmm")]
    flops = sum(r.flops for r in rows)
    us = sum(r.self_cpu_time_total for r in rows)
    return flops / us / 1e3 if us else float("nan")


def matmul256_gflops(reps: int = 200) -> float:
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    for _ in range(10):
        a @ b
    return 2 * 256**3 / _seconds(lambda: a @ b, reps) / 1e9


def bench(setup: Setup, rounds: int, train_steps: int, infer_batches: int, latency_reps: int) -> list[dict]:
    fast, one_pass = setup.models["fast"], []
    chunk_nodes = fast.infer_chunk_nodes
    for path in PATHS:  # warm-up: caches, allocator, first-call overheads (and compilation)
        setup.train_step(path)
        setup.infer(path, INFER_BATCH)
        setup.infer(path, 1)
    fast.infer_chunk_nodes = 0
    setup.infer("fast", INFER_BATCH)
    fast.infer_chunk_nodes = chunk_nodes
    train = {p: [] for p in PATHS}
    infer = {p: [] for p in PATHS}
    lat = {p: [] for p in PATHS}
    for _ in range(rounds):
        for path in PATHS:
            train[path].append(_seconds(lambda: setup.train_step(path), train_steps))
            infer[path].append(_seconds(lambda: setup.infer(path, INFER_BATCH), infer_batches))
            lat[path].append(_seconds(lambda: setup.infer(path, 1), latency_reps))
        fast.infer_chunk_nodes = 0  # the fast path's inference in one pass
        one_pass.append(_seconds(lambda: setup.infer("fast", INFER_BATCH), infer_batches))
        fast.infer_chunk_nodes = chunk_nodes
    rows = []
    for path in PATHS:
        rows.append({
            "topology": setup.topology.name, "conv": setup.conv, "path": path,
            "train_graphs_per_s": setup.train_batch / statistics.median(train[path]),
            "infer_graphs_per_s": INFER_BATCH / statistics.median(infer[path]),
            "latency_ms_b1": 1e3 * statistics.median(lat[path]),
            "peak_mb_train": peak_tensor_mb(lambda: setup.train_step(path)),
            "peak_mb_infer": peak_tensor_mb(lambda: setup.infer(path, INFER_BATCH)),
        })
    rows[-1]["infer_graphs_per_s_one_pass"] = INFER_BATCH / statistics.median(one_pass)
    rows[-1]["infer_chunks"] = len(fast.inference_chunks(INFER_BATCH))
    rows[-1]["proj_gflops_train"] = projection_gflops(lambda: setup.train_step("fast"))
    rows[-1]["adamw_ms"] = adamw_ms(setup.models["fast"])
    return rows


def adamw_ms(model: torch.nn.Module, reps: int = 5) -> dict:
    """Step time of the default (foreach) and the fused AdamW on ``model``'s parameters (random grads)."""
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    out = {}
    for name, fused in (("foreach", None), ("fused", True)):
        opt = torch.optim.AdamW(params, lr=2e-3, fused=fused)
        opt.step()
        out[name] = 1e3 * _seconds(opt.step, reps)
    return out


def summary(rows: list[dict], mm256: float) -> dict:
    by = {r["path"]: r for r in rows}
    fast, pyg, bat = by["fast"], by["pyg"], by["batcher"]
    return {
        "train_graphs_per_s": fast["train_graphs_per_s"],
        "train_speedup": fast["train_graphs_per_s"] / pyg["train_graphs_per_s"],
        "train_speedup_vs_batcher": fast["train_graphs_per_s"] / bat["train_graphs_per_s"],
        "infer_graphs_per_s": fast["infer_graphs_per_s"],
        "infer_speedup": fast["infer_graphs_per_s"] / pyg["infer_graphs_per_s"],
        "infer_graphs_per_s_one_pass": fast["infer_graphs_per_s_one_pass"],
        "infer_speedup_vs_one_pass": fast["infer_graphs_per_s"] / fast["infer_graphs_per_s_one_pass"],
        "infer_chunks": fast["infer_chunks"],
        "latency_ms_b1": fast["latency_ms_b1"],
        "latency_speedup": pyg["latency_ms_b1"] / fast["latency_ms_b1"],
        "peak_mb_train": fast["peak_mb_train"], "peak_mb_train_pyg": pyg["peak_mb_train"],
        "proj_gflops_train": fast["proj_gflops_train"],
        "adamw_ms": fast["adamw_ms"],
        "proj_fraction_of_matmul256": fast["proj_gflops_train"] / mm256,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one round, fewer repetitions (< 1 min)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--tuned-malloc", action="store_true", help="glibc mallopt: no mmap/trim for big tensors")
    p.add_argument("--train-batch", type=int, default=32, help="training batch size (default 32, as TrainConfig)")
    args = p.parse_args(argv)
    if args.tuned_malloc:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 31)  # M_TRIM_THRESHOLD
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, train_steps, infer_batches, latency_reps = (1, 2, 1, 5) if args.quick else (5, 4, 2, 20)
    t0 = time.perf_counter()
    mm256 = matmul256_gflops()
    results: dict = {"config": {
        "threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch": torch.__version__, "train_batch": args.train_batch, "infer_batch": INFER_BATCH, "rounds": rounds,
        "train_steps_per_round": train_steps, "infer_batches_per_round": infer_batches,
        "model": None, "in_channels": {"mediapipe468": 6, "ibug68": 4}, "quick": args.quick,
        "tuned_malloc": args.tuned_malloc}, "matmul256_gflops": mm256,
        "rows": []}
    for topology, in_channels in ((MEDIAPIPE468, 6), (IBUG68, 4)):
        for conv in ("gat", "gcn"):
            setup = Setup(topology, conv, in_channels, graphs=512, train_batch=args.train_batch)
            rows = bench(setup, rounds, train_steps, infer_batches, latency_reps)
            results["rows"] += rows
            s = summary(rows, mm256)
            s["conv_only"] = conv_only(setup, rounds, 1 if args.quick else 2)
            s["breakdown_ms"] = breakdown(setup, rounds, 1 if args.quick else train_steps)
            if topology is MEDIAPIPE468:
                results[conv] = s
            else:
                results.setdefault("ibug68", {})[conv] = s
            results["config"]["model"] = {k: v for k, v in setup.kwargs.items() if k not in ("conv", "num_nodes")}
    results["config"]["seconds"] = time.perf_counter() - t0
    print(format_table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def format_table(results: dict) -> str:
    head = (f"{'graph':<13}{'conv':<5}{'path':<8}{'train g/s':>10}{'infer g/s':>10}{'b1 ms':>8}"
            f"{'peak MB train':>14}{'peak MB infer':>14}")
    lines = [head, "-" * len(head)]
    for r in results["rows"]:
        lines.append(f"{r['topology']:<13}{r['conv']:<5}{r['path']:<8}{r['train_graphs_per_s']:>10.0f}"
                     f"{r['infer_graphs_per_s']:>10.0f}{r['latency_ms_b1']:>8.2f}{r['peak_mb_train']:>14.1f}"
                     f"{r['peak_mb_infer']:>14.1f}")
    lines.append("")
    for name, s in (("468 gat", results["gat"]), ("468 gcn", results["gcn"]),
                    ("68 gat", results["ibug68"]["gat"]), ("68 gcn", results["ibug68"]["gcn"])):
        conv = s["conv_only"]
        how = [f"{s['infer_chunks']} chunks"] if s["infer_chunks"] > 1 else []
        chunks = (f" ({', '.join(how)}: x{s['infer_speedup_vs_one_pass']:.2f} over one eager pass)"
                  if how else " (one eager pass)")
        lines.append(f"{name}: fast/pyg train x{s['train_speedup']:.1f} (vs batcher "
                     f"x{s['train_speedup_vs_batcher']:.1f}), inference x{s['infer_speedup']:.1f}{chunks}, "
                     f"latency x{s['latency_speedup']:.1f}; convs alone: train x{conv['train_speedup']:.1f}, "
                     f"inference x{conv['infer_speedup']:.1f}")
        for path, b in s["breakdown_ms"].items():
            lines.append(f"    {path:<5} train step {b['step_ms']:.0f} ms = convs {b['convs_ms']:.0f} + rest of "
                         f"model {b['rest_ms']:.0f} + optimizer {b['optimizer_ms']:.0f}")
        lines.append(f"    fast projections {s['proj_gflops_train']:.0f} GFLOP/s = "
                     f"{100 * s['proj_fraction_of_matmul256']:.0f}% of a 256x256 matmul "
                     f"({results['matmul256_gflops']:.0f} GFLOP/s); AdamW step foreach "
                     f"{s['adamw_ms']['foreach']:.1f} ms, fused {s['adamw_ms']['fused']:.1f} ms")
    lines.append(f"threads={results['config']['threads']}, {results['config']['seconds']:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The AdamW step of each model: PyTorch's for-loop, foreach and fused implementations.

The recipe's optimizer (``hrcn_lib.optimization.make_optimizer``: AdamW, decoupled weight
decay) updates every parameter once per optimizer step. The update is memory-bound: each
implementation reads and writes the weights, gradients and two moment buffers, the for-loop
one once per elementwise operation, the fused one once. At 224 x 448 AlexNet (101 M
parameters) and VGG-16-BN (237 M) carry most of theirs in fully connected layers that cost
little arithmetic per sample, so on a CPU their optimizer step is a visible share of a batch of
16.

For each model: the median of ``--steps`` timed steps (after one untimed) of each
implementation on random gradients, in ms per step and per sample at the recipe's batch of 16,
and the largest difference of the weights after the steps against the for-loop one.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_optimizer.py [--steps 10]

About a minute on a 2-core CPU. Results in benchmarks/README.md ("The optimizer step").
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from datetime import datetime, timezone

import torch

from hrcn_lib.models import build_model
from hrcn_lib.names import pair_label
from hrcn_lib.throughput import machine

#: (model, dataset) pairs measured: the input size decides nothing here, the parameters do.
PAIRS: tuple[tuple[str, str], ...] = (("alexnet", "lcid-resize"), ("vgg", "lcid-resize"),
                                      ("resnet", "lcid-resize"), ("hr-celestialnet", "lcid"))
IMPLEMENTATIONS: dict[str, dict[str, bool]] = {"for-loop": {"foreach": False},
                                              "foreach": {"foreach": True},
                                              "fused": {"fused": True}}
BATCH = 16


def time_steps(model: torch.nn.Module, options: dict[str, bool], steps: int
               ) -> tuple[float, torch.nn.Module]:
    """Median seconds of one AdamW step (lr 1e-3, weight decay 0.05) over ``steps`` steps
    after one untimed, on fixed random gradients; returns it and the stepped model."""
    net = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(0)
    for p in net.parameters():
        p.grad = torch.randn(p.shape, generator=gen) * 1e-3
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05, **options)
    opt.step()
    seconds = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.step()
        seconds.append(time.perf_counter() - t)
    return statistics.median(seconds), net


def max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """Largest absolute difference between the two models' parameters."""
    with torch.no_grad():
        return max(float((x - y).abs().max()) for x, y in zip(a.parameters(), b.parameters(),
                                                              strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per implementation")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}; torch "
          f"{torch.__version__}")
    print("| model | parameters (M) | " + " | ".join(f"{k} ms/step" for k in IMPLEMENTATIONS)
          + f" | fused ms/sample (batch {BATCH}) | for-loop/fused | max weight diff fused |")
    print("|---|---|" + "---|" * (len(IMPLEMENTATIONS) + 3))
    for model_name, dataset in PAIRS:
        model = build_model(model_name, dataset)
        n = sum(p.numel() for p in model.parameters()) / 1e6
        times, nets = {}, {}
        for name, options in IMPLEMENTATIONS.items():
            times[name], nets[name] = time_steps(model, options, args.steps)
        diff = max_difference(nets["fused"], nets["for-loop"])
        print(f"| {pair_label(model_name, dataset)} | {n:.1f} | "
              + " | ".join(f"{1e3 * times[k]:.1f}" for k in IMPLEMENTATIONS)
              + f" | {1e3 * times['fused'] / BATCH:.2f} | "
                f"{times['for-loop'] / times['fused']:.2f} | {diff:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

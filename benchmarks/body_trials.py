"""Bodies or exposures: the same number of raw files spread over more or fewer bodies.

Simulates LCID-sim with the given bodies and exposures per body (NSC bodies get the profile's
``nsc_exposure_factor`` times as many), splits it by body like the book, trains ResNet-18
(two seeds) and AlexNet on LCID-Resize with the ``record-cpu`` recipe (AdamW, one-cycle peak
1e-3, flips, batch 16, 20 epochs) and writes a small record (``hrcn_lib.recording``): test
accuracy with its 95 % interval (bootstrap over bodies) beside the majority fraction, in
``<out>/metrics.csv``. The simulator and the recipe are untouched; only the profile's body and
exposure counts change.

    PYTHONPATH=. .venv/bin/python benchmarks/body_trials.py --bodies-galaxy 96 \\
        --bodies-nsc 46 --exposures 1 --out runs/body_trials/96_46_1

About 25 minutes on 2 cores (simulation ~8, three trainings ~6 each). Results in
benchmarks/README.md ("Bodies or exposures").
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from hrcn_lib.profiles import Profile, get_profile
from hrcn_lib.recording import make_record


def trial_profile(bodies_galaxy: int, bodies_nsc: int, exposures: int) -> Profile:
    """``record-cpu`` with the given LCID sizes, training only ResNet-18 (seeds 0 and 1) and
    AlexNet (seed 0) on LCID-Resize for 20 epochs; no Grad-CAM, two timed samples."""
    base = get_profile("record-cpu")
    seeds = {"resnet_lcid-resize": 2, "alexnet_lcid-resize": 1}
    runs = tuple(replace(r, enabled=True, epochs=20, seeds=seeds[r.key]) if r.key in seeds
                 else replace(r, enabled=False, reason="body trial: the two cheap pairs only")
                 for r in base.runs)
    return base.with_overrides(name=f"body-trial-{bodies_galaxy}-{bodies_nsc}-{exposures}",
                               bodies_galaxy=bodies_galaxy, bodies_nsc=bodies_nsc,
                               exposures_per_body=exposures, runs=runs,
                               paper_recipe_pairs=(), timing_samples=2, gradcam_per_set=0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bodies-galaxy", type=int, required=True)
    p.add_argument("--bodies-nsc", type=int, required=True)
    p.add_argument("--exposures", type=int, required=True, help="raw files per galaxy body")
    p.add_argument("--out", type=Path, required=True, help="the trial's record directory")
    args = p.parse_args(argv)
    prof = trial_profile(args.bodies_galaxy, args.bodies_nsc, args.exposures)
    make_record(prof, args.out, work_dir=Path(f"{args.out}_work"), force=True,
                command=" ".join(["benchmarks/body_trials.py", *(argv or sys.argv[1:])]))
    print(f"{args.out / 'metrics.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

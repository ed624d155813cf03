"""Short training trials of recipes on one pair: does the recipe learn within a CPU budget?

Each trial trains one model/data-set pair on the body-level training split of an LCID-sim
folder (``split_by_body``, test fraction 0.2, seed 0: the book's split) with one recipe
(:class:`hrcn_lib.train.TrainConfig`), evaluates it on the test split, and appends a row to
a CSV: test accuracy with its 95 % interval (bootstrap over bodies), the majority-class
fraction of the test set, how many testing samples got the same answer
(:func:`hrcn_lib.metrics.answers_alike`), the last epoch's training loss and accuracy, and
the wall time; the testing predictions are kept in the trial's run folder
(``test_predictions.csv``).
The simulator is not touched: every trial reads the same data.

To *choose* a recipe without looking at the testing set, ``--select-on validation`` carves a
validation split out of the training bodies (``split_by_body`` of the training split,
``--validation-fraction``, seed ``--validation-seed``), trains on the rest and evaluates on the
validation bodies only; the testing split is then neither trained on nor read. The row says
which set it scored (``eval_set``) and adds the mean negative log-likelihood of the true class
(``nll``, nats, scikit-learn's ``log_loss``), which separates recipes that an accuracy over a
few dozen samples cannot.

    PYTHONPATH=. .venv/bin/python benchmarks/recipe_trials.py --data /work/wt/data_cpu \\
        --out runs/trials --name adamw-onecycle-flips --model resnet --dataset lcid-resize \\
        --optimizer adamw --lr 1e-3 --schedule onecycle --flips --batch-size 16 --epochs 25

Results of the trials behind the record profiles are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import time
from pathlib import Path


def _cpu_flags() -> str:
    """The CPU's vector flags that matter for training speed (lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    flags = next((ln.split(":", 1)[1].split() for ln in out.splitlines()
                  if ln.startswith("Flags")), [])
    keep = [f for f in flags if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")]
    return " ".join(keep)


_FIELDS: tuple[str, ...] = (
    "name", "pair", "optimizer", "lr", "momentum", "weight_decay", "schedule", "flips",
    "batch_size", "epochs", "seed", "n_train", "eval_set", "n_eval", "n_eval_bodies",
    "precision", "train_loss", "train_acc", "accuracy", "acc_lo", "acc_hi", "majority",
    "f1_galaxy", "f1_nsc", "nll", "alike", "train_s", "threads", "cpu_flags", "load")


def _check_results_file(path: Path) -> str | None:
    """Why rows cannot be appended to ``path`` (another header), or None if they can."""
    if not path.exists():
        return None
    with open(path, newline="") as fh:
        header = next(csv.reader(fh), [])
    if tuple(header) != _FIELDS:
        return (f"--results {path}: its header has other columns ({len(header)}) than this "
                f"script writes ({len(_FIELDS)}; an older version's file?); give a new file")
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="LCID-sim folder (lcid_manifest.csv)")
    p.add_argument("--out", type=Path, required=True, help="folder of the trial run folders")
    p.add_argument("--name", required=True, help="trial name (its run folder)")
    p.add_argument("--model", default="resnet")
    p.add_argument("--dataset", default="lcid-resize")
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adamw"))
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", default="constant", choices=("constant", "onecycle"))
    p.add_argument("--flips", action="store_true")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--micro-batch", type=int, default=None)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="auto")
    p.add_argument("--max-train", type=int, default=None, help="cap on training samples")
    p.add_argument("--select-on", default="test", choices=("test", "validation"),
                   help="score on the testing split, or on validation bodies carved from training")
    p.add_argument("--validation-fraction", type=float, default=0.2)
    p.add_argument("--validation-seed", type=int, default=0)
    p.add_argument("--results", type=Path, default=None,
                   help="CSV to append to (default: <out>/trials.csv)")
    args = p.parse_args(argv)
    if not 0.0 < args.validation_fraction < 1.0:
        p.error(f"--validation-fraction {args.validation_fraction}: expected 0 < f < 1")
    out = args.results or args.out / "trials.csv"
    refused = _check_results_file(out)
    if refused:
        p.error(refused)

    import torch
    from sklearn.metrics import log_loss

    from hrcn_lib.chapters.context import limit_samples
    from hrcn_lib.evaluate import bootstrap_accuracy, evaluate, majority_fraction
    from hrcn_lib.manifest import read_manifest, split_by_body
    from hrcn_lib.metrics import answers_alike
    from hrcn_lib.names import CLASS_NAMES
    from hrcn_lib.train import TrainConfig, train

    lcid = read_manifest(args.data / "lcid_manifest.csv")
    train_df, eval_df = split_by_body(lcid, test_fraction=0.2, seed=0)
    if args.select_on == "validation":
        train_df, eval_df = split_by_body(train_df, test_fraction=args.validation_fraction,
                                          seed=args.validation_seed)
    train_df = limit_samples(train_df, args.max_train, args.seed)
    cfg = TrainConfig(model_name=args.model, dataset_name=args.dataset, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                      momentum=args.momentum, weight_decay=args.weight_decay,
                      schedule=args.schedule, flips=args.flips, seed=args.seed,
                      precision=args.precision,
                      micro_batch=args.micro_batch or args.batch_size, checkpoint_every=0)
    run_dir = args.out / args.name
    cache = args.out / "cache"
    t0 = time.perf_counter()
    res = train(cfg, train_df, run_dir, force=True, cache_dir=cache, progress=False)
    train_s = time.perf_counter() - t0
    ev = evaluate(res.model, eval_df, args.dataset, cache_dir=cache, timing_samples=0,
                  progress=False)
    pred = ev.predictions
    correct = (pred["label"] == pred["prediction"]).to_numpy()
    lo, hi = bootstrap_accuracy(correct, pred["body"])
    pred.to_csv(run_dir / f"{args.select_on}_predictions.csv", index=False)
    nll = log_loss(pred["label"] == CLASS_NAMES[1], pred["p_nsc"], labels=[False, True])
    last = res.history.iloc[-1]
    row = {"name": args.name, "pair": f"{args.model}_{args.dataset}", "optimizer": args.optimizer,
           "lr": args.lr, "momentum": args.momentum, "weight_decay": args.weight_decay,
           "schedule": args.schedule, "flips": args.flips, "batch_size": args.batch_size,
           "epochs": args.epochs, "seed": args.seed, "n_train": len(train_df),
           "eval_set": args.select_on, "n_eval": len(pred),
           "n_eval_bodies": pred["body"].nunique(), "precision": res.precision,
           "train_loss": round(float(last["loss"]), 4),
           "train_acc": round(float(last["accuracy"]), 3),
           "accuracy": round(float(ev.metrics["accuracy"]), 3), "acc_lo": round(lo, 3),
           "acc_hi": round(hi, 3), "majority": round(majority_fraction(pred["label"]), 3),
           "f1_galaxy": round(float(ev.metrics["f1_galaxy"]), 3),
           "f1_nsc": round(float(ev.metrics["f1_nsc"]), 3),
           "nll": round(nll, 4), "alike": answers_alike(pred["p_nsc"]), "train_s": round(train_s),
           "threads": torch.get_num_threads(), "cpu_flags": _cpu_flags(),
           "load": os.getloadavg()[0]}
    new = not out.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
    print(", ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

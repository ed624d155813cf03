"""One pair's run in two records of the same split, compared sample by sample.

Prints, for the testing set and LCID-Blurry, each record's accuracy (95 % interval, bootstrap
over bodies), the difference NEW minus OLD paired over the samples both evaluated (the same
body draws for both runs, :func:`hrcn_lib.metrics.bootstrap_difference`) and how many samples
only one of the two runs classifies right; beside them each run's epochs, last training
accuracy and the commit that trained it. This is how benchmarks/README.md compares a remade
record with the one it replaces (e.g. HR-CelestialNet at 16 against 8 epochs).

    PYTHONPATH=. .venv/bin/python benchmarks/compare_records.py OLD NEW [--pair PAIR]

OLD and NEW are record directories or ``REVISION:PATH`` of this repository (read with ``git
archive``), e.g. ``d4f7f4b:records/record-cpu records/record-cpu``. Exit 2 for a bad argument,
1 when a record cannot be read or the two do not share the pair's samples.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import pandas as pd

from hrcn_lib.chapters.wording import difference_text
from hrcn_lib.metrics import bootstrap_accuracy, bootstrap_difference, correctness
from hrcn_lib.records import Record, RecordError, read_record

KEYS = ["obsid", "hdu", "body"]


def _from_git(spec: str, into: Path) -> Path:
    """The folder ``PATH`` of ``REVISION:PATH`` extracted under ``into``.

    Raises:
        RecordError: git cannot read it (names the revision, the path and git's message).
    """
    revision, path = spec.split(":", 1)
    proc = subprocess.run(["git", "archive", "--format=tar", revision, path],
                          capture_output=True)
    if proc.returncode:
        raise RecordError(f"{spec}: git archive failed ({proc.stderr.decode().strip()}); give "
                          "a record directory or REVISION:PATH of this repository")
    with tarfile.open(fileobj=BytesIO(proc.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / path


def load(spec: str, scratch: Path) -> Record:
    """A record from a directory or ``REVISION:PATH`` (see the module docstring).

    Raises:
        RecordError: missing or inconsistent record (:func:`hrcn_lib.records.read_record`).
    """
    if ":" in spec and not Path(spec).exists():
        return read_record(_from_git(spec, scratch / str(len(list(scratch.iterdir())))))
    return read_record(spec)


def _correct(record: Record, pair: str, set_name: str) -> pd.DataFrame:
    """``obsid, hdu, body, ok`` of a record's main run of ``pair`` on ``set_name``."""
    return correctness(record.run_predictions(pair, set_name))


def _run_line(record: Record, pair: str) -> str:
    """Epochs, last training accuracy and the training commit of a record's main run."""
    epochs = record.info.get("recipes", {}).get(pair, {}).get("epochs", "?")
    curve = record.curves.get(pair)
    last = (f"{float(curve['accuracy'].iloc[-1]):.3f}"
            if curve is not None and "accuracy" in curve.columns and len(curve) else "?")
    made_by = record.info.get("reused_runs", {}).get(pair, record.info)
    commit = str(made_by.get("git", {}).get("commit", "?"))[:7]
    return f"{epochs} epochs, training accuracy over the last epoch {last}, trained at {commit}"


def compare(old: Record, new: Record, pair: str, set_name: str) -> dict[str, object]:
    """NEW's run of ``pair`` on ``set_name`` against OLD's, paired over the shared samples.

    Returns:
        ``n`` (shared samples), ``old``/``new`` (accuracy, low, high), ``diff`` (NEW minus
        OLD, low, high; fractions), ``only_new``/``only_old`` (samples right in one run only).

    Raises:
        RecordError: a record lacks the run, or the two runs share no sample, or they did
            not evaluate the same samples (different splits cannot be paired).
    """
    a, b = _correct(old, pair, set_name), _correct(new, pair, set_name)
    for record, c in ((old, a), (new, b)):
        if c.empty:
            raise RecordError(f"{record.root}: no {set_name} predictions of {pair}")
    both = a.merge(b, on=KEYS, suffixes=("_old", "_new"))
    if len(both) != len(a) or len(both) != len(b):
        raise RecordError(f"{pair} on {set_name}: the records evaluated different samples "
                          f"({len(a)} and {len(b)}, {len(both)} shared); only runs on the same "
                          "split can be paired")
    ok_old, ok_new = both["ok_old"].to_numpy(), both["ok_new"].to_numpy()
    return {"n": len(both),
            "old": (ok_old.mean(), *bootstrap_accuracy(ok_old, both["body"])),
            "new": (ok_new.mean(), *bootstrap_accuracy(ok_new, both["body"])),
            "diff": bootstrap_difference(ok_new, ok_old, both["body"]),
            "only_new": int((ok_new & ~ok_old).sum()), "only_old": int((ok_old & ~ok_new).sum())}


def _fmt(v: tuple[float, float, float], pp: bool = False) -> str:
    if pp:
        return difference_text(*v)
    return f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", help="the earlier record: a directory or REVISION:PATH")
    p.add_argument("new", help="the later record: a directory or REVISION:PATH")
    p.add_argument("--pair", default="hr-celestialnet_lcid",
                   help="model_dataset key, e.g. resnet_lcid-resize (default %(default)s)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            old, new = load(args.old, Path(tmp)), load(args.new, Path(tmp))
            rows = {s: compare(old, new, args.pair, s) for s in ("test", "blurry")}
        except RecordError as exc:
            print(f"compare_records: {exc}", file=sys.stderr)
            return 1
    print(f"OLD {args.old}: {_run_line(old, args.pair)}")
    print(f"NEW {args.new}: {_run_line(new, args.pair)}")
    print(f"| {args.pair} | samples | OLD [95 %] | NEW [95 %] | NEW minus OLD, paired "
          "over bodies | right only in NEW / only in OLD |")
    print("|---|---|---|---|---|---|")
    for s, r in rows.items():
        print(f"| {s} | {r['n']} | {_fmt(r['old'])} | {_fmt(r['new'])} | "
              f"{_fmt(r['diff'], pp=True)} | {r['only_new']} / {r['only_old']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

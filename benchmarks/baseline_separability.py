"""How separable are LCID-sim's two classes by simple image statistics?

Each statistic alone (ROC AUC) and a logistic regression on all of them
(:mod:`hrcn_lib.simulate.realism`), cross-validated with folds grouped by body
(no body in both train and test, as in the paper's split). If this reached ~100 %,
the simulated task would be trivial and every model comparison in the book
meaningless; the goals (issue 13): no single statistic with AUC above 0.75, the
logistic regression between 0.6 and 0.85.

Usage::

    .venv/bin/hrcn simulate --profile cpu --out /tmp/lcid_cpu
    .venv/bin/python benchmarks/baseline_separability.py /tmp/lcid_cpu

Writes ``benchmarks/results/separability.json`` (and the per-sample statistics as CSV)
and prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from hrcn_lib.manifest import read_manifest
    from hrcn_lib.simulate.realism import separability, single_statistic_auc, statistics_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with lcid_manifest.csv")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "separability.json")
    args = parser.parse_args(argv)
    table = statistics_table(read_manifest(args.data / "lcid_manifest.csv"), progress=True)
    result = separability(table)
    aucs = single_statistic_auc(table)
    result["single_statistic_auc"] = aucs.to_dict(orient="records")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out.with_suffix(".features.csv"))
    args.out.write_text(json.dumps(result, indent=2))
    print(aucs.to_string(index=False))
    print(json.dumps({k: v for k, v in result.items() if k != "single_statistic_auc"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

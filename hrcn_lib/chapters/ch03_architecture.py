"""Chapter 3, the architecture of HR-CelestialNet (the paper's Sec. 3.1 and Table 2)."""

from __future__ import annotations

import pandas as pd
from torch import nn

from hrcn_lib.models import TABLE2
from hrcn_lib.paper_numbers import PAPER_TABLE2

__all__ = ["compare_table2", "describe_mismatches", "numbers"]

#: Table 2's printed type of each kind of row of the layer plan :data:`~hrcn_lib.models.TABLE2`.
_PRINTED_TYPE = {"conv": "Convolution", "maxpool": "Max Pooling", "fc": "Fully Connected",
                 "output": "Output"}


def _dims(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def compare_table2(layers: pd.DataFrame) -> pd.DataFrame:
    """The computed layer table of HR-CelestialNet beside the paper's Table 2, row by row.

    ``layers`` is :func:`hrcn_lib.hardware.layer_table` of HR-CelestialNet: an ``Input`` row
    and then one row per row of its layer plan :data:`hrcn_lib.models.TABLE2` (BatchNorm and
    ReLU folded into the layer before, as in the paper), so row ``k`` of each is the same
    layer as row ``k`` of :data:`hrcn_lib.paper_numbers.PAPER_TABLE2`.

    Returns:
        DataFrame indexed by Table 2's layer number with ``type``, ``output (ours)``,
        ``output (paper)`` (``"C x H x W"``), ``params (ours)``, ``params (paper)`` and
        ``match`` (bool: both agree).

    Raises:
        ValueError: ``layers`` is not HR-CelestialNet's layer table (another row count, or a
            row whose type is not the plan's).
    """
    if len(layers) != len(TABLE2) + 1 or len(PAPER_TABLE2) != len(layers):
        raise ValueError(f"compare_table2: expected the {len(TABLE2) + 1} rows of "
                         f"HR-CelestialNet's layer table (input + Table 2's layers), got "
                         f"{len(layers)}")
    rows = []
    for k, (ours, printed) in enumerate(zip(layers.itertuples(), PAPER_TABLE2, strict=True)):
        expected = "Input" if k == 0 else _PRINTED_TYPE[TABLE2[k - 1].kind]
        if ours.type != expected:
            raise ValueError(f"compare_table2: row {k} of the layer table is a {ours.type!r}, "
                             f"Table 2's plan has a {expected!r} there")
        layer, kind, _, _, out, _, params = printed
        mine, n_mine = tuple(int(v) for v in ours.output_size), int(ours.trainable_params)
        rows.append({"layer": layer, "type": kind, "output (ours)": _dims(mine),
                     "output (paper)": _dims(out), "params (ours)": n_mine,
                     "params (paper)": params, "match": mine == tuple(out) and n_mine == params})
    return pd.DataFrame(rows).set_index("layer")


def describe_mismatches(comparison: pd.DataFrame) -> str:
    """One sentence listing the rows of :func:`compare_table2` that differ (``"none"`` if none)."""
    diff = comparison.loc[~comparison["match"]]
    if diff.empty:
        return "none"
    parts = []
    for layer, row in diff.iterrows():
        what = []
        if row["output (ours)"] != row["output (paper)"]:
            what.append(f"output {row['output (ours)']} computed, {row['output (paper)']} printed")
        if row["params (ours)"] != row["params (paper)"]:
            what.append(f"{row['params (ours)']:,} parameters computed, "
                        f"{row['params (paper)']:,} printed")
        parts.append(f"layer {layer} ({row['type']}): " + ", ".join(what))
    return "; ".join(parts)


def numbers(model: nn.Module, comparison: pd.DataFrame) -> dict[str, object]:
    """The numbers the chapter's prose glues.

    Returns:
        ``n_params`` (trainable), ``n_bn`` (BatchNorm's scales and shifts among them),
        ``paper_params`` (the sum of Table 2's column), ``n_mismatch`` and ``mismatches``
        (:func:`describe_mismatches`).
    """
    return {
        "n_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "n_bn": sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
                    for p in m.parameters()),
        "paper_params": sum(row[-1] for row in PAPER_TABLE2),
        "n_mismatch": int((~comparison["match"]).sum()),
        "mismatches": describe_mismatches(comparison),
    }

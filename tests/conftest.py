"""Shared pytest fixtures.

``smoke_data``: a smoke-profile LCID-sim dataset (raw files + ``lcid_manifest.csv``
+ ``blurry_manifest.csv``), simulated once per test session by
:func:`hrcn_lib.simulate.simulate_dataset` (seed 0, 2 worker processes).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a folder holding a smoke-profile simulated dataset with both manifests."""
    from hrcn_lib.simulate import simulate_dataset

    out = tmp_path_factory.mktemp("lcid_sim_smoke")
    simulate_dataset(out, "smoke", seed=0, jobs=2, progress=False)
    return out

"""Shared pytest fixtures.

``smoke_data``: a smoke-profile LCID-sim dataset (raw files + ``lcid_manifest.csv``
+ ``blurry_manifest.csv``), simulated once per test session by
:func:`hrcn_lib.simulate.simulate_dataset` (seed 0, 2 worker processes).

``smoke_book``: the smoke-profile book (``tests/book_support.SmokeBook``: notebooks
executed by papermill on ``smoke_data``, HTML built on demand), once per session;
``HRCN_SMOKE_RUN_DIR`` points it at an existing smoke run instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a folder holding a smoke-profile simulated dataset with both manifests."""
    from hrcn_lib.profiles import get_profile
    from hrcn_lib.simulate import DatasetSizes, simulate_dataset

    out = tmp_path_factory.mktemp("lcid_sim_smoke")
    simulate_dataset(out, DatasetSizes.of(get_profile("smoke")), seed=0, jobs=2, progress=False)
    return out


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The session's smoke book, shared by the notebook and book tests."""
    from book_support import SmokeBook

    data = None if os.environ.get("HRCN_SMOKE_RUN_DIR") else request.getfixturevalue("smoke_data")
    return SmokeBook(tmp_path_factory.mktemp("smoke_book"), data)

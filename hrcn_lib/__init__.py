"""hrcn_lib: the library behind the HR-CelestialNet paper companion (Zhang et al. 2023).

The front door, imported lazily (PEP 562: ``import hrcn_lib`` imports neither torch nor
numpy; each name loads its module on first use)::

    from hrcn_lib import Predictor, build_model, load_sample

    sample = load_sample("j8dw03yeq_raw.fits", hdu=1)     # float32 (2048, 4096)
    predictor = Predictor.from_checkpoint("runs/cpu/models/hr-celestialnet_lcid")
    p_galaxy, p_nsc = predictor(sample)[0]                # or predictor.predict_file(path, 1)

========================  ====================================================
``load_sample``           :func:`hrcn_lib.preprocess.load_sample`: one raw/flt HDU ->
                          the model's float32 (2048, 4096) sample
``build_model``           :func:`hrcn_lib.models.build_model`: HR-CelestialNet and the
                          three baselines
``Predictor``             :class:`hrcn_lib.inference.Predictor`: fast inference on
                          arrays or files
``read_manifest``         :func:`hrcn_lib.manifest.read_manifest`: an LCID manifest CSV
``simulate_dataset``      :func:`hrcn_lib.simulate.simulate_dataset`: LCID-sim raw
                          files and manifests
``grad_cam``              :func:`hrcn_lib.saliency.grad_cam`: where a network looked
========================  ====================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    "load_sample": "hrcn_lib.preprocess",
    "build_model": "hrcn_lib.models",
    "Predictor": "hrcn_lib.inference",
    "read_manifest": "hrcn_lib.manifest",
    "simulate_dataset": "hrcn_lib.simulate",
    "grad_cam": "hrcn_lib.saliency",
}

__all__ = ["__version__", "load_sample", "build_model", "Predictor", "read_manifest",
           "simulate_dataset", "grad_cam"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from hrcn_lib.inference import Predictor
    from hrcn_lib.manifest import read_manifest
    from hrcn_lib.models import build_model
    from hrcn_lib.preprocess import load_sample
    from hrcn_lib.saliency import grad_cam
    from hrcn_lib.simulate import simulate_dataset


def __getattr__(name: str) -> Any:
    """Import the module of a front-door name on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hrcn_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

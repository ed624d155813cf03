"""The paper's figures (and the book's extra ones), drawn from run artefacts.

Every function takes arrays / DataFrames that other modules produced (raw SCI
arrays, samples, confusion matrices, histories, binned accuracies, layer
tables) and returns a :class:`matplotlib.figure.Figure`. Nothing here computes
a metric or reads a file: binned accuracies, confusion matrices, loaded samples
and the like come from :mod:`hrcn_lib.evaluate` / :mod:`hrcn_lib.chapters`.
Figure 1 is :func:`figure1`, Figure 2 :func:`figure2`, Figure 3
:func:`confusion_matrices`, Figure 4 :func:`misclassified_grid`.

Modules: :mod:`.detector` (raw layouts, Figure 1), :mod:`.images` (samples: thumbnails,
Figure 2, Figure 4, Grad-CAM), :mod:`.results` (Figure 3, curves, bins, bars, the network
diagram); every name is importable from :mod:`hrcn_lib.figures` itself.

Figures are created with :class:`matplotlib.figure.Figure` directly (not
``pyplot``), so a notebook shows each one exactly once (as the cell's value)
and nothing accumulates in pyplot's global state.
"""

from hrcn_lib.figures.detector import REGION_COLOURS, draw_layout, figure1, layout_figure
from hrcn_lib.figures.images import (
    display_image,
    figure2,
    misclassified_grid,
    pick_gallery_rows,
    picture_grid,
    resolution_comparison,
    saliency_grid,
    thumbnail_gallery,
)
from hrcn_lib.figures.results import (
    accuracy_by_bin,
    confusion_matrices,
    memory_bars,
    network_diagram,
    timing_bars,
    training_curves,
)

__all__ = [
    "REGION_COLOURS",
    "display_image",
    "draw_layout",
    "figure1",
    "layout_figure",
    "pick_gallery_rows",
    "picture_grid",
    "figure2",
    "thumbnail_gallery",
    "confusion_matrices",
    "training_curves",
    "accuracy_by_bin",
    "misclassified_grid",
    "saliency_grid",
    "network_diagram",
    "timing_bars",
    "memory_bars",
    "resolution_comparison",
]

"""The steps the book's chapters call: one module per chapter, each holding what its notebook
calls, plus the context they share.

* :mod:`.context` -- :func:`~.context.chapter_context` (a notebook's papermill parameters
  resolved), the data and the split (simulated or read, reused from the run directory),
  paths as the book prints them, glueing numbers into the prose.
* :mod:`.ch01_data` -- Table 1, LCID-Blurry, Figure 2.
* :mod:`.ch02_preprocessing` -- Figure 1's panels, the preprocessing times.
* :mod:`.ch03_architecture` -- Table 2 computed beside Table 2 printed.
* :mod:`.ch04_training` -- the recipe (the paper's, the record's, this build's) and the
  training of the profile's pairs.
* :mod:`.ch05_hardware` -- Table 3 estimated, measured and recorded.
* :mod:`.ch06_results` -- the evaluations and Table 4 (paper, record, this build).
* :mod:`.ch07_blurry_robustness` -- LCID-Blurry and accuracy against S/N and object fraction.
* :mod:`.ch08_misclassification` -- the causes of errors (Figure 4) and Grad-CAM.
* :mod:`.ch09_what_holds` -- every claim of the paper tested on the record, with intervals.

Each ``ensure_*`` function first looks for its finished artefact in the run directory
(:class:`hrcn_lib.paths.RunPaths`) and only computes what is missing. The domain work
itself (training, evaluation, memory, figures) lives in the library modules below; a
chapter module sets it beside the paper's numbers. A chapter is imported as a module, e.g.
``from hrcn_lib.chapters import ch06_results as chapter``.
"""

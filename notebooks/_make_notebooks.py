"""Generate the book's clean chapter notebooks (``notebooks/NN_*.ipynb``) with nbformat.

The notebooks are the reviewable *source* of the book: narrative in Markdown,
code cells that only call :mod:`hrcn_lib`. Edit this file, then run::

    .venv/bin/python notebooks/_make_notebooks.py

Each notebook gets a first code cell tagged ``parameters`` (papermill) with
``profile, run_dir, data_dir, device, seed`` (+ per-chapter overrides), and is
written without outputs. ``hrcn book`` executes them into ``book/``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''# Parameters (papermill overrides these; see hrcn_lib.bookbuild.notebook_parameters)
profile = "smoke"   # smoke | cpu | binder | paper (hrcn_lib.profiles)
run_dir = ""        # "" -> runs/<profile>
data_dir = ""       # "" -> <run_dir>/data (simulated when missing)
device = ""         # "" -> the profile's device
seed = 0            # master seed'''

SETUP = '''%matplotlib inline
import warnings

import pandas as pd
from myst_nb import glue

from hrcn_lib import chapters, figures
from hrcn_lib import paper_numbers as paper

pd.set_option("display.precision", 2)
pd.set_option("display.max_colwidth", None)
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets
ch = chapters.chapter_context(profile, run_dir or None, data_dir or None, device or None, seed)
lcid, blurry = chapters.ensure_dataset(ch)
train_df, test_df = chapters.ensure_split(ch, lcid)
print(f"profile {ch.profile.name}: run directory {chapters.shown_path(ch, ch.paths.root)}/ "
      f"(paths below are relative to it), data folder {chapters.shown_path(ch, ch.data_dir)}/")'''

WHY = '''```{{admonition}} Why ours differ from the paper's
:class: note
{text}
```'''


def md(text: str, tags: list[str] | None = None):
    cell = new_markdown_cell(text.strip())
    if tags:
        cell.metadata["tags"] = tags
    return cell


def code(text: str, tags: list[str] | None = None):
    cell = new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = tags
    return cell


def params(extra: str = ""):
    return code(PARAMETERS + ("\n" + extra.strip() if extra else ""), tags=["parameters", "hide-input"])


def setup():
    return code(SETUP, tags=["hide-input"])


def notebook(stem: str, cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating gives identical files
        cell.id = f"c{stem[:2]}-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


# ----------------------------------------------------------------------------- 01 data

NB01 = [
    md('''
# 1 The data: LCID and LCID-Blurry

## What the paper says

> "We downloaded and selected 7813 images from the Mikulski Archive for Space Telescopes (MAST)
> [...] which include 48 galaxies and 23 NSCs. The images are all single-exposure uncalibrated
> images obtained from 4101 raw FITS files."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 2.1

The paper splits LCID *by celestial body* 8:2 into training and testing sets (its Table 1,
reproduced below) and keeps a separate validation set of blurry samples, LCID-Blurry: "116
high-resolution celestial images, including 10 galaxies with 73 samples and 8 NSCs with 43
samples" (Sec. 2.3).
'''),
    params(),
    setup(),
    code('''
n_files = int(lcid["path"].nunique())
glue("n_samples", int(len(lcid)), display=False)
glue("n_files", n_files, display=False)
glue("n_train", int(len(train_df)), display=False)
glue("n_test", int(len(test_df)), display=False)
glue("test_pct", float(100 * len(test_df) / len(lcid)), display=False)
glue("n_blurry", int(len(blurry)), display=False)
glue("profile_name", ch.profile.name, display=False)
''', tags=["remove-cell"]),
    md('''
## Ours

This run (profile **{glue:text}`profile_name`**) holds {glue:text}`n_samples` LCID samples from
{glue:text}`n_files` raw files, split by body into {glue:text}`n_train` training and
{glue:text}`n_test` testing samples ({glue:text}`test_pct:.1f` % testing; the paper: 20.4 %),
and {glue:text}`n_blurry` LCID-Blurry samples. Unless `data_dir` points at a download of the real
LCID, the data are **LCID-sim**, simulated by `hrcn_lib.simulate` into the run directory the first
time this chapter runs.

### Table 1: bodies and samples

Ours (`hrcn_lib.manifest.dataset_table` on the split written to `splits/`) beside the paper's
Table 1 (`hrcn_lib.paper_numbers`):
'''),
    code('''
from hrcn_lib.manifest import dataset_table

table1 = pd.concat({"ours": dataset_table({"Training": train_df, "Testing": test_df}),
                    "paper": paper.paper_table1()}, axis=1)
table1
'''),
    md('''
### LCID-Blurry

Ours beside the paper's Sec. 2.3 numbers:
'''),
    code('''
blurry_counts = dataset_table(blurry)
blurry_counts.loc["Samples (paper)"] = [paper.PAPER_BLURRY["galaxy_samples"],
                                        paper.PAPER_BLURRY["nsc_samples"], paper.PAPER_BLURRY["samples"]]
blurry_counts.loc["Celestial bodies (paper)"] = [paper.PAPER_BLURRY["galaxy_bodies"],
                                                 paper.PAPER_BLURRY["nsc_bodies"],
                                                 paper.PAPER_BLURRY["galaxy_bodies"] + paper.PAPER_BLURRY["nsc_bodies"]]
blurry_counts
'''),
    md('''
## A sample listing (Appendix A, Table A1)

The paper's Table A1 lists samples by body, instrument, OBSID (the HST rootname of the raw
exposure), filter, coordinates and the HDU index of the chip. The first rows of our manifest, in
the same columns:
'''),
    code('''
from hrcn_lib.manifest import COLUMNS

lcid[list(COLUMNS)].head(12).style.format({"ra": "{:.6f}", "dec": "{:.6f}"})
'''),
    md('''
And the rows the paper prints (two of its OBSIDs, `ie3o05ywwq` and `j8dw03yewq`, have ten
characters: no HST rootname does, so `hrcn_lib.manifest` refuses them rather than guess):
'''),
    code('''
paper.paper_table_a1().style.format({"ra": "{:.6f}", "dec": "{:.6f}"})
'''),
    md('''
## Figure 2: clear and blurry samples

The paper's Figure 2 shows clear and blurry samples side by side. For LCID-sim, one clear and one
blurry sample of each morphology (`hrcn_lib.simulate.gallery`), with the PSF FWHM and the S/N the
simulator recorded, as the models see them after preprocessing:
'''),
    code('''
chapters.figure2(lcid, blurry, seed=ch.seed)
'''),
    md('''
## A gallery per morphology

Up to three samples of each morphology (the `morphology` column the simulator records; the body
for real data):
'''),
    code('''
column = "morphology" if "morphology" in lcid.columns else "body"
gallery = chapters.pick_rows(lcid, column, per_group=3, seed=ch.seed, max_groups=6)
figures.thumbnail_gallery(chapters.load_images(gallery),
                          [f"{r[column]}: {r['body']} ({r['label']})" for _, r in gallery.iterrows()],
                          ncols=3)
'''),
    md('''
## Using the real LCID

The authors published their manifests (`LCID_test.csv`, `blurry_validation.csv`) with the paper's
code. `hrcn fetch MANIFEST --dest DIR` downloads every raw file they name from MAST
{cite:p}`mast` (resumable, verified) and writes `DIR/lcid_manifest.csv` with local paths; pass
`data_dir=DIR` (or `hrcn book --data-dir DIR`) to run the whole book on it.

'''),
    md(WHY.format(text='''LCID-sim is simulated, and small in the `smoke` and `cpu` profiles, so
its counts differ from Table 1 by design: the number of bodies and exposures per body come from
the profile. The split follows the paper's rule (all samples of a body on one side, about 8:2 in
samples) but with few bodies the achievable fraction is coarse.''')),
]

# ----------------------------------------------------------------------------- 02 preprocessing

NB02 = [
    md('''
# 2 Preprocessing raw frames (Figure 1)

## What the paper says

> "the raw images corresponding to WFC1 and WFC2 all have 2068x4144 pixels" [...] "the raw
> images corresponding to UVIS1 and UVIS2 consist of 2070x4206 pixels." [...] "This yielded two
> CCD images with a uniform size of 2048x4096."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 2.2 and Figure 1

ACS/WFC chips carry 24 columns of physical prescan on each side and 20 rows of virtual overscan;
WFC3/UVIS chips 25 columns of physical overscan on each side, 60 columns of serial virtual
overscan between the two amplifiers' halves and 19 rows of parallel virtual overscan; the paper
crops all of them, merges the UVIS halves and drops the three UVIS rows next to the chip gap
{cite:p}`ryon2023acs,dressel2023wfc3,acsdhb,wfc3dhb`. It reports an average preprocessing time
of 60.6 ms per LCID sample and 120.6 ms per LCID-Resize sample (Table 4).
'''),
    params("timing_samples = 3  # samples timed for the preprocessing time"),
    setup(),
    md('''
## The raw layouts

Drawn from the geometry in `hrcn_lib.instruments` (the single source the preprocessing and the
simulator also read), in raw-array pixels:
'''),
    code('''
figures.layout_figure()
'''),
    code('''
chapters.layout_table().set_index(["chip", "region"])[["kind", "rows", "cols", "size"]]
'''),
    md('''
## Figure 1: a raw frame and its cropped sample

Left: the layout; middle: a raw SCI array of this run's data (DN, prescan/overscan outlined);
right: the 2048 x 4096 sample `hrcn_lib.preprocess.load_sample` cuts from it (bias-subtracted
from the overscan, normalised).
'''),
    code('''
panels = chapters.figure1_panels(lcid)
figures.figure1(panels)
'''),
    md('''
## Preprocessing time

Wall time per sample of `load_sample` (LCID) and of `load_sample` plus `cv2.resize` to 224 x 448
(LCID-Resize), on this machine:
'''),
    code('''
timing = chapters.time_preprocessing(test_df, timing_samples)
glue("pre_lcid_ms", float(timing["lcid_ms"].median()), display=False)
glue("pre_resize_ms", float(timing["lcid_resize_ms"].median()), display=False)
glue("pre_n", int(len(timing)), display=False)
timing
'''),
    md('''
Median over {glue:text}`pre_n` samples: {glue:text}`pre_lcid_ms:.1f` ms for LCID and
{glue:text}`pre_resize_ms:.1f` ms for LCID-Resize (the paper: 60.6 ms and 120.6 ms).

## LCID-Resize

The paper's low-resolution data set passes every LCID sample through `cv2.resize` to 224 x 448
(`hrcn_lib.datasets.resize_sample`, bilinear, OpenCV's default). One sample at both resolutions:
'''),
    code('''
from hrcn_lib.datasets import resize_sample

sample = panels[0][3]
figures.thumbnail_gallery([sample, resize_sample(sample)],
                          [f"LCID {sample.shape[0]} x {sample.shape[1]}", "LCID-Resize 224 x 448"],
                          ncols=2, max_pixels=512)
'''),
    md(WHY.format(text='''The frames here are simulated raw files written in the true layouts, so
the crop is the same operation as on MAST data. Times depend on the machine and on the file
system: the paper's were measured on its own (unnamed) hardware; ours on whatever ran this
notebook, with the first read of each file from disk included.''')),
]

# ----------------------------------------------------------------------------- 03 architecture

NB03 = [
    md('''
# 3 The architecture of HR-CelestialNet (Table 2)

## What the paper says

> "HR-CelestialNet consists of 12 convolutional layers, 7 max-pooling layers, and 3 fully
> connected layers. [...] the feature map is flattened into a tensor of size 512x3x11, and then
> passed through two fully connected layers, each consisting of 4096 neurons."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 3.1

Its Table 2 lists each layer's kernel, stride, output size and trainable parameters, for a
1 x 2048 x 4096 input and without padding anywhere.
'''),
    params(),
    code('''
%matplotlib inline
import torch
from myst_nb import glue

from hrcn_lib import chapters, figures, hardware
from hrcn_lib import paper_numbers as paper
from hrcn_lib.models import build_model, input_size

torch.manual_seed(seed)
model = build_model("hr-celestialnet", "lcid")
layers = hardware.layer_table(model, input_size("lcid"))
''', tags=["hide-input"]),
    md('''
## Table 2, computed from the model

`hrcn_lib.hardware.layer_table` runs the model built by `hrcn_lib.models.build_model` and records
every layer's output size and trainable parameters:
'''),
    code('''
layers.set_index("layer").drop(columns="module")
'''),
    md('''
Beside the paper's printed table, row by row (`hrcn_lib.chapters.compare_table2`):
'''),
    code('''
comparison = chapters.compare_table2(layers)
n_params = int(sum(p.numel() for p in model.parameters() if p.requires_grad))
n_bn = int(sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
               for p in m.parameters()))
paper_total = int(sum(row[-1] for row in paper.PAPER_TABLE2))
glue("n_params", n_params, display=False)
glue("n_bn", n_bn, display=False)
glue("paper_params", paper_total, display=False)
glue("n_mismatch", int((~comparison["match"]).sum()), display=False)
glue("mismatches", chapters.describe_mismatches(comparison), display=False)
comparison
'''),
    md('''
The model has {glue:text}`n_params:,d` trainable parameters; the paper's Table 2 sums to
{glue:text}`paper_params:,d`. The difference, {glue:text}`n_bn:,d` parameters, is exactly the
BatchNorm layers' scales and shifts, which the paper's note says its table omits. Rows whose
output size or parameter count differ from the printed table ({glue:text}`n_mismatch`):
{glue:text}`mismatches`.

## The network

Boxes in layer order; height grows with the output's spatial size, width with its channels
(`hrcn_lib.figures.network_diagram`, drawn from the computed layer table):
'''),
    code('''
figures.network_diagram(layers)
'''),
    md(WHY.format(text='''Table 2 is architecture, not training, so it is reproduced exactly,
apart from the BatchNorm parameters the paper leaves out of its table on purpose. The printed
output of layer 7 (128 x 121 x 248) cannot be right: a 2 x 2 pooling with stride 2 and no padding
of 498 columns gives floor((498 - 2) / 2) + 1 = 249, and the paper's own layer 8 (a 3 x 3
convolution without padding) prints 247 = 249 - 2 columns, so the computed 249 is what the
network has; the slip is only in the printed table.''')),
]

# ----------------------------------------------------------------------------- 04 training

NB04 = [
    md('''
# 4 Training

## What the paper says

> "a batch size of 4 was adopted. The cross-entropy loss function [...] was employed [...]. The
> model parameters were optimized through the SGD optimizer [...] with a learning rate of 0.0001.
> The training process ran for a total of 20 epochs."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 3.1

The paper trains seven model/data-set pairs (its Table 4): AlexNet, VGGNet and ResNet on
LCID-Resize and on LCID, and HR-CelestialNet on LCID.
'''),
    params(),
    setup(),
    md('''
## The recipe: the paper's and this run's

Where this profile's optimizer departs from the paper's, the reason follows the table.
'''),
    code('''
glue("recipe_departure", ch.profile.recipe_departure or "none: this profile uses the paper's "
     "optimizer settings", display=False)
chapters.recipe_table(ch)
'''),
    md('''
Departure from the paper's recipe: {glue:text}`recipe_departure`.

## The runs of this profile

Every pair of the paper, with what this profile does with it. Enabled pairs are trained with
`hrcn_lib.train.train` into `models/<model>_<dataset>/` of the run directory, unless a finished
run is already there (then it is reused).
'''),
    code('''
runs = chapters.train_profile_runs(ch, train_df)
glue("n_enabled", int(len(ch.profile.enabled_runs())), display=False)
glue("n_pairs", int(len(ch.profile.runs)), display=False)
glue("epochs", int(ch.profile.epochs), display=False)
glue("batch_size", int(ch.profile.batch_size), display=False)
glue("lr", float(ch.profile.lr), display=False)
runs
'''),
    md('''
This profile trains {glue:text}`n_enabled` of the {glue:text}`n_pairs` pairs, with SGD at a
learning rate of {glue:text}`lr:g`, batch size {glue:text}`batch_size` and
{glue:text}`epochs` epoch(s) unless a pair overrides it (the paper: 20 epochs).

## Training curves

Loss and accuracy per epoch from each run's `history.csv`:
'''),
    code('''
figures.training_curves(chapters.load_histories(ch))
'''),
    md('''
## Configuration of each run

As recorded in each run's `config.json` by `hrcn_lib.train`:
'''),
    code('''
chapters.run_configs(ch).T
'''),
    md(WHY.format(text='''The `smoke` and `cpu` profiles train for far fewer epochs than the
paper's 20, on much less (simulated) data, on a CPU, with gradient accumulation (micro-batches)
and activation checkpointing to fit full-resolution inputs in memory; the `paper` profile uses the
paper's recipe on a GPU. Curves from one or two epochs show that training runs, not where it
converges. In so few optimizer steps the paper's plain SGD at a learning rate of 1e-4 barely moves
the weights, and the models predict (nearly) every sample as the majority class. A faster optimizer
is no cure at this size: in a trial on the `cpu` data, AlexNet on LCID-Resize with momentum 0.9 and
a learning rate of 1e-2 or 1e-3 still called every test sample a galaxy after two epochs. The `cpu`
profile therefore keeps the paper's optimizer and shows the pipeline, not the paper's accuracy.''')),
]

# ----------------------------------------------------------------------------- 05 hardware

NB05 = [
    md('''
# 5 Hardware requirements (Table 3)

## What the paper says

> "the estimated total memory usage of AlexNet, VGGNet, and ResNet significantly increased to
> 6.21 GB, 211.14 GB, and 41.17 GB, respectively. In comparison, our HR-CelestialNet exhibited an
> estimated total memory usage of 32.79 GB"
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 3.3 (batch 4, 2048 x 4096, `torchsummary`)
'''),
    params("measure = True  # measure peak training memory of the enabled pairs"),
    setup(),
    md('''
## Table 3, computed

`hrcn_lib.hardware.table3()` estimates, like `torchsummary`, the input size, the model size and
the total training memory for each pair at batch size 4; the paper's printed values beside it:
'''),
    code('''
from hrcn_lib import hardware

ours3 = hardware.table3()
table3 = chapters.table3_comparison(ours3, paper.paper_table3())
hr3 = ours3.set_index(["model", "dataset"]).loc[("hr-celestialnet", "lcid")]
glue("hr_total_gb", float(hr3["total_gb"]), display=False)
glue("n_match3", int(table3["match"].sum()), display=False)
table3
'''),
    md('''
{glue:text}`n_match3` of 7 rows agree with the printed table to its two decimals; the estimate
for HR-CelestialNet is {glue:text}`hr_total_gb:.2f` GB (the paper: 32.79 GB).
'''),
    md('''
## Measured peak memory

Beyond the paper: the peak memory of one training step actually measured on this machine for the
pairs this profile trains (`hrcn_lib.hardware.measure_peak_memory`), with the profile's
micro-batch, precision and activation checkpointing:
'''),
    code('''
measured = chapters.measured_memory(ch, measure=measure)
measured
'''),
    md('''
Estimated (ours and the paper's) and measured training memory side by side, in GB:
'''),
    md('''
## Measured on a GPU (recorded)

Table 3 is an estimate for training at batch 4 in float32. `benchmarks/bench_gpu.py` measured
the real thing once, on an NVIDIA H100 80 GB lent to a development session: one SGD step at
batch 4 for every pair, in float32 and in bf16 autocast (peak `torch.cuda.max_memory_allocated`,
cuDNN workspaces included). These numbers are a record read from
`benchmarks/recorded/`, not measured by this build:
'''),
    code('''
gpu = chapters.recorded_gpu()
if len(gpu):
    hr_gpu = gpu.loc["HR-CelestialNet (LCID)"]
    glue("gpu_name", str(hr_gpu["device"]), display=False)
    glue("hr_gpu_fp32_gb", float(hr_gpu["peak GB (fp32)"]), display=False)
    glue("hr_gpu_bf16_gb", float(hr_gpu["peak GB (bf16)"]), display=False)
gpu.drop(columns=["classify ms (naive fp32)", "classify ms (Predictor)"], errors="ignore")
'''),
    md('''
On the {glue:text}`gpu_name`, one float32 training step of HR-CelestialNet at batch 4 peaked at
{glue:text}`hr_gpu_fp32_gb:.1f` GB, above the paper's 32.79 GB estimate (the estimate leaves out
cuDNN workspaces and the framework's temporaries), and at {glue:text}`hr_gpu_bf16_gb:.1f` GB in
bf16. VGGNet on LCID, estimated at 211 GB, does not fit the 80 GB card in float32.
'''),
    code('''
memory = table3[["total GB (ours)", "total GB (paper)"]].rename(
    columns={"total GB (ours)": "estimate, batch 4 (ours)", "total GB (paper)": "estimate, batch 4 (paper)"})
if len(gpu):
    memory["measured peak, GPU fp32 batch 4 (recorded)"] = gpu["peak GB (fp32)"].reindex(memory.index)
if len(measured):
    memory["measured peak, this profile"] = measured["peak_mb"].reindex(memory.index) / 1024
figures.memory_bars(memory)
'''),
    md(WHY.format(text='''The estimate is arithmetic on layer sizes, so it can be reproduced
exactly when the same convention is used (float32, batch 4, activations and gradients counted as
`torchsummary` counts them). Measured peaks are far below the estimates because this profile
trains with micro-batches of one sample and activation checkpointing (and bf16 only where the
hardware computes it natively), which the estimate does not model; they are the peak resident
memory of a fresh process, Python and PyTorch included.''')),
]

# ----------------------------------------------------------------------------- 06 results

NB06 = [
    md('''
# 6 Results on the testing set (Table 4)

## What the paper says

> "Our HR-CelestialNet achieved the best overall performance with an accuracy of 89.09%, an F1
> score of 90.20% for galaxy, and an F1 score of 87.69% for NSC on the LCID dataset."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 4.1

Its Table 4 also gives the average preprocessing and classification time per sample: 116.5 ms in
total for HR-CelestialNet, from 96.4 ms (AlexNet on LCID) to 321.1 ms (VGGNet on LCID).
'''),
    params(),
    setup(),
    code('''
results = {spec.key: chapters.ensure_evaluated(ch, spec, test_df, "test")
           for spec in ch.profile.enabled_runs() if chapters.is_trained(ch, spec)}
t4 = chapters.table4(ch, results)
hr = results.get("hr-celestialnet_lcid")
glue("hr_acc", f"{100 * hr.metrics['accuracy']:.2f} %" if hr else "not run in this profile",
     display=False)
glue("n_evaluated", int(len(results)), display=False)
glue("n_test_eval", int(max((len(r.predictions) for r in results.values()), default=0)),
     display=False)
''', tags=["hide-input"]),
    md('''
## Table 4: ours beside the paper's

{glue:text}`n_evaluated` pairs evaluated with `hrcn_lib.evaluate` on up to
{glue:text}`n_test_eval` testing samples. HR-CelestialNet's accuracy in this run:
{glue:text}`hr_acc` (the paper: 89.09 %). Pairs this profile does not run are listed with the
reason. Accuracy and F1 in percent, times in ms per sample (medians).
'''),
    code('''
t4.drop(columns="Note").style.format(precision=2, na_rep="-")
'''),
    md('''
Pairs without a result in this run, and why:
'''),
    code('''
chapters.not_run(ch, results)
'''),
    md('''
## Time per sample

Preprocessing plus classification time of each pair, ours (this machine) and the paper's:
'''),
    code('''
timing_rows = t4.reset_index().dropna(subset=["Total (ms)"])
timing_rows = timing_rows.assign(run=timing_rows["Model"] + " (" + timing_rows["Data set"] + ")",
                                 source=timing_rows["Source"])
figures.timing_bars(timing_rows.rename(columns={"Preprocessing (ms)": "preprocess_ms",
                                                "Classification (ms)": "classify_ms"}))
'''),
    md('''
Classification alone on a GPU, as recorded once by `benchmarks/bench_gpu.py` on an NVIDIA H100
(batch 1, input already on the GPU, median ms; not measured by this build). The
`hrcn_lib.evaluate.Predictor` folds BatchNorm, runs in bf16 and computes the first block with
ReLU after an exactly split max-pool:
'''),
    code('''
gpu = chapters.recorded_gpu()
gpu[["device", "classify ms (naive fp32)", "classify ms (Predictor)"]] if len(gpu) else gpu
'''),
    md('''
## Confusion matrices on the testing set

Rows are the true class, columns the predicted class:
'''),
    code('''
figures.confusion_matrices({chapters.run_label(ch.spec(*k.split("_", 1))): r.confusion
                            for k, r in results.items()})
'''),
    md(WHY.format(text='''Our models are trained for a few epochs on a small simulated LCID on a
CPU (see the training chapter), and tested on a few samples, so the accuracies are noisy and not
comparable in value to the paper's. Times are measured on this machine's CPU, the paper's on its
own hardware (probably a GPU for classification), so only their ordering is worth comparing.''')),
]

# ----------------------------------------------------------------------------- 07 blurry

NB07 = [
    md('''
# 7 Robustness on blurry samples (Figure 3)

## What the paper says

> "HR-CelestialNet remains the top performer with an accuracy of 84.48%, followed by VGGNet with
> an accuracy of 78.45%, AlexNet with an accuracy of 75.86%, and finally ResNet with an accuracy
> of 75%."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 4.2, on LCID-Blurry (116 samples)

Galaxy samples are rarely misclassified (1 to 4 errors, ResNet 18), NSC samples more often
(11 to 24 errors).
'''),
    params(),
    setup(),
    code('''
specs = [s for s in ch.profile.enabled_runs() if chapters.is_trained(ch, s)]
results = {s.key: chapters.ensure_evaluated(ch, s, blurry, "blurry") for s in specs}
table = chapters.blurry_table(results, specs, paper.PAPER_BLURRY_ACCURACY,
                              paper.PAPER_BLURRY_MISCLASSIFIED)
hr = results.get("hr-celestialnet_lcid")
glue("hr_blurry_acc", f"{100 * hr.metrics['accuracy']:.2f} %" if hr else "not run in this profile",
     display=False)
glue("n_blurry_eval", int(max((len(r.predictions) for r in results.values()), default=0)),
     display=False)
''', tags=["hide-input"]),
    md('''
## Ours beside the paper's

Accuracy and misclassifications per true class on LCID-Blurry ({glue:text}`n_blurry_eval`
samples evaluated per model). HR-CelestialNet in this run: {glue:text}`hr_blurry_acc` (the
paper: 84.48 %).
'''),
    code('''
table
'''),
    md('''
## Figure 3: confusion matrices on LCID-Blurry
'''),
    code('''
figures.confusion_matrices({chapters.run_label(s): results[s.key].confusion for s in specs},
                           title="LCID-Blurry")
'''),
    md('''
## Beyond the paper: accuracy against PSF width and S/N

The simulator records each sample's PSF FWHM (arcsec) and signal-to-noise ratio, so accuracy
can be broken down by the very quantities that make a sample blurry. Bins are quantiles of the
LCID-Blurry and testing samples together; `n` is the number of samples in a bin.
'''),
    code('''
everything = chapters.collect_predictions(ch, specs, {"blurry": blurry, "test": test_df})
preds = dict(list(everything.groupby("run", sort=False)))
fwhm_bins = chapters.quantile_bins(everything["psf_fwhm"], 3)
figures.accuracy_by_bin(chapters.binned_accuracy(preds, "psf_fwhm", fwhm_bins),
                        xlabel="PSF FWHM (arcsec)", title="accuracy against PSF FWHM")
'''),
    code('''
snr_bins = chapters.quantile_bins(everything["snr"], 3)
figures.accuracy_by_bin(chapters.binned_accuracy(preds, "snr", snr_bins),
                        xlabel="signal-to-noise ratio", title="accuracy against S/N")
'''),
    md(WHY.format(text='''LCID-Blurry here is simulated: its samples are blurry because the
simulator widened the PSF, shortened the exposure or dimmed the source (the paper's Eq. 1), not
because they were picked by eye as in the paper. With few training epochs and few samples per
bin, the per-bin accuracies carry large uncertainties.''')),
]

# ----------------------------------------------------------------------------- 08 misclassification

NB08 = [
    md('''
# 8 Misclassified samples (Figure 4)

## What the paper says

> "Analysis of these samples revealed three reasons for model misclassification: inter-class
> similarity, insufficient features, and image noise."
> -- {cite:t}`zhang2023hrcelestialnet`, Sec. 5.2

Its examples: NGC 6744 (a galaxy with star-like point sources) and M16 (a nebula with arm-like
structure) for inter-class similarity; small parts of M82 and NGC 419 for insufficient features;
a bright slanted trail and an "8"-shaped optical artefact for image noise.
'''),
    params("gradcam_samples = 3  # samples explained with Grad-CAM"),
    setup(),
    code('''
specs = [s for s in ch.profile.enabled_runs() if chapters.is_trained(ch, s)]
preds = chapters.collect_predictions(ch, specs, {"test": test_df, "blurry": blurry})
wrong = chapters.misclassified(preds)
glue("n_wrong", int(len(wrong)), display=False)
glue("n_preds", int(len(preds)), display=False)
''', tags=["hide-input"]),
    md('''
## Ours, grouped by the paper's causes

Of {glue:text}`n_preds` predictions (every trained model on the testing set and on LCID-Blurry),
{glue:text}`n_wrong` are wrong. Each is attributed to a cause from what the simulator recorded
about the sample (`hrcn_lib.chapters.assign_cause`): a body built as a look-alike of the other
class (an elliptical with a resolved globular-cluster population, spiral arms lit like nebula
filaments, a nearby spiral resolved into stars as in the paper's NGC 6744, ...) is *inter-class
similarity*; a satellite trail or an optical ghost is *image noise*; a chip that sees only the
edge of its body, or a blurry sample, is *insufficient features*.
'''),
    code('''
counts = (pd.crosstab(wrong["run"], wrong["cause"]) if len(wrong)
          else pd.DataFrame(columns=list(chapters.CAUSES)))
counts
'''),
    md('''
## Figure 4: misclassified samples by cause

Up to four samples per cause (the first model's errors first); each caption gives the body, the
true and the predicted class. When a run has no error at all, its correctly classified samples
with the lowest confidence are shown instead, so the figure is never empty.
'''),
    code('''
shown = chapters.figure4_rows(wrong, preds, per_cause=4, seed=ch.seed)
figures.misclassified_grid(chapters.load_images(shown),
                           [f"{r.body}: {r.label} -> {r.prediction}" for r in shown.itertuples()],
                           list(shown["cause"]))
'''),
    md('''
## Beyond the paper: where the network looked (Grad-CAM)

Grad-CAM {cite:p}`selvaraju2017gradcam` heat maps of the best-placed trained model on the samples
above (`hrcn_lib.saliency.grad_cam`, hooks on the last convolution): red marks the regions whose
activations pushed the network towards the class it predicted.
'''),
    code('''
best = next((s for s in specs if s.model == "hr-celestialnet"), specs[0])
images, heats, captions = chapters.saliency_examples(
    ch.paths.model_dir(best.model, best.dataset), shown.head(gradcam_samples), best.dataset,
    device=None if ch.device == "auto" else ch.device, cache_dir=ch.paths.cache)
glue("gradcam_model", chapters.run_label(best), display=False)
figures.saliency_grid(images, heats, captions)
'''),
    md('''
Heat maps of {glue:text}`gradcam_model`.
'''),
    md(WHY.format(text='''The paper attributes causes by looking at each image; we attribute them
from the simulator's record of what it put in the image, which is exact for LCID-sim but does
not exist for real data. With models trained for few epochs many errors are simply the model not
having learned yet, which the record cannot explain ("not attributed").''')),
]

NOTEBOOKS = {
    "01_data": NB01,
    "02_preprocessing": NB02,
    "03_architecture": NB03,
    "04_training": NB04,
    "05_hardware": NB05,
    "06_results": NB06,
    "07_blurry_robustness": NB07,
    "08_misclassification": NB08,
}


def main() -> None:
    for stem, cells in NOTEBOOKS.items():
        path = HERE / f"{stem}.ipynb"
        nb = notebook(stem, cells)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()

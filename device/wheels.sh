#!/usr/bin/env bash
# Download into .whl/ the wheels the lent GPU machine (kind nvidia-h200) lacks for
# `hrcn record` and benchmarks/bench_gpu.py, for its Python 3.12 on manylinux x86_64.
#
# The device's image holds torch, torchvision, numpy, scipy, numba, pandas, scikit-learn,
# opencv-python-headless, matplotlib, tqdm, pyyaml, packaging, setuptools and pybind11
# (device/device_packages.txt, from the device tool's KINDS.md) but not astropy nor GalSim.
# The wheels, with their versions and where each dependency comes from, are listed in
# device/wheels.txt (--no-deps: every dependency is named there).
#
# GalSim's wheel is 56 MB, 50 MB of it the DWARF debug sections of its extension module
# (_galsim*.so: 199 MB unpacked, 4.8 MB without them): over the 64 MiB a device call may carry.
# This script strips those sections (`strip --strip-debug`: the code and symbol table stay)
# and repacks the wheel with `wheel pack`, which writes a fresh RECORD.
#
# Run from the repository root:  PYTHON=/path/to/python bash device/wheels.sh
# (PYTHON: any python with pip and the `wheel` package; default python3). The wheels are
# ignored by git (/.whl/ in .gitignore) and travel with `carry: [".whl"]` (device/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
command -v strip >/dev/null || { echo "wheels.sh: needs strip (binutils)" >&2; exit 1; }
"$PYTHON" -m wheel version >/dev/null 2>&1 || {
  echo "wheels.sh: $PYTHON has no 'wheel' package: $PYTHON -m pip install wheel, or set PYTHON" >&2
  exit 1; }
mapfile -t WHEELS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' device/wheels.txt)
rm -rf .whl
mkdir -p .whl
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
# strip GalSim's debug sections and repack it
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gs=$(ls .whl/galsim-*.whl)
"$PYTHON" -m wheel unpack --dest "$tmp" "$gs" >/dev/null
strip --strip-debug "$tmp"/galsim-*/galsim/_galsim*.so
rm "$gs"
"$PYTHON" -m wheel pack --dest-dir .whl "$tmp"/galsim-* >/dev/null
# one file per name: two versions of a package stop the device's install
n=$(ls .whl/*.whl | wc -l)
if [ "$n" -ne "${#WHEELS[@]}" ]; then
  echo "wheels.sh: expected ${#WHEELS[@]} wheels in .whl/, found $n:" >&2
  ls .whl >&2
  exit 1
fi
ls -l .whl
whl=$(du -cb .whl/*.whl | tail -1 | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)
echo "wheels: $whl bytes ($((whl / 1048576)) MiB); working tree that travels: $tree bytes;" \
     "together $(((whl + tree) / 1048576)) MiB of the 64 MiB a device call may carry"
if [ $((whl + tree)) -gt $((56 * 1048576)) ]; then
  echo "wheels.sh: over 56 MiB: too close to the device tool's 64 MiB" >&2
  exit 1
fi

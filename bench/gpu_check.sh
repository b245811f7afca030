#!/usr/bin/env bash
# The accelerator check (DESIGN.md, "Accelerator"): on a lent GPU machine, run the benchmarks with
# --device cuda, then each chapter at the `smoke` profile on CUDA, writing logs and a timings table to $OUT.
# Sized to finish in under 8 minutes on one H200. Uses the machine's own python (PY=...) with this checkout
# on PYTHONPATH: a lent machine starts bare and reaches no package registry.
#   bash bench/gpu_check.sh            (OUT defaults to _build/gpu_check)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-_build/gpu_check}; mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MINFO_PROGRESS=0 MINFO_RESULTS="$OUT/results"
timings="$OUT/timings.tsv"; printf 'what\tseconds\texit\n' > "$timings"

step() {  # step NAME CMD...: run, append its output to $OUT/log.txt, time it (few files: the device tool returns at most 8)
  local name=$1; shift; local t0; t0=$(date +%s%N)
  echo "=== $name" >> "$OUT/log.txt"; "$@" >> "$OUT/log.txt" 2>&1; local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%s\t%d.%03d\t%s\n' "$name" $((ms / 1000)) $((ms % 1000)) "$rc" >> "$timings"
  echo "$name: exit $rc"; tail -n 12 "$OUT/log.txt"
}

$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee "$OUT/device.txt"
for b in bench/*.py; do step "bench_$(basename "$b" .py)" timeout 150 $PY "$b" --device cuda; done
if $PY -c "import papermill" 2>/dev/null; then
  for nb in $($PY -c "from minfo.book import toc_files; print(' '.join(toc_files()[1:]))"); do
    case "$nb" in */0[0-9]_*) ;; *) continue ;; esac   # the experiment chapters only
    step "$(basename "$nb")" timeout 120 $PY -m papermill "$nb.ipynb" "$OUT/results/$(basename "$nb").ipynb" \
      -p profile smoke -p device cuda -p results_dir "$OUT/results"
  done
else
  echo "papermill is not installed on this machine: chapters skipped (carry wheels, see the device tool's notes)"
fi
cat "$timings"

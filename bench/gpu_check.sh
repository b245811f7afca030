#!/usr/bin/env bash
# The accelerator check (DESIGN.md, "Accelerator"): on a lent GPU machine, run the benchmarks with
# --device cuda, then each chapter at the `smoke` profile on CUDA, writing logs and a timings table to $OUT.
# Sized for one 10-minute call on one H200 (BUDGET, seconds): the report-scale high-MI run, the benches, then as many
# chapters as fit. Uses the machine's own python (PY=...) with this checkout
# on PYTHONPATH: a lent machine starts bare and reaches no package registry.
#   bash bench/gpu_check.sh            (OUT defaults to _build/gpu_check)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-_build/gpu_check}; mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MINFO_PROGRESS=0 MINFO_RESULTS="$OUT/results"
timings="$OUT/timings.tsv"; printf 'what\tseconds\texit\n' > "$timings"

BUDGET=${BUDGET:-570}   # seconds for the whole check (one call of the device tool: 600 s); a step starts only while it lasts
step() {  # step NAME CMD...: run, append its output to $OUT/log.txt, time it (few files: the device tool returns at most 8)
  local name=$1; shift; local t0; t0=$(date +%s%N)
  if [[ -n ${T0:-} ]] && (( $(date +%s) - T0 > BUDGET - 60 )); then echo "budget spent: $name skipped" | tee -a "$OUT/log.txt"; return; fi
  local left=$(( BUDGET - ( $(date +%s) - ${T0:-$(date +%s)} ) ))   # no step runs past the budget
  echo "=== $name" >> "$OUT/log.txt"; timeout "$left" "$@" >> "$OUT/log.txt" 2>&1; local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%s\t%d.%03d\t%s\n' "$name" $((ms / 1000)) $((ms % 1000)) "$rc" >> "$timings"
  echo "$name: exit $rc"; tail -n 12 "$OUT/log.txt"
}

$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee "$OUT/device.txt"
T0=$(date +%s)
# first the headline at the report's scale: Fig. 1a (MINE, N = 1024) and Fig. 2a-b (NWJ) with the 2x512 critic and
# 100,000 steps, 6.1 PFLOP in all (bench/high_mi_gpu.py --dry-run); curves to $OUT for the high-MI chapter's rules
step high_mi_report_scale timeout 420 $PY bench/high_mi_gpu.py --device cuda --json "$OUT/high_mi.json" --npz "$OUT/high_mi_curves.npz"
# critic sweeps: the report's 28-critic Fig. 1-2 grid batched vs one critic at a time (goal >= 10x), one critic vs a
# plain loop, bf16 matmuls; then all-pairs InfoNCE memory at the report's 2x512 critic, up to |Y| = 1024 (chunked)
step bench_critic_sweep_k28 timeout 150 $PY bench/critic_sweep.py --device cuda --k 28 --steps 100 --repeats 2 --bf16 --json "$OUT/critic_sweep_k28.json"
step bench_chunked_scores timeout 120 $PY bench/chunked_scores.py --device cuda --hidden 512,512 --n 256,1024 --unchunked-max 256 --json "$OUT/chunked_scores.json"
# encoder training: train_encoder vs a DataLoader loop, MNIST-sized narrow ResNet and CIFAR-sized ResNet18
step bench_encoder_train timeout 120 $PY bench/encoder_train.py --device cuda --repeats 2
step bench_encoder_train_cifar timeout 150 $PY bench/encoder_train.py --device cuda --models resnet18 --shape 3,32,32 --width 64 --batch 512 --images 16384 --repeats 2
step bench_bf16_study timeout 150 $PY bench/bf16_study.py --device cuda --json "$OUT/bf16_study.json"
step bench_probe timeout 90 $PY bench/probe.py --device cuda
if $PY -c "import papermill" 2>/dev/null; then
  for nb in $($PY -c "from minfo.harness.book import toc_files; print(' '.join(toc_files()[1:]))"); do
    case "$nb" in */0[0-9]_*) ;; *) continue ;; esac   # the experiment chapters only
    if (( $(date +%s) - T0 > BUDGET - 90 )); then echo "budget spent: $(basename "$nb") and later chapters skipped" | tee -a "$OUT/log.txt"; break; fi
    step "$(basename "$nb")" timeout 120 $PY -m papermill "$nb.ipynb" "$OUT/results/$(basename "$nb").ipynb" \
      -p profile smoke -p device cuda -p results_dir "$OUT/results"
  done
else
  echo "papermill is not installed on this machine: chapters skipped (carry wheels, see the device tool's notes)"
fi
# the paper profile's cost, extrapolated from the rates the chapters above measured on this GPU
step paper_cost timeout 60 $PY bench/paper_cost.py --results "$OUT/results" --json "$OUT/paper_cost.json"
cat "$timings"

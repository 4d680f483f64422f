#!/usr/bin/env bash
# The GPU check: run on a lent CUDA machine (see tests/gpu/README.md); CI never runs it.
#
#     bash tests/gpu/check.sh          # from anywhere; about 5-8 minutes on a modern GPU
#
# Prints ONE markdown table at the end (and writes it to $OUT/gpu-check.md when $OUT is set, with every
# section's output in $OUT/gpu-check-logs.txt). Sections, each timed and each a row group of the table:
#   setup  the GPU, torch, the carried wheels (tests/gpu/wheels/, made by tests/gpu/wheels.sh) installed offline
#   a.     tests/gpu/check_models.py: every registry model x fp32/fp16/bf16 x NCHW/NHWC, a few Trainer steps on
#          mnist-5k; then every model at 32 px (shapes) in the notebooks' full-mode setting (amp auto, NHWC)
#   b.     the full-mode rehearsal of every notebook (tests/rehearsal, pytest -m rehearsal), with the time left
#   c.     tests/benchmarks/bench_train.py, short: Trainer vs the pytorch/examples loop, AMP + NHWC, and the
#          time per 1,000 steps of notebook 02's full configuration
# Exit codes: 0 every row passed; 1 something failed or ran out of time; 2 no CUDA GPU here.
#
# GPU_CHECK_SECONDS (default 460) is the whole run's time budget. GPU_CHECK_CPU=1 runs the same plumbing on the
# CPU with tiny settings (a test of this script, not of a GPU; tests/test_gpu_check.py); there the rehearsal
# runs only with GPU_CHECK_REHEARSAL_K set (a pytest -k expression choosing its tests, e.g. "standin_layout").
# GPU_CHECK_REHEARSAL_K works on the GPU too (e.g. "02_dcgan or 09_evaluation": fewer notebooks).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1

cpu=${GPU_CHECK_CPU:-}
no_gpu() {  # no NVIDIA device node nor nvidia-smi: say so at once; else ask torch (a few seconds)
  if ! ls /dev/nvidia0 /dev/nvidiactl /dev/dxg >/dev/null 2>&1 && ! command -v nvidia-smi >/dev/null; then
    return 0
  fi
  ! python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1
}
if [ -z "$cpu" ] && no_gpu; then
  echo "no CUDA GPU found: this check needs one (it runs on a lent GPU machine; CI never runs it)"
  exit 2
fi

t0=$(date +%s)
budget=${GPU_CHECK_SECONDS:-460}
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
left() { echo $((t0 + budget - $(date +%s))); }
ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$(ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$work/sections.tsv"; }
say() { echo "[gpu-check $(($(date +%s) - t0)) s] $*"; }
run_limited() {  # run_limited KEY SECONDS COMMAND...: time-limited (SIGINT, then KILL), output to WORK/KEY.log
  local key=$1 limit=$2; shift 2
  [ "$limit" -lt 10 ] && limit=10
  echo "\$ $* (limit ${limit} s)" >>"$work/$key.log"
  timeout -s INT -k 20 "$limit" "$@" >>"$work/$key.log" 2>&1
}
row() { python3 tests/gpu/report.py row "$work" "$@"; }

# ---------------------------------------------------------------- setup: the machine and the carried wheels
start=$(ns)
python3 - "$work/rows-setup.jsonl" "$cpu" <<'EOF' >>"$work/setup.log" 2>&1
import json, platform, sys
import torch
rows = []
if torch.cuda.is_available() and not sys.argv[2]:
    p = torch.cuda.get_device_properties(0)
    cap = torch.cuda.get_device_capability(0)
    rows.append(("GPU", f"{p.name}, compute capability {cap[0]}.{cap[1]}, {p.total_memory / 2**30:.0f} GiB, "
                        f"bf16 {'native' if cap[0] >= 8 else 'not native: fp16 only'}"))
else:
    rows.append(("device", "CPU dry run (GPU_CHECK_CPU=1): plumbing only, no GPU checked"))
rows.append(("software", f"Python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
                         f"cuDNN {torch.backends.cudnn.version()}"))
with open(sys.argv[1], "a") as f:
    for check, numbers in rows:
        f.write(json.dumps({"section": "setup", "check": check, "config": "", "steps": "", "seconds": None,
                            "numbers": numbers, "result": "ok", "note": ""}) + "\n")
EOF
shopt -s nullglob
wheels=(tests/gpu/wheels/*.whl)
if [ -n "$cpu" ]; then
  row setup "carried wheels" --numbers "not installed in a CPU dry run" --result ok
elif [ ${#wheels[@]} -gt 0 ]; then
  t=$(ns)
  if python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site "${wheels[@]}" >>"$work/setup.log" 2>&1; then
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    row setup "carried wheels" --seconds "$(secs "$t")" --numbers "${#wheels[@]} wheels into /tmp/site" --result ok
  else
    row setup "carried wheels" --seconds "$(secs "$t")" --result FAIL --note "pip install of tests/gpu/wheels failed (see the log)"
  fi
else
  row setup "carried wheels" --result ok --note "none in tests/gpu/wheels (bash tests/gpu/wheels.sh, then carry them)"
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's ganhelpers, no install
missing=$(python3 -c '
import importlib.util
names = ["pytorch_fid", "ipywidgets", "nbclient", "nbformat", "ipykernel", "jupyter_client", "zmq"]
print(" ".join(n for n in names if importlib.util.find_spec(n) is None))' 2>>"$work/setup.log")
if [ -z "$missing" ]; then
  row setup "imports" --numbers "pytorch_fid, ipywidgets, nbclient, ipykernel, zmq: all found" --result ok
else
  row setup "imports" --result FAIL --note "not importable: $missing (carry tests/gpu/wheels)"
fi
record setup "$(secs "$start")" 0 ran
say "setup done"

# ---------------------------------------------------------------- a. every model x precision x layout
start=$(ns)
models_end=$(($(date +%s) + 210))
if [ -n "$cpu" ]; then
  args=(--device cpu --models "${GPU_CHECK_MODELS:-dcgan,pix2pix-l1}" --steps 2 --log-every 1 --batch-size 8)
else
  args=(--device cuda)
fi
run_limited models $((models_end - 45 - $(date +%s))) \
  python3 tests/gpu/check_models.py "${args[@]}" --datasets mnist-5k --json "$work/rows-models.jsonl"
rc=$?
run_limited models $((models_end - $(date +%s))) \
  python3 tests/gpu/check_models.py "${args[@]}" --datasets shapes --images 1000 --precisions auto --channels-last on \
  --json "$work/rows-models.jsonl"
rc2=$?
case "$rc" in 124|137) ;; *) [ "$rc2" -ne 0 ] && rc=$rc2 ;; esac
record models "$(secs "$start")" "$rc" ran
say "a. models done (exit $rc)"

# ---------------------------------------------------------------- c. bench_train.py (before b: b gets what is left)
start=$(ns)
if [ -n "$cpu" ]; then
  args=(--models dcgan --steps 2 --rounds 1 --warmup 1 --images 300 --workers 0 --notebook02 on --nb02-steps 2
        --nb02-warmup 1)
else
  args=(--steps 20 --rounds 3 --warmup 3 --images 5000 --workers 2 --nb02-steps 1000 --nb02-warmup 20)
fi
run_limited bench $(($(left) > 220 ? 100 : $(left) / 3)) \
  python3 tests/benchmarks/bench_train.py "${args[@]}" --json "$work/rows-bench.jsonl"
rc=$?
record bench "$(secs "$start")" "$rc" ran
say "c. bench done (exit $rc)"

# ---------------------------------------------------------------- b. the full-mode rehearsal of every notebook
start=$(ns)
if [ ! -d tests/rehearsal ]; then
  record rehearsal 0 0 missing "tests/rehearsal does not exist in this checkout"
elif [ -n "$cpu" ] && [ -z "${GPU_CHECK_REHEARSAL_K:-}" ]; then
  record rehearsal 0 0 skipped "CPU dry run; GPU_CHECK_REHEARSAL_K (a pytest -k expression) includes it"
else
  note=""
  if [ -z "$cpu" ]; then
    # The rehearsal's kernels get an environment of their own without PYTHONPATH, and the notebooks' set-up cell
    # pip-installs ganhelpers from the network when it is not importable. So on this throwaway machine: the
    # carried wheels through a .pth file, and this checkout installed (not editable) as the set-up cell would.
    purelib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    [ -d /tmp/site ] && echo /tmp/site >"$purelib/zz-gpu-check-wheels.pth"
    if ! python3 -m pip install -q --no-index --no-deps --no-build-isolation "$repo" >>"$work/rehearsal.log" 2>&1; then
      echo "$repo" >>"$purelib/zz-gpu-check-wheels.pth"
      note="pip install of the checkout failed: kernels import it through a .pth file instead"
    fi
  fi
  limit=$(($(left) - 20))
  select=()
  [ -n "${GPU_CHECK_REHEARSAL_K:-}" ] && select=(-k "$GPU_CHECK_REHEARSAL_K")
  ( export GANHELPERS_REHEARSAL_PYTHON="$(command -v python3)"
    [ -z "$cpu" ] && unset PYTHONPATH  # the kernels see the installed copy; so does this pytest (cwd aside)
    run_limited rehearsal "$((limit < 30 ? 30 : limit))" python3 -m pytest -m rehearsal tests/rehearsal \
      -p ganhelpers.testing -o addopts='' -q -rA -p no:cacheprovider --junitxml="$work/rehearsal.xml" "${select[@]}" )
  rc=$?
  [ "$rc" -eq 5 ] && note="pytest collected no test (exit 5). $note"
  record rehearsal "$(secs "$start")" "$rc" ran "$note"
  say "b. rehearsal done (exit $rc)"
fi

# ---------------------------------------------------------------- the table
if [ -n "${OUT:-}" ]; then
  for f in "$work"/*.log; do echo "===== $(basename "$f")"; cat "$f"; done >"$OUT/gpu-check-logs.txt" 2>/dev/null
  table_out=(--out "$OUT/gpu-check.md")
else
  table_out=()
fi
echo
python3 tests/gpu/report.py table "$work" "${table_out[@]}" \
  --title "GPU check, $(($(date +%s) - t0)) s (logs: $work${OUT:+, \$OUT/gpu-check-logs.txt})"

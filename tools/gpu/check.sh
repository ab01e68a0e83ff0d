#!/usr/bin/env bash
# Checks the GPU path of a published eagle (tools/gpu/publish.sh) on a machine with an NVIDIA GPU and a CUDA build of
# PyTorch (torch, transformers, safetensors), in about 5 minutes on an H100 (the steps time out after 28 minutes in all). Run it from the unpacked folder:
#   bash check.sh [--device cuda|cpu] [--out DIR] [--bench-shape NAME]
# Steps: versions; the PyTorch libtorch the app will use; the symbol check (every torch/c10/at symbol LibTorchSharp
# needs, defined by that libtorch?); reference.py's checkpoints; eagle selftest against them; eagle bench (with the
# EAGLE-3 projection); on CUDA the tiny shape's step (launch overhead); bench --acceptance 0.8 and 0; bench
# --concurrency 1,8,32 (three rounds). Each step
# writes DIR/<step>.log, and a short table ends the output (also DIR/summary.txt). Exit code 1 if any step failed.
# libtorch: the installed PyTorch's torch/lib, else EAGLE_LIBTORCH_DIR as set. --device cpu runs the same steps on the
# CPU to try the script without a GPU: no nvidia-smi needed, a small bench shape, reference.py skipped without
# transformers.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
device=cuda
out="$here/gpu-check-$(date +%Y%m%d-%H%M%S)"
shape=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bench-shape) shape=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$device" in cuda|cpu) ;; *) echo "check.sh: --device cuda or cpu" >&2; exit 2 ;; esac
[ -n "$shape" ] || { [ "$device" = cuda ] && shape=llama3-8b || shape=small; }
eagle=${EAGLE:-$here/eagle}
[ -x "$eagle" ] || { echo "check.sh: $eagle not found: run this from the folder tools/gpu/publish.sh wrote" >&2; exit 2; }
mkdir -p "$out"
rows=()
failed=0
row() { # step, PASS|FAIL|skip|info, detail
  rows+=("$(printf '%-12s %-5s %s' "$1" "$2" "$3")")
  [ "$2" = FAIL ] && failed=1
  echo "[$1] $2 $3"
}

# 1. versions
{
  echo "== uname"; uname -a
  echo "== nvidia-smi"; nvidia-smi 2>&1 || true
  echo "== python"; python3 -c 'import sys; print(sys.version)' 2>&1 || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 || true
  python3 -c 'import transformers; print("transformers", transformers.__version__)' 2>&1 || true
} > "$out/versions.log" 2>&1
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
torchv=$(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null)
if [ "$device" = cuda ] && [ -z "$gpu" ]; then row versions FAIL "nvidia-smi found no GPU (see versions.log)"
else row versions info "${gpu:-no GPU}; torch ${torchv:-not installed}"; fi

# 2. which libtorch: the installed PyTorch's, else EAGLE_LIBTORCH_DIR as set
tl=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
if [ -n "$tl" ]; then
  export EAGLE_LIBTORCH_DIR="$tl"
  # cuBLAS/cuDNN/NCCL of pip wheels: found through libtorch's RPATH; listed here as well in case a wheel lacks it
  sp=$(dirname "$(dirname "$tl")")
  for d in "$sp"/nvidia/*/lib "$sp"/nvidia/cu*/lib; do [ -d "$d" ] && LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
  row libtorch info "$tl (PyTorch)"
elif [ -n "${EAGLE_LIBTORCH_DIR:-}" ]; then
  row libtorch info "$EAGLE_LIBTORCH_DIR (EAGLE_LIBTORCH_DIR as set)"
else
  row libtorch FAIL "no PyTorch (python3 -c 'import torch') and no EAGLE_LIBTORCH_DIR"
fi

# 3. symbols LibTorchSharp needs that this libtorch does not define (TORCHSHARP.md §4): the ones resolved at load time
# stop the app from starting; a missing op function aborts the process only when that op is first called.
if [ -n "${EAGLE_LIBTORCH_DIR:-}" ] && command -v nm >/dev/null; then
  # type U only: weak references (w, e.g. TLS init functions) may stay unresolved
  nm -D --undefined-only "$here/libLibTorchSharp.so" | awk '$1 == "U" {print $NF}' | sed 's/@.*//' | grep -E '(2at|3c10|5torch)' | sort -u > "$out/symbols-needed.txt"
  nm -D --defined-only "$EAGLE_LIBTORCH_DIR"/libtorch*.so "$EAGLE_LIBTORCH_DIR"/libc10*.so 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' | sort -u > "$out/symbols-defined.txt"
  comm -23 "$out/symbols-needed.txt" "$out/symbols-defined.txt" | c++filt > "$out/symbols.log"
  missing=$(wc -l < "$out/symbols.log")
  if [ "$missing" -eq 0 ]; then row symbols PASS "all $(wc -l < "$out/symbols-needed.txt") torch/c10/at symbols defined"
  else row symbols info "$missing of $(wc -l < "$out/symbols-needed.txt") undefined (symbols.log); the selftest shows whether used ones work"; fi
else
  row symbols skip "no libtorch folder or no nm"
fi

# 4. reference checkpoints from Hugging Face transformers (CPU, float32)
refargs=()
if python3 -c 'import torch, transformers, safetensors' >/dev/null 2>&1; then
  if timeout 150 python3 "$here/reference.py" "$out/reference" > "$out/reference.log" 2>&1; then
    row reference PASS "$(grep -c '^wrote' "$out/reference.log") checkpoints in $out/reference"
    refargs=(--reference "$out/reference")
  else
    row reference FAIL "reference.py failed (reference.log)"
  fi
elif [ "$device" = cuda ]; then
  row reference FAIL "python3 lacks torch/transformers/safetensors"
else
  row reference skip "python3 lacks torch/transformers/safetensors"
fi

# 5. the engine's own checks on the device, against the reference checkpoints
timeout 300 "$eagle" selftest --device "$device" "${refargs[@]}" > "$out/selftest.log" 2>&1
status=$?
summary=$(grep '^selftest:' "$out/selftest.log" | tail -1)
if [ $status -eq 0 ]; then row selftest PASS "$summary"
else row selftest FAIL "exit $status: ${summary:-$(tail -1 "$out/selftest.log")} (selftest.log)"; fi

# 6. decode speed (random weights built in memory, so the first minutes go to initialising them). From here on,
# nvidia-smi dmon logs the SM clock and power each second (dmon.log): a launch-bound step leaves the GPU mostly idle,
# and a clock that did not ramp up is one suspect when two runs of the same bench differ.
dmon=""
if [ "$device" = cuda ] && command -v nvidia-smi >/dev/null; then
  nvidia-smi dmon -s pc -d 1 > "$out/dmon.log" 2>&1 &
  dmon=$!
fi
if [ "$device" = cuda ]; then bench=(bench --shape "$shape" --device cuda --dtype float16 --eagle3-projection)
else bench=(bench --shape "$shape" --device cpu --eagle3-projection); fi
timeout 300 "$eagle" "${bench[@]}" > "$out/bench.log" 2>&1
status=$?
if [ $status -eq 0 ]; then row bench PASS "$shape: $(grep -E '^vanilla decode' "$out/bench.log" | tr -s ' '); $(grep -E '^PROJECTION' "$out/bench.log" | cut -c1-160)"
else row bench FAIL "exit $status: $(tail -1 "$out/bench.log") (bench.log)"; fi

# 7. launch overhead: the same ops on the tiny shape, whose weights take no time to read, so a step is almost all
# kernel launches and host work (per layer: divide by its 8 layers)
if [ "$device" = cuda ]; then
  timeout 120 "$eagle" bench --shape tiny --device cuda --dtype float16 --json > "$out/bench-tiny.json" 2> "$out/bench-tiny.log"
  status=$?
  if [ $status -eq 0 ]; then row overhead info "tiny (8 layers): $(grep -o '"decode_ms_per_token":[0-9.]*' "$out/bench-tiny.json")"
  else row overhead FAIL "exit $status: $(tail -1 "$out/bench-tiny.log") (bench-tiny.log)"; fi
fi

# 8. end to end at known acceptance (bench --acceptance): vanilla and speculative on the same prompts, greedy
dt=(); [ "$device" = cuda ] && dt=(--dtype float16)
for p in 0.8 0; do
  timeout 180 "$eagle" bench --shape "$shape" --device "$device" "${dt[@]}" --acceptance "$p" --max-new-tokens 64 --limit 3 --json \
    > "$out/acceptance-$p.json" 2> "$out/acceptance-$p.log"
  status=$?
  if [ $status -eq 0 ]; then row "accept $p" PASS "$(grep -oE '"(vanilla_tokens_per_s|speculative_tokens_per_s|speedup|mean_acceptance_length)":[0-9.]*' "$out/acceptance-$p.json" | tr '\n' ' ')"
  else row "accept $p" FAIL "exit $status: $(tail -1 "$out/acceptance-$p.log") (acceptance-$p.log)"; fi
done

# 9. concurrent requests decoded as one batch, vanilla and speculative
timeout 420 "$eagle" bench --shape "$shape" --device "$device" "${dt[@]}" --concurrency 1,8,32 --max-new-tokens 64 > "$out/concurrency.log" 2>&1
status=$?
if [ $status -eq 0 ]; then row concurrency PASS "see concurrency.log"
else row concurrency FAIL "exit $status: $(tail -1 "$out/concurrency.log") (concurrency.log)"; fi

[ -n "$dmon" ] && kill "$dmon" 2>/dev/null

{
  echo
  echo "GPU path check, device $device, logs in $out"
  printf '%s\n' "${rows[@]}"
} | tee "$out/summary.txt"
exit $failed

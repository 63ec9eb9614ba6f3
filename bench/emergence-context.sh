#!/usr/bin/env bash
# The natural-text context sweep of docs/results/emergence.md ("Context length on natural text"): 5 contexts × 3 seeds,
# width 128, 4 layers, War and Peace, 1,000 steps of 8,192 tokens each, probes every 100 steps. Every run resumes where it stopped
# (exact --resume), so the script can be rerun across sessions until all 15 are done; finished runs are skipped.
# Usage: bash bench/emergence-context.sh [parallel runs, default 2] [seeds, default "1 2 3"]
set -euo pipefail
cd "$(dirname "$0")/.."
par="${1:-2}"
seeds="${2:-1 2 3}"
./sinklab --version > /dev/null   # build once, before the runs share the binary
todo=()
for s in $seeds; do
  for T in 32 64 128 256 512; do
    name="ctx$T-s$s"
    [ -f "runs/emergence/$name/$name.gguf" ] || todo+=("$name")
  done
done
printf '%s\n' "${todo[@]}" | xargs -P "$par" -I{} sh -c './sinklab train --config models/emergence/{}.json --resume > runs/emergence-{}.log 2>&1 || echo "{} failed (runs/emergence-{}.log)"'

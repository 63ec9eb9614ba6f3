#!/usr/bin/env bash
# Sinks and quantization at this project's scale (docs/results/quantization.md): outlier statistics, simulated W8A8
# (and W-A6, W-A4) perplexity with and without a CushionCache prefix, the search's wall time, and how weight
# quantization moves the sinks. Writes docs/results/quantization/*.json and the comparison report; ~3 minutes on 2 cores.
# Usage: bash bench/quantization-results.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-2}"
out=docs/results/quantization
mkdir -p "$out"
corpus=../shared/data/corpora/tinystories_valid_slice.txt
declare -A models=([sink]=models/tinystories-sink.gguf [sinkfree]=models/tinystories-sinkfree.gguf [stories260K]=../shared/data/models/stories260K-f32-ctx512.gguf)
for name in sink sinkfree stories260K; do
  m="${models[$name]}"
  ./sinklab inspect "$m" -f "$corpus" --only outliers,sinks -N 100 -T 64 -t "$t" -o "$out/inspect-$name" > /dev/null
  for bits in 8 6 4; do
    ./sinklab cushion "$m" -f "$corpus" -k 8 -c 128 --chunks 40 --act-bits "$bits" -t "$t" -o "$out/$name.prefix.json" --json > "$out/cushion-$name-a$bits.json"
  done
done
tmp=$(mktemp -d)
for ty in Q8_0 Q4_K_M Q2_K; do ./sinklab quantize models/tinystories-sink.gguf -o "$tmp/tinystories-sink-$ty.gguf" --type "$ty" > /dev/null; done
./sinklab compare models/tinystories-sink.gguf "$tmp/tinystories-sink-Q8_0.gguf" "$tmp/tinystories-sink-Q4_K_M.gguf" "$tmp/tinystories-sink-Q2_K.gguf" \
  -f "$corpus" -N 100 -T 64 -t "$t" -o "$out/compare-sink" > "$out/compare-sink.md"
rm -rf "$tmp"
rm -f "$out"/inspect-*/report.html "$out"/compare-sink/compare.html   # self-contained copies of the JSON and PNGs beside them
python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
print("| model | act bits | prefix (ids) | largest \\|x\\| BOS alone → with prefix | search s | float | static | per-token | float + prefix | static + prefix | per-token + prefix |")
print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name in ["sink", "sinkfree", "stories260K"]:
    for bits in [8, 6, 4]:
        d = json.load(open(f"{out}/cushion-{name}-a{bits}.json"))
        rows = {(r["activations"].split()[0], r["prefix"]): r["ppl"] for r in d["rows"]}
        last = d["steps"][-1]["max_activation"] if d["steps"] else d["baseline"]
        print(f"| {name} | {bits} | {' '.join(map(str, d['prefix']))} | {d['baseline']:.3f} → {last:.3f} | {d['search_seconds']:.1f} | "
              + " | ".join(f"{rows[(k, p)]:.4f}" for p in [False, True] for k in ["float", "static", "token"]) + " |")
PY

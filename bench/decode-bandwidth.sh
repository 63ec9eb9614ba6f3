#!/usr/bin/env bash
# Decode (128 tokens) against memory bandwidth and prefill (512) GFLOP/s on the synthetic ~100M model in each recipe of
# $TYPES (default Q8_0 Q4_K_M Q3_K_M Q2_K IQ4_XS), 1 and 2 threads, two rounds (the tables in docs/benchmarks.md).
# Writes the synthetic files to ${TMPDIR:-/tmp} (50-143 MB each).
# Usage: [TYPES="Q8_0 Q4_K_M"] bash bench/decode-bandwidth.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}"
rounds="${1:-2}"
types="${TYPES:-Q8_0 Q4_K_M Q3_K_M Q2_K IQ4_XS}"
file() { case "$1" in Q8_0) echo "$dir/m100-q8.gguf" ;; Q4_K_M) echo "$dir/m100-q4km.gguf" ;; *) echo "$dir/m100-$(echo "$1" | tr 'A-Z' 'a-z').gguf" ;; esac; }
for ty in $types; do [ -f "$(file "$ty")" ] || ./sinklab synth --shape 100m -o "$(file "$ty")" --type "$ty"; done
echo "| file | threads | pp512 tok/s | prefill GFLOP/s | f32 matmul GFLOP/s | file-type matmul GFLOP/s | tg tok/s | decode GB/s | CopyTo GB/s | share | read GB/s | share | compute scaling |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  for f in $types; do
    for t in 1 2; do
      ./sinklab bench "$(file "$f")" --prompt 512 --gen 128 -r 3 --bandwidth -t "$t" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
keys = ["prompt_tokens_per_second", "prompt_gflops", "matmul_f32_gflops", "matmul_type", "matmul_type_gflops",
        "generation_tokens_per_second", "decode_weight_bytes_per_second", "copy_bytes_per_second", "bandwidth_fraction",
        "read_bytes_per_second", "read_bandwidth_fraction"]
v = [d[k] for k in keys]
scaling = "%.2fx" % d["compute_scaling"] if d.get("compute_scaling") else "-"
print("| %s | %s | %.0f | %.1f | %.1f | %s %.1f | %.1f | %.2f | %.2f | %.0f %% | %.2f | %.0f %% | %s |" % (
    sys.argv[1], sys.argv[2], v[0], v[1], v[2], v[3], v[4], v[5], v[6] / 1e9, v[7] / 1e9, v[8] * 100, v[9] / 1e9, v[10] * 100, scaling))' "$f" "$t"
    done
  done
done

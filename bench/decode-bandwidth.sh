#!/usr/bin/env bash
# Decode against memory bandwidth and prefill GFLOP/s on the synthetic ~100M model, Q8_0 and Q4_K_M, 1 and 2 threads,
# two rounds (the table in docs/benchmarks.md). Writes the synthetic files to ${TMPDIR:-/tmp} (143 MB + 86 MB).
# Usage: bash bench/decode-bandwidth.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}"
rounds="${1:-2}"
[ -f "$dir/m100-q8.gguf" ] || ./sinklab synth --shape 100m -o "$dir/m100-q8.gguf" --type Q8_0
[ -f "$dir/m100-q4km.gguf" ] || ./sinklab synth --shape 100m -o "$dir/m100-q4km.gguf" --type Q4_K_M
echo "| file | threads | pp512 tok/s | prefill GFLOP/s | f32 matmul GFLOP/s | file-type matmul GFLOP/s | tg tok/s | decode GB/s | CopyTo GB/s | share | read GB/s | share | compute scaling |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  for f in q8 q4km; do
    for t in 1 2; do
      ./sinklab bench "$dir/m100-$f.gguf" --prompt 512 --gen 64 -r 3 --bandwidth -t "$t" --json | python3 -c '
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

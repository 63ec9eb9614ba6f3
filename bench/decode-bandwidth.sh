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
echo "| file | threads | pp512 tok/s | prefill GFLOP/s | f32 matmul GFLOP/s | file-type matmul GFLOP/s | tg tok/s | decode GB/s | CopyTo GB/s | share | read GB/s | share |"
for r in $(seq "$rounds"); do
  for f in q8 q4km; do
    for t in 1 2; do
      ./sinklab bench "$dir/m100-$f.gguf" --prompt 512 --gen 64 -r 3 --bandwidth -t "$t" --json | python3 -c '
import json, sys
d = json.load(sys.stdin); f, t = sys.argv[1], sys.argv[2]
print(f"| {f} | {t} | {d[\"prompt_tokens_per_second\"]:.0f} | {d[\"prompt_gflops\"]:.1f} | {d[\"matmul_f32_gflops\"]:.1f} | "
      f"{d[\"matmul_type\"]} {d[\"matmul_type_gflops\"]:.1f} | {d[\"generation_tokens_per_second\"]:.1f} | "
      f"{d[\"decode_weight_bytes_per_second\"]/1e9:.2f} | {d[\"copy_bytes_per_second\"]/1e9:.2f} | {d[\"bandwidth_fraction\"]*100:.0f} % | "
      f"{d[\"read_bytes_per_second\"]/1e9:.2f} | {d[\"read_bandwidth_fraction\"]*100:.0f} % |")' "$f" "$t"
    done
  done
done

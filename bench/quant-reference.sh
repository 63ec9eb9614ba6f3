#!/usr/bin/env bash
# SinkLab's perplexity on llama.cpp's 22 reference quantizations (../shared/reference/quant/), llama.cpp's protocol
# (-c 128, 8 chunks of Tiny Shakespeare), beside llama.cpp's `-fa off` figure from the README there.
# Usage: bash bench/quant-reference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ref=../shared/reference/quant
echo "| file | llama.cpp PPL (-fa off) | SinkLab PPL | relative difference |"
echo "|---|---|---|---|"
grep '^| llama-wide-' "$ref/README.md" | awk -F'|' '$8 ~ /^ *[0-9.]+ *$/ { gsub(/ /, "", $2); gsub(/ /, "", $8); print $2, $8 }' | while read -r file want; do
  got=$(./sinklab perplexity "$ref/$file" -f ../shared/data/corpora/tinyshakespeare.txt --ctx 128 --chunks 8 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])')
  python3 -c "import sys; f, w, g = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]); print(f'| {f} | {w:.4f} | {g:.4f} | {g / w - 1:+.2e} |')" "$file" "$want" "$got"
done

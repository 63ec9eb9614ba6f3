#!/usr/bin/env bash
# Repacked Q4_K/Q6_K (default) against the row kernels (SINKLAB_REPACK=0) on the same file, interleaved, one round
# after another: docs/benchmarks.md, "Repacked K-quants". Usage: bash bench/repack-ab.sh [rounds]   (file: $FILE,
# default llama-quantize's Q4_K_M of the 100m synth, which bench/vs-llamacpp.sh makes)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
f="${FILE:-${TMPDIR:-/tmp}/lc-m100-Q4_K_M.gguf}"
[ -f "$f" ] || { echo "no $f: run bench/vs-llamacpp.sh first (it quantizes the 100m synth with llama-quantize)" >&2; exit 2; }
rows=$(mktemp)
for r in $(seq "$rounds"); do
  for t in 1 2; do
    for rp in 0 1; do
      v=$(SINKLAB_REPACK=$rp ./sinklab bench "$f" --prompt 512 --gen 128 -r 3 -t "$t" --json \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["prompt_tokens_per_second"], d["generation_tokens_per_second"])')
      echo "$r $t $rp $v" | tee -a "$rows"
    done
  done
done
python3 - "$rows" "$(basename "$f")" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(f"\n| file | threads | row kernels pp512 | repacked pp512 | ratio | row kernels tg128 | repacked tg128 | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for t in ("1", "2"):
    per = {}
    for r in rows:
        if r[1] == t: per.setdefault(r[0], {})[r[2]] = (float(r[3]), float(r[4]))
    pairs = [v for v in per.values() if "0" in v and "1" in v]
    med = lambda rp, i: st.median(p[rp][i] for p in pairs)
    ratio = lambda i: st.median(p["1"][i] / p["0"][i] for p in pairs)
    print(f"| {sys.argv[2]} | {t} | {med('0', 0):.1f} | {med('1', 0):.1f} | {ratio(0):.2f} | {med('0', 1):.1f} | {med('1', 1):.1f} | {ratio(1):.2f} |")
PY
rm -f "$rows"

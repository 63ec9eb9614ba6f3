#!/usr/bin/env bash
# SinkLab against llama.cpp on the same files, interleaved: `llama-bench -p 512 -n 128 -r 3` and
# `sinklab bench --prompt 512 --gen 128 -r 3` back to back per file and thread count, $1 rounds (default 3).
# Files: the synthetic 100m model (`sinklab synth --shape 100m --type F32`, 134M parameters) quantized by llama.cpp's
# own llama-quantize into each type of $TYPES (default "Q8_0 Q4_K_M"). llama.cpp is Debian's build
# (bench/get-llamacpp.sh). Prints one row per round and a median table: ratio = SinkLab / llama.cpp, the median
# of the per-round ratios (this VM's speed drifts 20-40 % between minutes; ratios within a round do not).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
types="${TYPES:-Q8_0 Q4_K_M}"
threads="${THREADS:-1 2}"
dir="${TMPDIR:-/tmp}"
export LLAMACPP_DIR="${LLAMACPP_DIR:-/tmp/llamacpp}"
bash bench/get-llamacpp.sh >/dev/null
run="$LLAMACPP_DIR/run"
f32="$dir/m100-f32.gguf"
[ -f "$f32" ] || ./sinklab synth --shape 100m -o "$f32" --type F32 >/dev/null
for ty in $types; do
  [ -f "$dir/lc-m100-$ty.gguf" ] || "$run" llama-quantize "$f32" "$dir/lc-m100-$ty.gguf" "$ty" >/dev/null 2>&1
done
echo "llama.cpp: $("$run" llama-bench --version 2>&1 | grep -i version); SinkLab: $(./sinklab --version); $(lscpu | grep 'Model name' | sed 's/  */ /g')"
rows=$(mktemp)
for r in $(seq "$rounds"); do
  for ty in $types; do
    for t in $threads; do
      f="$dir/lc-m100-$ty.gguf"
      lc=$("$run" llama-bench -m "$f" -p 512 -n 128 -t "$t" -r 3 -o json 2>/dev/null \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); p=[x["avg_ts"] for x in d if x["n_prompt"]]; g=[x["avg_ts"] for x in d if x["n_gen"]]; print(p[0], g[0])')
      sl=$(./sinklab bench "$f" --prompt 512 --gen 128 -r 3 -t "$t" --json \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["prompt_tokens_per_second"], d["generation_tokens_per_second"])')
      echo "$r $ty $t $lc $sl" | tee -a "$rows"
    done
  done
done
python3 - "$rows" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print("\n| file | threads | llama.cpp pp512 | SinkLab pp512 | ratio | llama.cpp tg128 | SinkLab tg128 | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
keys = []
for r in rows:
    if (r[1], r[2]) not in keys: keys.append((r[1], r[2]))
for ty, t in keys:
    sel = [[float(v) for v in r[3:]] for r in rows if (r[1], r[2]) == (ty, t)]
    med = lambda i: st.median(s[i] for s in sel)
    ratio = lambda a, b: st.median(s[b] / s[a] for s in sel)
    print(f"| 100m {ty} | {t} | {med(0):.1f} | {med(2):.1f} | {ratio(0, 2):.2f} | {med(1):.1f} | {med(3):.1f} | {ratio(1, 3):.2f} |")
PY
rm -f "$rows"

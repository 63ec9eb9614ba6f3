#!/usr/bin/env bash
# KV eviction beyond StreamingLLM at equal budget (docs/results/eviction.md): long streams (perplexity, tokens/s,
# memory, what each policy keeps), the repeated-passage recall test and the planted-fact recall test. Writes docs/results/eviction/; ~15 minutes on
# 2 cores. Usage: bash bench/eviction-results.sh [threads] [stream tokens]
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-2}"
n="${2:-100000}"
out=docs/results/eviction
mkdir -p "$out"
wp=../shared/data/corpora/war_and_peace_pg2600.txt
ts=../shared/data/corpora/tinystories_valid_slice.txt
s260=../shared/data/models/stories260K-f32-ctx512.gguf
policies="sink:4+124,window:128,h2o:4+62+62,tova:4+124,snapkv:4+124,pyramid:4+124,keydiff:4+124,tova:4+124@original"
./sinklab stream "$s260" -f "$wp" --compare "$policies" --tokens "$n" -t "$t" --out "$out/wp-stories260K" > /dev/null
./sinklab stream models/tinystories-sink.gguf -f "$wp" --compare "$policies" --tokens "$n" -t "$t" --out "$out/wp-sink" > /dev/null
./sinklab stream models/tinystories-sink.gguf -f "$ts" --compare "$policies" --tokens 30000 -t "$t" --out "$out/ts-sink" > /dev/null
./sinklab stream models/tinystories-sinkfree.gguf -f "$ts" --compare "$policies" --tokens 30000 -t "$t" --out "$out/ts-sinkfree" > /dev/null
recall="full,sink:4+60,window:64,h2o:4+30+30,tova:4+60,snapkv:4+60,pyramid:4+60,keydiff:4+60"
for m in stories260K-f32-ctx512:"$s260" tinystories-sink:models/tinystories-sink.gguf; do
  name="${m%%:*}"; path="${m#*:}"
  ./sinklab recall "$path" -f "$ts" --cache "$recall" --distances 8,32,64,128,256,400 --trials 100 -t "$t" --out "$out/recall-$name" > /dev/null
done
# Planted facts on the committed bigram-recall model (models/bigram-recall-512.json): answered only from the cache.
./sinklab recall models/bigram-recall-512.gguf --task facts --cache "$recall" --distances 16,32,64,128,256,480 --trials 200 \
  --lead-in 16 -t "$t" --out "$out/recall-facts" > /dev/null
for d in "$out"/*/table.md; do echo "== $d"; cat "$d"; done

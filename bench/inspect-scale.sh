#!/usr/bin/env bash
# `inspect` with its defaults (all analyses, N=100 sequences of T=64 tokens) at the scale of the models people bring:
# the synthetic 1.1B llama in Q4_K_M (TinyLlama's shape) and a Gemma-2-style model under a 256k-token vocabulary.
# Prints wall time and peak resident memory beside each file's size (the table in docs/benchmarks.md).
# Writes the synthetic files to ${TMPDIR:-/tmp} (about 640 MB and 310 MB).
# Usage: bash bench/inspect-scale.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}"
threads="${1:-2}"
corpus="../shared/data/corpora/tinystories_valid_slice.txt"
[ -f "$dir/s1b-q4km.gguf" ] || ./sinklab synth --shape 1b --type Q4_K_M -o "$dir/s1b-q4km.gguf"
[ -f "$dir/v256k-gemma2-q8.gguf" ] || ./sinklab synth --shape vocab256k --arch gemma2 --type Q8_0 -o "$dir/v256k-gemma2-q8.gguf"
echo "| model | file MB | wall s | peak RSS MB | RSS − file MB | seconds by stage |"
echo "|---|---|---|---|---|---|"
# name | file | extra options (the third run: only the analyses that need one pass per sequence)
runs=("s1b-q4km|s1b-q4km|" "v256k-gemma2-q8|v256k-gemma2-q8|" "s1b-q4km one-pass analyses|s1b-q4km|--only sinks,entropy,massive,mechanics")
for run in "${runs[@]}"; do
  IFS="|" read -r name f extra <<< "$run"
  out="$dir/inspect-${name// /-}"
  rm -rf "$out"
  log="$out.time"
  # shellcheck disable=SC2086
  /usr/bin/time -v ./sinklab inspect "$dir/$f.gguf" -f "$corpus" -t "$threads" -o "$out" $extra > "$out.out" 2> "$log"
  size=$(stat -c %s "$dir/$f.gguf")
  python3 - "$name" "$size" "$log" "$out/report.json" <<'PY'
import json, re, sys
name, size, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
stages = json.load(open(sys.argv[4])).get("seconds", {})
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", log).group(1)
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
print("| %s | %.0f | %.0f | %.0f | %.0f | %s |" % (name, size / 1e6, secs, rss_kb / 1024, rss_kb / 1024 - size / 2**20,
      ", ".join("%s %.0f" % (k, v) for k, v in stages.items())))
PY
done

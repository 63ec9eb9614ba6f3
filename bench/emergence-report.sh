#!/usr/bin/env bash
# Tables, plots and rule-based verdicts of the natural-text emergence program (docs/results/emergence.md, "Emergence on
# natural text") from the finished runs of bench/emergence-runs.sh. For every finished run: `sinklab inspect` on 64
# War and Peace windows (the training corpus) at the common evaluation length 32 and at the run's own T (cached beside
# the run). Per grid point, the mean over seeds with a 95 % t-interval of α₀/ū (mean α₀ of all heads over query
# positions, divided by the uniform floor ū = mean over t of 1/(t+1)), sink rates, the first token's NLL cost and the
# final validation loss; over training, the first and last probe. Runs not finished yet are listed as missing.
# Usage: bash bench/emergence-report.sh [runs dir, default runs/emergence]
#   → docs/results/emergence/natural.md, natural.json, *.tsv and *.png
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-runs/emergence}"
corpus=../shared/data/corpora/war_and_peace_pg2600.txt
out=docs/results/emergence
mkdir -p "$out"
./sinklab --version > /dev/null
ctx_of() { case "$1" in ctx*) echo "${1#ctx}" ;; *) echo 128 ;; esac; }
for cfg in models/emergence/*.json; do
  name=$(basename "$cfg" .json); base=${name%-s*}; T=$(ctx_of "$base"); g="$runs/$name/$name.gguf"
  [ -f "$g" ] || continue
  for L in 32 "$T"; do
    f="$runs/$name/inspect-$L.json"
    [ -f "$f" ] && [ "$f" -nt "$g" ] || { ./sinklab inspect "$g" -f "$corpus" -T "$L" -N 64 --only sinks,bos --json -t 2 > "$f.tmp" && mv "$f.tmp" "$f"; }
  done
done
python3 bench/emergence_report.py "$runs" "$out"
for grid in ctx depth minctx; do
  dirs=$(ls -d "$runs"/$grid*-s[0-9] 2>/dev/null | grep -v '\.log$' || true)
  [ "$grid" = depth ] && dirs="$dirs $(ls -d "$runs"/ctx128-s[0-9] 2>/dev/null || true)"
  [ "$grid" = minctx ] && dirs="$dirs $(ls -d "$runs"/ctx128-s[0-9] 2>/dev/null || true)"
  [ -n "${dirs// /}" ] || continue
  for m in alpha-ratio sink-rate-0.3 first-token-cost val-loss; do
    ./sinklab plot probes $dirs -m "$m" --title "$grid: $m over training (mean over seeds)" -o "$out/$grid-$m.png"
  done
done
./sinklab plot points "$out/context.tsv" --log2-x --title "α₀/ū against the training context (95 % intervals over seeds)" \
  --x-label "training context T" --y-label "α₀ / uniform floor" -o "$out/context.png"
./sinklab plot points "$out/depth.tsv" --title "α₀/ū against depth (width 128, T 128)" --x-label "layers" --y-label "α₀ / uniform floor" -o "$out/depth.png"
./sinklab plot points "$out/minctx.tsv" --title "α₀/ū against the minimum context k (T 128)" --x-label "k (scored predictions see ≥ k tokens)" \
  --y-label "α₀ / uniform floor" -o "$out/minctx.png"
cat "$out/natural.md"

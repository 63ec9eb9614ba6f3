#!/usr/bin/env bash
# Prefill (512) and decode (64) speed of two SinkLab builds, interleaved run by run on the same files, with the ratio
# new/old per run (this VM drifts ±20–40 % between minutes, so only ratios measured side by side mean anything).
# Usage: bash bench/compare-builds.sh OLD_COMMIT [rounds]
#   builds OLD_COMMIT into ${TMPDIR:-/tmp}/sinklab-old (a git worktree) and compares it with this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
old="$1"; rounds="${2:-3}"
dir="${TMPDIR:-/tmp}"
tree="$dir/sinklab-old-tree"; cli="$dir/sinklab-old"
if [ ! -x "$cli/SinkLab.Cli" ] || [ "$(cat "$cli/.commit" 2>/dev/null)" != "$(git rev-parse "$old")" ]; then
  rm -rf "$tree"; git worktree prune
  git worktree add -f --detach "$tree" "$old" -q
  dotnet build "$tree/src/SinkLab.Cli/SinkLab.Cli.csproj" -c Release -o "$cli" -nologo > /dev/null
  git rev-parse "$old" > "$cli/.commit"
  git worktree remove --force "$tree"
fi
./sinklab --help > /dev/null   # builds this checkout
[ -f "$dir/m100-q8.gguf" ] || ./sinklab synth --shape 100m -o "$dir/m100-q8.gguf" --type Q8_0
[ -f "$dir/m100-q4km.gguf" ] || ./sinklab synth --shape 100m -o "$dir/m100-q4km.gguf" --type Q4_K_M
speed() { "$1" bench "$2" --prompt 512 --gen 64 -r 3 -t "$3" --json | python3 -c '
import json, sys; d = json.load(sys.stdin); print(d["prompt_tokens_per_second"], d["generation_tokens_per_second"])'; }
echo "| file | threads | round | old pp512 | new pp512 | new/old | old tg | new tg | new/old |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  for f in q8 q4km; do
    for t in 1 2; do
      read -r opp otg < <(speed "$cli/SinkLab.Cli" "$dir/m100-$f.gguf" "$t")
      read -r npp ntg < <(speed ./sinklab "$dir/m100-$f.gguf" "$t")
      python3 -c "import sys; f,t,r,a,b,c,d=sys.argv[1:]; a,b,c,d=map(float,(a,b,c,d)); print(f'| {f} | {t} | {r} | {a:.0f} | {b:.0f} | {b/a:.2f} | {c:.1f} | {d:.1f} | {d/c:.2f} |')" "$f" "$t" "$r" "$opp" "$npp" "$otg" "$ntg"
    done
  done
done

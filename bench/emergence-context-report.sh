#!/usr/bin/env bash
# Tables of the natural-text context sweep (docs/results/emergence.md, "Context length on natural text") from the
# finished runs of bench/emergence-context.sh: for each training context T and seed, `sinklab inspect` on 64
# War and Peace windows (the training corpus) at the common evaluation length 32 and at the run's own T; per T the mean over seeds of
# α₀ / ū (ū = the uniform floor, mean over query positions of 1/(t+1)) with a 95 % t-interval, the sink rates, the
# first token's NLL cost and the final validation loss. Runs not finished yet are listed as missing.
# Usage: bash bench/emergence-context-report.sh [runs dir, default runs/emergence]   → writes docs/results/emergence/context-natural.md
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-runs/emergence}"
corpus=../shared/data/corpora/war_and_peace_pg2600.txt
out=docs/results/emergence
mkdir -p "$out"
tmp=$(mktemp -d)
for T in 32 64 128 256 512; do
  for s in 1 2 3; do
    name="ctx$T-s$s"; g="$runs/$name/$name.gguf"
    [ -f "$g" ] || continue
    for L in 32 "$T"; do
      [ -f "$tmp/$name-$L.json" ] || ./sinklab inspect "$g" -f "$corpus" -T "$L" -N 64 --only sinks,bos --json -t 2 > "$tmp/$name-$L.json"
    done
  done
done
python3 - "$runs" "$tmp" > "$out/context-natural.md.tmp" <<'PY'
import json, math, os, statistics as st, sys
runs, tmp = sys.argv[1], sys.argv[2]
T_CRIT = {2: 12.706, 3: 4.303, 4: 3.182}
def floor(L): return sum(1.0 / t for t in range(1, L + 1)) / L
def interval(xs):
    m = st.mean(xs)
    if len(xs) < 2: return m, float("nan")
    return m, T_CRIT.get(len(xs), 2.0) * st.stdev(xs) / math.sqrt(len(xs))
def fmt(m, h): return f"{m:.2f}" if math.isnan(h) else f"{m:.2f} ± {h:.2f}"
print("| train T | seeds | α₀/ū at 32 | sink rate ε=0.3 / 0.5 / 0.8 at 32 | α₀/ū at own T | sink rate ε=0.3 / 0.5 / 0.8 at own T | first token's NLL cost at own T | val loss |")
print("|---:|---:|---|---|---|---|---|---|")
missing = []
for T in (32, 64, 128, 256, 512):
    rows = []
    for s in (1, 2, 3):
        name = f"ctx{T}-s{s}"
        a, b = os.path.join(tmp, f"{name}-32.json"), os.path.join(tmp, f"{name}-{T}.json")
        if not os.path.exists(a): missing.append(name); continue
        r32, rT = json.load(open(a)), json.load(open(b))
        mean_alpha = lambda r: st.mean(x for row in r["alpha_first"] for x in row)
        bos = {x["variant"]: x["mean_nll"] for x in rT["bos_ablation"]}
        evals = [json.loads(l)["eval_loss"] for l in open(os.path.join(runs, name, "metrics.jsonl")) if json.loads(l).get("eval_loss") is not None]
        rows.append(dict(a32=mean_alpha(r32) / floor(32), aT=mean_alpha(rT) / floor(T), s32=r32["sink_rate"], sT=rT["sink_rate"],
                         cost=bos["no_bos"] - bos["bos"], loss=evals[-1]))
    if not rows: continue
    rate = lambda key: " / ".join(f"{100 * st.mean(r[key][e] for r in rows):.0f} %" for e in ("0.3", "0.5", "0.8"))
    print(f"| {T} | {len(rows)} | {fmt(*interval([r['a32'] for r in rows]))} | {rate('s32')} | {fmt(*interval([r['aT'] for r in rows]))} | "
          f"{rate('sT')} | {fmt(*interval([r['cost'] for r in rows]))} | {fmt(*interval([r['loss'] for r in rows]))} |")
print()
print("Intervals: mean ± 95 % t-interval over seeds. Missing (not finished): " + (", ".join(missing) if missing else "none") + ".")
PY
mv "$out/context-natural.md.tmp" "$out/context-natural.md"
rm -rf "$tmp"
cat "$out/context-natural.md"

#!/usr/bin/env bash
# The natural-text emergence program of docs/results/emergence.md ("Emergence on natural text"): context sweep
# (T 32–512), depth sweep (2/4/8 layers) and minimum-context ablation (k 32/96 at T 128), 3 seeds each, configs in
# models/emergence/. Seed 1 of every grid point first, then seed 2, then 3. Every run resumes exactly where it stopped
# (--resume), so the script can be rerun across sessions until all are done; finished runs are skipped.
# It trains from its own build (out/train-cli), so rebuilding ./sinklab meanwhile does not touch running jobs.
# Usage: bash bench/emergence-runs.sh [parallel runs, default 2] [seeds, default "1 2 3"]
set -euo pipefail
cd "$(dirname "$0")/.."
par="${1:-2}"
seeds="${2:-1 2 3}"
cli=out/train-cli
if [ ! -x "$cli/SinkLab.Cli" ] || [ -n "$(find src -newer "$cli/SinkLab.Cli" -name '*.cs' -print -quit)" ]; then
  dotnet build src/SinkLab.Cli/SinkLab.Cli.csproj -c Release -o "$cli" -nologo > /dev/null
fi
mkdir -p runs/emergence
todo=()
for s in $seeds; do
  for name in ctx32 ctx64 ctx128 ctx256 ctx512 depth2 depth8 minctx32 minctx96; do
    [ -f "runs/emergence/$name-s$s/$name-s$s.gguf" ] || todo+=("$name-s$s")
  done
done
printf '%s\n' "${todo[@]}" | xargs -P "$par" -I{} sh -c "$cli/SinkLab.Cli train --config models/emergence/{}.json --resume > runs/emergence/{}.log 2>&1 || echo '{} failed (runs/emergence/{}.log)'"

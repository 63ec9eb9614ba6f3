#!/usr/bin/env bash
# Decode and prefill of a gpt-oss-20b-sized random model (20.9B parameters, 24 layers, 32 experts of which 4 per token,
# typed as llama.cpp's gpt-oss files: experts MXFP4, router F32, other matrices Q8_0; 12.1 GB) against the bytes a token
# reads, the active experts' share among them, and the machine's copy and read bandwidth.
# Writes the file to ${TMPDIR:-/tmp} unless it is there (about 9 min on 2 vCPUs); the page cache must hold it (24 GB RAM here).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${TMPDIR:-/tmp}
f="$dir/gpt-oss-20b-mxfp4moe.gguf"
[ -f "$f" ] || ./sinklab synth --shape 20b --arch gpt-oss --type MXFP4_MOE -o "$f"
./sinklab bench "$f" --prompt 64 --gen 32 -r 3 --bandwidth --json
./sinklab bench "$f" --prompt 64 --gen 32 -r 3 --bandwidth
# $1 rounds (default 0) of SinkLab against llama.cpp (Debian's build, bench/get-llamacpp.sh) on the same file, interleaved.
for r in $(seq "${1:-0}"); do
  export LLAMACPP_DIR="${LLAMACPP_DIR:-/tmp/llamacpp}"
  bash bench/get-llamacpp.sh >/dev/null
  ./sinklab bench "$f" --prompt 64 --gen 32 -r 3 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print('sinklab   pp64 %.2f tg32 %.2f' % (d['prompt_tokens_per_second'], d['generation_tokens_per_second']))"
  "$LLAMACPP_DIR/run" llama-bench -m "$f" -p 64 -n 32 -r 3 -t 2 -o json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print('llama.cpp pp64 %.2f tg32 %.2f' % (d[0]['avg_ts'], d[1]['avg_ts']))"
done

#!/usr/bin/env bash
# Fetches Debian's llama.cpp build (package llama.cpp-tools from sid, with its sid libc/libstdc++/libggml) into
# ${LLAMACPP_DIR:-/tmp/llamacpp} without installing anything, and writes $LLAMACPP_DIR/run: `run llama-bench ARGS`
# runs the tool under sid's own loader. Debian builds ggml with every CPU variant and picks the best at run time
# (on an AVX-512 VNNI Xeon: the "zen4" variant). Used by bench/vs-llamacpp.sh; needs only deb.debian.org.
set -euo pipefail
dir="${LLAMACPP_DIR:-/tmp/llamacpp}"
[ -x "$dir/run" ] && exit 0
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" > "$dir/apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache")
apt-get "${opts[@]}" update -qq
(cd "$dir/debs" && apt-get "${opts[@]}" download -qq llama.cpp-tools libllama0 libggml0 libc6 libgcc-s1 libstdc++6 libssl3t64 libgomp1 libcurl4t64)
for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
lib="$dir/root/usr/lib/x86_64-linux-gnu"
cp "$lib"/ggml/backends0/*.so "$lib/"   # ggml looks for its CPU variants beside the executable (here: the loader)
printf '#!/bin/sh\ntool="$1"; shift\nexec "%s/ld-linux-x86-64.so.2" --library-path "%s:%s/llama" "%s/root/usr/bin/$tool" "$@"\n' \
  "$lib" "$lib" "$lib" "$dir" > "$dir/run"
chmod +x "$dir/run"
"$dir/run" llama-bench --version 2>&1 | grep -i version

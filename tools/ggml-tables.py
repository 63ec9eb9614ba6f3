#!/usr/bin/env python3
"""Extracts the i-quant lattice tables from ggml's ggml-common.h into SinkLab's embedded blob.

Usage: python3 tools/ggml-tables.py PATH/TO/ggml-common.h [out.bin]

The tables are data ggml defines (grids of the E8 / D4-style lattices its i-quants index, the sign table and the
non-linear 4-bit values); SinkLab embeds them once, in this order, little-endian:
  iq2xxs_grid u64[256], iq2xs_grid u64[512], iq2s_grid u64[1024], iq3xxs_grid u32[256], iq3s_grid u32[512],
  iq1s_grid u64[2048], ksigns_iq2xs u8[128], kvalues_iq4nl i8[16], kvalues_mxfp4 i8[16]
and prints each table's SHA-256 (IQuantTablesTests pins them). The source used for the committed blob: ggml as
vendored by the npm package llama.rn 0.12.9 (identifiers prefixed LM_GGML_; the tables are ggml's).
"""
import hashlib, re, struct, sys

TABLES = [("iq2xxs_grid", "Q", 256), ("iq2xs_grid", "Q", 512), ("iq2s_grid", "Q", 1024), ("iq3xxs_grid", "I", 256),
          ("iq3s_grid", "I", 512), ("iq1s_grid", "Q", 2048), ("ksigns_iq2xs", "B", 128), ("kvalues_iq4nl", "b", 16)]

def table(src, name, size):
    m = re.search(r"TABLE_BEGIN\(\w+,\s*" + name + r",\s*\w+\)(.*?)TABLE_END", src, re.S)
    if not m: sys.exit(f"{name} not found")
    body = re.sub(r"//.*", "", m.group(1))
    vals = [int(v, 0) for v in re.findall(r"-?(?:0x[0-9a-fA-F]+|\d+)", body)]
    if len(vals) != size: sys.exit(f"{name}: {len(vals)} values, expected {size}")
    return vals

def main():
    src = open(sys.argv[1]).read()
    out = bytearray()
    for name, fmt, size in TABLES:
        vals = table(src, name, size)
        data = struct.pack("<%d%s" % (size, fmt), *vals)
        print(f"{name} {hashlib.sha256(data).hexdigest()}")
        out += data
    fp4 = table(src, "kvalues_fp4", 16)   # MXFP4's E2M1 values, doubled (ggml: #define kvalues_mxfp4 kvalues_fp4)
    data = struct.pack("<16b", *fp4)
    print(f"kvalues_mxfp4 {hashlib.sha256(data).hexdigest()}")
    out += data
    print(f"all {hashlib.sha256(out).hexdigest()} {len(out)} bytes")
    if len(sys.argv) > 2:
        open(sys.argv[2], "wb").write(out)

main()

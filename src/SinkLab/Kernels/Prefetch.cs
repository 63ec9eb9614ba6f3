using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SinkLab.Kernels;

/// <summary>
/// Software prefetch of the weights a kernel will read <see cref="Ahead"/> bytes later. Decode streams every weight
/// once per token, and the hardware prefetcher alone left it far below the memory's bandwidth on this project's
/// VMs: on the 100m synth (llama.cpp's own Q8_0 / Q4_K_M files), one-thread decode went from 54 to ~100 tok/s (Q8_0)
/// and from ~102 to ~150 tok/s (Q4_K_M) with 8 KB ahead; 1 KB gave about half of that, 4 and 8 KB alike
/// (bench/vs-llamacpp.sh, docs/benchmarks.md). Rows of a matrix are contiguous, so reading past a row's end
/// prefetches the next row; a prefetch never faults, so past the matrix's end it costs nothing but the line. No-op
/// where the instruction is missing.
/// </summary>
internal static unsafe class Prefetch
{
    public const int Ahead = 8192;

    /// <summary>Prefetches the cache lines of one block of <paramref name="size"/> bytes (a constant per weight type,
    /// so the branches fold away) <see cref="Ahead"/> bytes after <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block(byte* p, int size)
    {
        if (!Sse.IsSupported) return;
        byte* a = p + Ahead;
        Sse.Prefetch0(a);
        if (size > 64) Sse.Prefetch0(a + 64);
        if (size > 128) Sse.Prefetch0(a + 128);
        if (size > 192) Sse.Prefetch0(a + 192);
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Kernels;

/// <summary>
/// Times the engine's own matrix multiply on random weights of a given type and shape, on a given number of threads —
/// the baseline that <c>sinklab bench</c> sets prefill against (a float32 product of the same shape, same run).
/// </summary>
public static unsafe class MatMulProbe
{
    /// <summary>GFLOP/s (2·rows·cols·tokens per product) of W[rows × cols] of <paramref name="type"/> times
    /// <paramref name="tokens"/> activation rows; the best of <paramref name="reps"/> products after one warm-up.</summary>
    /// <exception cref="ArgumentException">A type the quantizer cannot write, or cols not whole blocks of it.</exception>
    public static double Gflops(GgmlType type, int rows, int cols, int tokens, int threads, int reps = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        var rng = new Random(7);
        float[] wf = new float[(long)rows * cols];
        for (long i = 0; i < wf.LongLength; i++) wf[i] = (float)(rng.NextDouble() * 2 - 1);
        byte[] encoded = Quantizer.Quantize(type, wf);
        byte[] wBytes = GC.AllocateArray<byte>(encoded.Length, pinned: true);
        encoded.CopyTo(wBytes, 0);
        float[] x = GC.AllocateArray<float>(tokens * cols, pinned: true), y = GC.AllocateArray<float>(tokens * rows, pinned: true);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        using var pool = new WorkerPool(threads);
        var mm = new MatMul(pool, tokens, cols);
        var w = new WeightMatrix("probe", type, rows, cols, (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(wBytes, 0));
        float* px = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(x, 0), py = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(y, 0);
        mm.Run(w, px, cols, tokens, py, rows);
        double best = double.MaxValue;
        for (int r = 0; r < reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            mm.Run(w, px, cols, tokens, py, rows);
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return 2.0 * rows * cols * tokens / best / 1e9;
    }
}

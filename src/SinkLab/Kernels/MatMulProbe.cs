using System.Diagnostics;
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
        byte[] wBytes = Quantizer.Quantize(type, wf);
        float[] x = new float[tokens * cols], y = new float[tokens * rows];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        using var pool = new WorkerPool(threads);
        var mm = new MatMul(pool, tokens, cols);
        double best = double.MaxValue;
        // fixed keeps the arrays alive and in place for as long as the products read them.
        fixed (byte* pw = wBytes)
        fixed (float* px = x, py = y)
        {
            var w = new WeightMatrix("probe", type, rows, cols, pw);
            mm.Run(w, px, cols, tokens, py, rows);
            for (int r = 0; r < reps; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                mm.Run(w, px, cols, tokens, py, rows);
                best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
        }
        return 2.0 * rows * cols * tokens / best / 1e9;
    }
}

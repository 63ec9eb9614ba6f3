using BenchmarkDotNet.Attributes;
using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Benchmarks;

/// <summary>
/// One 2048 × 768 product (the 100m shape's ffn_up) through the engine's <see cref="MatMul"/> on one thread, per weight
/// type, for one token (decode: a row · vector kernel per row) and 512 tokens (prefill: the four-token tiles over
/// L1-sized chunks). GFLOP/s = 2 · 2048 · 768 · tokens / mean. The weights fit in cache, so this is the kernels'
/// compute rate, not memory bandwidth.
/// </summary>
public unsafe class MatMulBenchmarks
{
    private const int Rows = 2048, Cols = 768;
    private byte[] _w = [];
    private float[] _x = [], _y = [];
    private WorkerPool _pool = null!;
    private MatMul _mm = null!;

    [Params(GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [Params(1, 512)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(7);
        float[] wf = Enumerable.Range(0, Rows * Cols).Select(_ => (float)r.NextDouble() * 2 - 1).ToArray();
        byte[] encoded = Quantizer.Quantize(Type, wf);
        _w = GC.AllocateArray<byte>(encoded.Length, pinned: true);   // fields: alive and in place for every run
        encoded.CopyTo(_w, 0);
        _x = GC.AllocateArray<float>(Tokens * Cols, pinned: true);
        _y = GC.AllocateArray<float>(Tokens * Rows, pinned: true);
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)r.NextDouble() * 2 - 1;
        _pool = new WorkerPool(1);
        _mm = new MatMul(_pool, Tokens, Cols);
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark]
    public void Product()
    {
        fixed (byte* w = _w)
        fixed (float* x = _x, y = _y)
            _mm.Run(new WeightMatrix("bench", Type, Rows, Cols, w), x, Cols, Tokens, y, Rows);
    }
}

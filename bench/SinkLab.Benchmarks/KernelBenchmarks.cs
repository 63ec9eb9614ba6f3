using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Benchmarks;

/// <summary>One row · vector dot product of 4096 elements per weight type, SIMD against scalar reference.</summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private const int N = 4096;
    private float[] _w = [], _x = [];
    private Half[] _f16 = [];
    private ushort[] _bf16 = [];
    private BlockQ8_0[] _q8 = [], _xq = [];
    private BlockQ4_0[] _q4 = [];

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        _w = Enumerable.Range(0, N).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        _x = Enumerable.Range(0, N).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        _f16 = _w.Select(v => (Half)v).ToArray();
        _bf16 = _w.Select(Quantizer.FloatToBf16).ToArray();
        _q8 = MemoryMarshal.Cast<byte, BlockQ8_0>(Quantizer.Quantize(GgmlType.Q8_0, _w)).ToArray();
        _q4 = MemoryMarshal.Cast<byte, BlockQ4_0>(Quantizer.Quantize(GgmlType.Q4_0, _w)).ToArray();
        _xq = MemoryMarshal.Cast<byte, BlockQ8_0>(Quantizer.Quantize(GgmlType.Q8_0, _x)).ToArray();
    }

    [Benchmark(Baseline = true)] public float F32() => DotKernels.DotF32(_w, _x);
    [Benchmark] public float F32Scalar() => DotKernels.DotF32Scalar(_w, _x);
    [Benchmark] public float F16() => DotKernels.DotF16(_f16, _x);
    [Benchmark] public float F16Scalar() => DotKernels.DotF16Scalar(_f16, _x);
    [Benchmark] public float Bf16() => DotKernels.DotBf16(_bf16, _x);
    [Benchmark] public float Bf16Scalar() => DotKernels.DotBf16Scalar(_bf16, _x);
    [Benchmark] public float Q8_0() => DotKernels.DotQ8_0(_q8, _xq);
    [Benchmark] public float Q8_0Scalar() => DotKernels.DotQ8_0Scalar(_q8, _xq);
    [Benchmark] public float Q4_0() => DotKernels.DotQ4_0(_q4, _xq);
    [Benchmark] public float Q4_0Scalar() => DotKernels.DotQ4_0Scalar(_q4, _xq);
}

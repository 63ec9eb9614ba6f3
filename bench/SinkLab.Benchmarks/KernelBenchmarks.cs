using BenchmarkDotNet.Attributes;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Benchmarks;

/// <summary>One row · vector dot product of 4096 elements per float weight type, SIMD against scalar reference.</summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private const int N = 4096;
    private float[] _w = [], _x = [];
    private Half[] _f16 = [];
    private ushort[] _bf16 = [];

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        _w = Enumerable.Range(0, N).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        _x = Enumerable.Range(0, N).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        _f16 = _w.Select(v => (Half)v).ToArray();
        _bf16 = _w.Select(Quantizer.FloatToBf16).ToArray();
    }

    [Benchmark(Baseline = true)] public float F32() => DotKernels.DotF32(_w, _x);
    [Benchmark] public float F32Scalar() => DotKernels.DotF32Scalar(_w, _x);
    [Benchmark] public float F16() => DotKernels.DotF16(_f16, _x);
    [Benchmark] public float Bf16() => DotKernels.DotBf16(_bf16, _x);
}

/// <summary>One row · activations dot product of 4096 weights per quantized type (activations already quantized, as
/// MatMul hands them over), SIMD against the double scalar reference.</summary>
[MemoryDiagnoser]
public class QuantKernelBenchmarks
{
    private const int N = 4096;
    private float[] _x = [];
    private ActivationBlock[] _xq = [];
    private ActivationSuperBlock[] _xk = [];
    private byte[] _row = [];

    [Params(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        float[] w = Enumerable.Range(0, N).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        _x = Enumerable.Range(0, N).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        _row = Quantizer.Quantize(Type, w);
        _xq = QuantDot.Blocks(_x);
        _xk = QuantDot.SuperBlocks(_x);
    }

    [Benchmark] public float Quantized() => QuantDot.UsesSuperBlocks(Type) ? QuantDot.Dot(Type, _row, _xk) : QuantDot.Dot(Type, _row, _xq);
    [Benchmark] public float QuantizedScalar() => QuantDot.DotScalar(Type, _row, _x);
}

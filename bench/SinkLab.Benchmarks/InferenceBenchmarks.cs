using BenchmarkDotNet.Attributes;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Benchmarks;

/// <summary>
/// stories260K: one decoded token (KV cache refilled from empty every 256 tokens), and prefill of 128 / 512 tokens,
/// with 1 and 2 threads. MemoryDiagnoser shows the bytes allocated per decoded token (the target is zero).
/// </summary>
[MemoryDiagnoser]
public class InferenceBenchmarks
{
    private Model _model = null!;
    private InferenceSession _session = null!;
    private int[] _tokens = [];

    /// <summary>Which stories260K file: f32 (stories260K-f32-ctx512.gguf), q8_0 or q4_0.</summary>
    [Params("f32", "q8_0", "q4_0")]
    public string Type { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = Model.Load(Path.Combine(SharedData.Models, Type == "f32" ? "stories260K-f32-ctx512.gguf" : $"stories260K-{Type}.gguf"));
        _session = new InferenceSession(_model, new SessionOptions { Threads = Threads });
        var r = new Random(3);
        _tokens = Enumerable.Range(0, 512).Select(_ => r.Next(_model.Config.VocabSize)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _model.Dispose();
    }

    [Benchmark]
    public float DecodeOneToken()
    {
        if (_session.Position >= 256) _session.Reset();
        return _session.Decode(_tokens[_session.Position])[0];
    }

    [Benchmark(OperationsPerInvoke = 128)]
    public float Prefill128()
    {
        _session.Reset();
        return _session.Prefill(_tokens.AsSpan(0, 128))[0];
    }

    [Benchmark(OperationsPerInvoke = 512)]
    public float Prefill512()
    {
        _session.Reset();
        return _session.Prefill(_tokens)[0];
    }
}

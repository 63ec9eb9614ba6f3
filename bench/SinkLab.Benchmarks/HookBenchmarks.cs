using BenchmarkDotNet.Attributes;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Benchmarks;

/// <summary>
/// Cost of hooks on stories260K, 64 tokens (inspect's default T): a plain forward, the same with an empty hook set
/// attached, RunWithCache capturing only attention patterns, and capturing every hook point.
/// </summary>
[MemoryDiagnoser]
public class HookBenchmarks
{
    private Model _model = null!;
    private InferenceSession _session = null!;
    private int[] _tokens = [];
    private float[] _logits = [];

    [GlobalSetup]
    public void Setup()
    {
        _model = Model.Load(Path.Combine(SharedData.Models, "stories260K-f32-ctx512.gguf"));
        _session = new InferenceSession(_model, new SessionOptions { ContextSize = 64, BatchSize = 64 });
        var r = new Random(3);
        _tokens = Enumerable.Range(0, 64).Select(_ => r.Next(_model.Config.VocabSize)).ToArray();
        _logits = new float[64 * _model.Config.VocabSize];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _model.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float PlainForward()
    {
        _session.Reset();
        _session.Evaluate(_tokens, _logits);
        return _logits[0];
    }

    [Benchmark]
    public float EmptyHookSetAttached()
    {
        using IDisposable scope = _session.Hooks(new HookSet());
        _session.Reset();
        _session.Evaluate(_tokens, _logits);
        return _logits[0];
    }

    [Benchmark]
    public float CapturePatterns() => _session.RunWithCache(_tokens, n => n.EndsWith("hook_pattern", StringComparison.Ordinal)).Logits[0];

    [Benchmark]
    public float CaptureAllHooks() => _session.RunWithCache(_tokens).Logits[0];
}

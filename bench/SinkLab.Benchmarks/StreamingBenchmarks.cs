using BenchmarkDotNet.Attributes;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Benchmarks;

/// <summary>
/// One streamed token of stories260K in steady state: <c>sink:4+252</c> (cache full, one eviction per token) against
/// <c>recompute:256</c> (re-encode the last 256 tokens) — StreamingLLM's speed comparison — and the dense cache at
/// the same span for reference. MemoryDiagnoser shows that the bounded cache allocates nothing per token.
/// </summary>
[MemoryDiagnoser]
public class StreamingBenchmarks
{
    private Model _model = null!;
    private InferenceSession _sink = null!, _recompute = null!, _full = null!;
    private int[] _tokens = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _model = Model.Load(Path.Combine(SharedData.Models, "stories260K-f32-ctx512.gguf"));
        var r = new Random(5);
        _tokens = Enumerable.Range(0, 4096).Select(_ => r.Next(_model.Config.VocabSize)).ToArray();
        _sink = new InferenceSession(_model, new SessionOptions { Cache = CachePolicy.Sink(4, 252) });
        _sink.Prefill(_tokens.AsSpan(0, 1024));   // past the window: every further token evicts one
        _recompute = new InferenceSession(_model, new SessionOptions { ContextSize = 256, BatchSize = 256 });
        _full = new InferenceSession(_model);
        _next = 1024;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sink.Dispose();
        _recompute.Dispose();
        _full.Dispose();
        _model.Dispose();
    }

    private int Next() => _tokens[_next = _next + 1 == _tokens.Length ? 256 : _next + 1];

    [Benchmark(Baseline = true)]
    public float SinkCacheToken() => _sink.Decode(Next())[0];

    [Benchmark]
    public float RecomputeToken()
    {
        Next();
        _recompute.Reset();
        return _recompute.Prefill(_tokens.AsSpan(_next - 255, 256))[0];
    }

    [Benchmark]
    public float FullCacheTokenAt256To512()
    {
        if (_full.Position >= 512) _full.Reset();
        if (_full.Position < 256) _full.Prefill(_tokens.AsSpan(0, 256));
        return _full.Decode(Next())[0];
    }
}

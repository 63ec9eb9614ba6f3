using BenchmarkDotNet.Attributes;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Benchmarks;

/// <summary>
/// One streamed token of stories260K in steady state under each eviction policy at the budget of <c>sink:4+252</c>
/// (256 cached tokens, one eviction per token per layer and head): what choosing the victim costs beyond StreamingLLM's
/// ring. MemoryDiagnoser shows whether a policy allocates per token.
/// </summary>
[MemoryDiagnoser]
public class EvictionBenchmarks
{
    private Model _model = null!;
    private InferenceSession _session = null!;
    private int[] _tokens = [];
    private int _next;

    [Params("sink:4+252", "h2o:4+126+126", "tova:4+252", "snapkv:4+252", "pyramid:4+252", "keydiff:4+252")]
    public string Policy { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _model = Model.Load(Path.Combine(SharedData.Models, "stories260K-f32-ctx512.gguf"));
        var r = new Random(5);
        _tokens = Enumerable.Range(0, 4096).Select(_ => r.Next(_model.Config.VocabSize)).ToArray();
        _session = new InferenceSession(_model, new SessionOptions { Cache = CachePolicy.Parse(Policy) });
        for (int i = 0; i < 1024; i++) _session.Decode(_tokens[i]);   // past the budget: every further token evicts
        _next = 1024;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _model.Dispose();
    }

    [Benchmark]
    public float Token() => _session.Decode(_tokens[_next = _next + 1 == _tokens.Length ? 1024 : _next + 1])[0];
}

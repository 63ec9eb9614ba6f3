using SinkLab.Caching;
namespace SinkLab.Inference;

/// <summary>Settings of one <see cref="InferenceSession"/>.</summary>
public sealed record SessionOptions
{
    /// <summary>Worker threads (the calling thread counts as one). Default 1.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Tokens a full or shift cache holds; 0 means the model's context length (sink and window policies size
    /// their own cache).</summary>
    public int ContextSize { get; init; }
    /// <summary>KV cache policy (default: full, dense).</summary>
    public CachePolicy Cache { get; init; } = CachePolicy.Full;
    /// <summary>Most tokens one forward step processes together (prefill batch).</summary>
    public int BatchSize { get; init; } = 512;
}

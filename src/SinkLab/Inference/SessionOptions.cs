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
    /// <summary>How GELU is evaluated: through ggml's fp16 table (default: llama.cpp's numbers) or by the tanh formula in
    /// float32 (PyTorch's <c>gelu(approximate="tanh")</c>, smooth in its input).</summary>
    public GeluMode Gelu { get; init; } = GeluMode.Ggml;
    /// <summary>A prefix (CushionCache, Son et al. 2024): token ids computed once, in float and without hooks, when
    /// the session is created, and kept as a pinned part of the KV cache — every <see cref="InferenceSession.Reset"/>
    /// leaves them in place and the stream continues after them. Under <c>sink:S+W</c> and <c>shift:K</c> the prefix is
    /// pinned in front of the S (K) stream tokens those policies pin; a dense cache's <see cref="ContextSize"/> counts
    /// the prefix. It usually begins with BOS and then takes BOS's place: callers drop the BOS their text would start
    /// with (<see cref="Prefix.Continue"/>). Null or empty: no prefix.</summary>
    public IReadOnlyList<int>? Prefix { get; init; }
    /// <summary>Round every key and value to half precision as it enters the cache — the values llama.cpp's default F16
    /// KV cache holds (storage stays float32: this reproduces llama.cpp's numbers, it does not halve the memory).
    /// Default false: keys and values in full float32.</summary>
    public bool HalfPrecisionKv { get; init; }
}

/// <summary>How GELU is evaluated.</summary>
public enum GeluMode
{
    /// <summary>As ggml's CPU backend: x rounded to fp16, the tanh approximation looked up in a table of fp16 values.</summary>
    Ggml,
    /// <summary>The tanh approximation 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))) in float32, no rounding.</summary>
    Tanh,
}

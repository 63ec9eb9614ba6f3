using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Extensions.AI;

/// <summary>Settings of a <see cref="SinkLabChatClient"/>.</summary>
public sealed record SinkLabChatClientOptions
{
    /// <summary>KV cache policy; null means <c>sink:4+W</c> with W filling the model's context.</summary>
    public CachePolicy? Cache { get; init; }
    /// <summary>Worker threads of the session.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>How turns are written into the token stream; null: the model's chat template, or the plain form when it
    /// has none. System messages at the start of a conversation become its <see cref="ChatFormat.System"/>.</summary>
    public ChatFormat? Format { get; init; }
    /// <summary>Reply length when <see cref="ChatOptions.MaxOutputTokens"/> is not set.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 256;
    /// <summary>Repetition penalty (1 = off).</summary>
    public float RepeatPenalty { get; init; } = 1.1f;
    /// <summary>Model id reported in responses (default "sinklab").</summary>
    public string? ModelId { get; init; }
}

/// <summary>
/// <see cref="IChatClient"/> over a SinkLab model with a streaming KV cache. The client keeps one conversation in its
/// cache: when a call's messages extend the conversation it last answered, only the new user messages are fed
/// (old turns may already have been evicted, as in StreamingLLM); any other history starts a new conversation that
/// replays the given turns. One call runs at a time; the model is not owned (dispose it yourself).
/// </summary>
public sealed class SinkLabChatClient : IChatClient
{
    private readonly Model _model;
    private readonly SinkLabChatClientOptions _options;
    private readonly CachePolicy _policy;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<(ChatRole Role, string Text)> _seen = [];
    private StreamingChat? _chat;
    private bool _disposed;

    /// <summary>Creates a client for <paramref name="model"/>.</summary>
    public SinkLabChatClient(Model model, SinkLabChatClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _options = options ?? new SinkLabChatClientOptions();
        _policy = _options.Cache ?? CachePolicy.Sink(4, Math.Max(1, model.Config.ContextLength - 5));
        if (!_policy.IsCache) throw new ArgumentException($"cache policy {_policy} cannot hold a conversation", nameof(options));
        ModelId = _options.ModelId ?? "sinklab";
    }

    /// <summary>The model id reported in responses.</summary>
    public string ModelId { get; }

    /// <summary>The cache of the current conversation (null before the first call).</summary>
    public KvRing? Cache => _chat?.Session.Ring;

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_disposed, this);
        List<(ChatRole Role, string Text)> history = [.. messages.Select(m => (m.Role, m.Text))];
        int answered = AnsweredPrefix(history);
        if (answered == history.Count) throw new ArgumentException("the last message must be a user message", nameof(messages));
        int systems = 0;
        while (systems < history.Count && history[systems].Role == ChatRole.System) systems++;
        if (systems == history.Count) throw new ArgumentException("the conversation holds only system messages", nameof(messages));
        string user = string.Join("\n", history.Skip(Math.Max(answered, systems)).Select(m => m.Text));
        int maxTokens = options?.MaxOutputTokens ?? _options.DefaultMaxOutputTokens;
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(options), maxTokens, "MaxOutputTokens must be ≥ 1");
        var sampler = new Sampler(_model.Config.VocabSize, new SamplerOptions
        {
            Temperature = options?.Temperature ?? 0f,
            TopP = options?.TopP ?? 1f,
            TopK = options?.TopK ?? 0,
            Seed = (int)(options?.Seed ?? 42),
            RepeatPenalty = _options.RepeatPenalty,
        });
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            StreamingChat chat = Prepare(history, answered, systems);
            // Bounded: generation runs at most a few tokens ahead of the consumer, so a cancelled or abandoned
            // enumeration stops the model promptly.
            var channel = Channel.CreateBounded<ChatPiece>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
            var reply = new System.Text.StringBuilder();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);   // also fired when the caller stops enumerating
            Task producer = Task.Run(() =>
            {
                try
                {
                    foreach (ChatPiece piece in chat.ReplyPieces(user, maxTokens, sampler, stop.Token))
                        channel.Writer.WriteAsync(piece, stop.Token).AsTask().GetAwaiter().GetResult();
                    channel.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    channel.Writer.TryComplete(e);
                }
            }, CancellationToken.None);
            string responseId = Guid.NewGuid().ToString("N");
            try
            {
                await foreach (ChatPiece piece in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (piece.IsReasoning)
                    {
                        // harmony's analysis channel: reasoning content, not part of the answer's text
                        yield return new ChatResponseUpdate(ChatRole.Assistant, [new TextReasoningContent(piece.Text)]) { ModelId = ModelId, ResponseId = responseId, MessageId = responseId };
                        continue;
                    }
                    reply.Append(piece.Text);
                    yield return new ChatResponseUpdate(ChatRole.Assistant, piece.Text) { ModelId = ModelId, ResponseId = responseId, MessageId = responseId };
                }
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);   // no-op when generation has finished
                await producer.ConfigureAwait(false);             // the generation loop stops within one step
                _seen.Clear();
                _seen.AddRange(history);
                _seen.Add((ChatRole.Assistant, reply.ToString()));
            }
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant, ModelId = ModelId, ResponseId = responseId, MessageId = responseId,
                FinishReason = chat.LastEnd == ReplyEnd.Length ? ChatFinishReason.Length : ChatFinishReason.Stop,
            };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Messages up to and including the last assistant reply; the ones after it are what this call answers.</summary>
    private static int AnsweredPrefix(List<(ChatRole Role, string Text)> history)
    {
        int n = history.Count;
        while (n > 0 && history[n - 1].Role != ChatRole.Assistant) n--;
        return n;
    }

    /// <summary>Reuses the cached conversation when the first <paramref name="last"/> messages are the ones it already
    /// holds; otherwise replays them.</summary>
    private StreamingChat Prepare(List<(ChatRole Role, string Text)> history, int last, int systems)
    {
        bool extends = _chat != null && _seen.Count == last && _seen.SequenceEqual(history.Take(last));
        if (extends) return _chat!;
        _chat?.Dispose();
        ChatFormat format = _options.Format ?? ChatFormat.ForModel(_model);
        if (systems > 0) format = format with { System = string.Join("\n", history.Take(systems).Select(m => m.Text)) };
        _chat = new StreamingChat(_model, _policy, _options.Threads, format);
        var pending = new List<string>();
        foreach (var (role, text) in history.Take(last).Skip(Math.Min(systems, last)))
        {
            if (role != ChatRole.Assistant) { pending.Add(text); continue; }
            _chat.AddTurn(string.Join("\n", pending), text);
            pending.Clear();
        }
        return _chat;
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey != null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("sinklab", null, ModelId);
        return serviceType.IsInstanceOfType(this) ? this : serviceType == typeof(Model) ? _model : null;
    }

    /// <summary>Frees the conversation's session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _chat?.Dispose();
        _gate.Dispose();
    }
}

using System.Text;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Inference;

/// <summary>How turns are written into the token stream. The default is the plain "USER: … ASSISTANT:" form that
/// StreamingLLM's chat demo uses; models with no chat training simply continue the text.</summary>
public sealed record ChatFormat
{
    /// <summary>Text before each user message.</summary>
    public string User { get; init; } = "USER: ";
    /// <summary>Text between the user message and the reply.</summary>
    public string Assistant { get; init; } = "\n\nASSISTANT: ";
    /// <summary>Text after each reply, before the next user message.</summary>
    public string EndOfTurn { get; init; } = "\n\n";
    /// <summary>Generation stops when the reply would contain one of these (not included in the reply).</summary>
    public IReadOnlyList<string> Stop { get; init; } = ["USER:"];
}

/// <summary>Why a reply ended.</summary>
public enum ReplyEnd
{
    /// <summary>End of sequence, or a stop string.</summary>
    Stop,
    /// <summary>The token limit.</summary>
    Length,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
}

/// <summary>
/// A multi-turn conversation over one session with a streaming cache: before each user message, evict from the
/// window to make room for the message and the reply (StreamingLLM's <c>evict_for_space</c>), feed the message, then
/// sample the reply token by token. The conversation can run for ever at constant memory under <c>sink:S+W</c>.
/// Not thread-safe.
/// </summary>
public sealed class StreamingChat : IDisposable
{
    private readonly Model _model;
    private readonly InferenceSession _session;
    private readonly ChatFormat _format;
    private bool _started;
    private int _pending = -1;   // last sampled token of the previous reply, not yet fed

    /// <summary>Starts an empty conversation.</summary>
    public StreamingChat(Model model, CachePolicy policy, int threads = 1, ChatFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policy);
        _model = model;
        _format = format ?? new ChatFormat();
        _session = new InferenceSession(model, new SessionOptions { Threads = threads, Cache = policy });
    }

    /// <summary>The session (its <see cref="InferenceSession.Ring"/> shows what the cache holds).</summary>
    public InferenceSession Session => _session;

    /// <summary>Why the last reply ended.</summary>
    public ReplyEnd LastEnd { get; private set; }

    /// <summary>Tokens evicted to make room before prompts, in total.</summary>
    public long EvictedForSpace { get; private set; }

    /// <summary>Feeds a past turn (a user message and the reply it got) without generating, e.g. to replay a
    /// conversation held elsewhere.</summary>
    public void AddTurn(string message, string reply)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(reply);
        var tokens = new List<int>();
        if (_pending >= 0) tokens.Add(_pending);
        tokens.AddRange(_model.Tokenizer.Encode((_started ? _format.EndOfTurn : "") + _format.User + message + _format.Assistant + reply, addSpecial: !_started));
        _started = true;
        _pending = -1;
        EvictedForSpace += _session.Ring.EvictForSpace(tokens.Count);
        _session.Prefill(tokens.ToArray());
    }

    /// <summary>Sends <paramref name="message"/> and yields the reply as text pieces as they are sampled.</summary>
    /// <exception cref="ArgumentException">An empty message.</exception>
    public IEnumerable<string> Reply(string message, int maxTokens, Sampler sampler, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        if (message.Trim().Length == 0) throw new ArgumentException("the message is empty", nameof(message));
        return Run(message, maxTokens, sampler, cancel);
    }

    private IEnumerable<string> Run(string message, int maxTokens, Sampler sampler, CancellationToken cancel)
    {
        var prompt = new List<int>();
        if (_pending >= 0) prompt.Add(_pending);
        string text = (_started ? _format.EndOfTurn : "") + _format.User + message + _format.Assistant;
        prompt.AddRange(_model.Tokenizer.Encode(text, addSpecial: !_started));
        _started = true;
        _pending = -1;
        EvictedForSpace += _session.Ring.EvictForSpace(prompt.Count + maxTokens);
        foreach (int t in prompt) sampler.Accept(t);
        ReadOnlySpan<float> logits = _session.Prefill(prompt.ToArray());
        int eos = _model.Tokenizer.EosId;
        var utf8 = new UTF8Encoding(false, false).GetDecoder();
        var chars = new char[64];
        var held = new StringBuilder();   // text that might be the start of a stop string
        LastEnd = ReplyEnd.Length;
        for (int i = 0; i < maxTokens; i++)
        {
            if (cancel.IsCancellationRequested) { LastEnd = ReplyEnd.Cancelled; break; }
            int next = sampler.Sample(logits);
            sampler.Accept(next);
            if (next == eos) { LastEnd = ReplyEnd.Stop; break; }
            byte[] piece = _model.Tokenizer.TokenBytes(next);
            held.Append(chars, 0, utf8.GetChars(piece, 0, piece.Length, chars, 0, flush: false));
            var (emit, stopped) = SplitAtStop(held);
            if (emit.Length > 0) yield return emit;
            if (stopped) { LastEnd = ReplyEnd.Stop; break; }
            if (i + 1 == maxTokens) { _pending = next; break; }
            logits = _session.Decode(next);
        }
        if (LastEnd != ReplyEnd.Stop && held.Length > 0) yield return held.ToString();
    }

    /// <summary>Takes from <paramref name="held"/> the text that cannot begin a stop string; reports a complete stop.</summary>
    private (string Emit, bool Stopped) SplitAtStop(StringBuilder held)
    {
        string s = held.ToString();
        foreach (string stop in _format.Stop)
        {
            int at = s.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0)
            {
                held.Clear();
                return (s[..at].TrimEnd(), true);
            }
        }
        int keep = 0;
        foreach (string stop in _format.Stop)
            for (int k = Math.Min(stop.Length - 1, s.Length); k > keep; k--)
                if (s.AsSpan(s.Length - k).SequenceEqual(stop.AsSpan(0, k))) { keep = k; break; }
        held.Remove(0, s.Length - keep);
        return (s[..^keep], false);
    }

    /// <summary>Ends the conversation and frees the session.</summary>
    public void Dispose() => _session.Dispose();
}

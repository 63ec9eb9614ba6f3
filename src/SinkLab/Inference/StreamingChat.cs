using System.Text;
using SinkLab.Caching;
using SinkLab.Models;
using SinkLab.Templates;
using SinkLab.Tokenization;

namespace SinkLab.Inference;

/// <summary>Why a reply ended.</summary>
public enum ReplyEnd
{
    /// <summary>An end-of-turn token, or a stop string.</summary>
    Stop,
    /// <summary>The token limit.</summary>
    Length,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
}

/// <summary>A piece of a reply as it is sampled: answer text, or the model's reasoning (harmony's <c>analysis</c>
/// channel, and the arguments of a tool call), which is shown apart and not part of <see cref="ChatTurn.Content"/>.</summary>
/// <param name="Text">The text.</param>
/// <param name="IsReasoning">True for chain of thought.</param>
public readonly record struct ChatPiece(string Text, bool IsReasoning);

/// <summary>
/// A multi-turn conversation over one session with a streaming cache: before each user message, evict from the
/// window to make room for the message and the reply (StreamingLLM's <c>evict_for_space</c>), feed the message, then
/// sample the reply token by token. The conversation can run for ever at constant memory under <c>sink:S+W</c>.
/// With a chat template, each turn feeds only the text the template adds after the last reply (see
/// <see cref="TemplateDelta"/>), since what the cache holds cannot be re-rendered. With a harmony vocabulary (gpt-oss)
/// replies are read by channel (<see cref="HarmonyReader"/>): the answer is the text of the final (and commentary)
/// messages, the analysis channel is reasoning, and so are a tool call's arguments (a message with a recipient; tools
/// are not run, and <c>&lt;|call|&gt;</c> ends the reply); every sampled token stays in the cache as the model wrote it, and the
/// next turn's text begins with the <c>&lt;|end|&gt;</c> that closes the reply where the model wrote <c>&lt;|return|&gt;</c>,
/// as harmony's history does. Not thread-safe.
/// </summary>
public sealed class StreamingChat : IDisposable
{
    /// <summary>Stands for the last reply while rendering the next turn; the text after it is what to feed.</summary>
    private const string ReplyMarker = "SinkLabReplyMarker0x5f3759df";

    private readonly Model _model;
    private readonly InferenceSession _session;
    private readonly ChatFormat _format;
    private readonly List<ChatTurn> _turns = [];
    private bool _started;
    private int _pending = -1;   // last sampled token of the previous reply, not yet fed
    private readonly bool _prefixHasBos;   // the cached prefix already starts the sequence with BOS
    private readonly HarmonyReader? _harmony;

    /// <summary>Starts an empty conversation; <paramref name="format"/> null means the model's own template, or the
    /// plain form when it has none.</summary>
    /// <exception cref="TemplateException">The model's template does not parse.</exception>
    /// <param name="model">The model.</param>
    /// <param name="policy">The KV cache policy.</param>
    /// <param name="threads">Worker threads.</param>
    /// <param name="format">Chat format (null: the model's template).</param>
    /// <param name="prefix">A prefix pinned in the cache before the conversation (<see cref="SessionOptions.Prefix"/>);
    /// when it starts with BOS, the conversation does not write BOS again.</param>
    public StreamingChat(Model model, CachePolicy policy, int threads = 1, ChatFormat? format = null, IReadOnlyList<int>? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policy);
        _model = model;
        _format = format ?? ChatFormat.ForModel(model);
        if (_format.System != null) _turns.Add(new ChatTurn("system", _format.System));
        _session = new InferenceSession(model, new SessionOptions { Threads = threads, Cache = policy, Prefix = prefix });
        _prefixHasBos = prefix is { Count: > 0 } && prefix[0] == model.Tokenizer.BosId;
        _harmony = HarmonyReader.For(model.Tokenizer);
    }

    /// <summary>True when replies are read as harmony messages (the vocabulary has harmony's markers).</summary>
    public bool Harmony => _harmony != null;

    /// <summary>The reasoning of the last reply (harmony's analysis channel; empty for other models).</summary>
    public string LastReasoning { get; private set; } = "";

    /// <summary>The session (its <see cref="InferenceSession.Ring"/> shows what the cache holds).</summary>
    public InferenceSession Session => _session;

    /// <summary>The format in use.</summary>
    public ChatFormat Format => _format;

    /// <summary>The conversation so far (system message, user messages and replies).</summary>
    public IReadOnlyList<ChatTurn> Turns => _turns;

    /// <summary>The text fed before the last reply (the format's end of the previous turn, the message, the assistant's
    /// header), as the tokenizer saw it.</summary>
    public string LastPromptText { get; private set; } = "";

    /// <summary>Why the last reply ended.</summary>
    public ReplyEnd LastEnd { get; private set; }

    /// <summary>Tokens evicted to make room before prompts, in total.</summary>
    public long EvictedForSpace { get; private set; }

    /// <summary>Feeds a past turn (a user message and the reply it got) without generating, e.g. to replay a
    /// conversation held elsewhere.</summary>
    /// <exception cref="TemplateException">The template refused the conversation.</exception>
    public void AddTurn(string message, string reply)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(reply);
        var tokens = PromptTokens(message);
        // A harmony reply is a final-channel message after the prompt's <|start|>assistant, as the model writes it.
        if (_harmony != null) tokens.AddRange(_model.Tokenizer.Encode("<|channel|>final<|message|>", addSpecial: false, parseSpecial: true));
        tokens.AddRange(_model.Tokenizer.Encode(reply, addSpecial: false, parseSpecial: false));
        _turns.Add(new ChatTurn("user", message));
        _turns.Add(new ChatTurn("assistant", reply));
        EvictedForSpace += _session.Ring.EvictForSpace(tokens.Count);
        _session.Prefill(tokens.ToArray());
    }

    /// <summary>Sends <paramref name="message"/> and yields the reply as text pieces as they are sampled.</summary>
    /// <exception cref="ArgumentException">An empty message.</exception>
    /// <exception cref="TemplateException">The template refused the conversation (e.g. roles it does not accept).</exception>
    public IEnumerable<string> Reply(string message, int maxTokens, Sampler sampler, CancellationToken cancel = default)
    {
        IEnumerable<ChatPiece> pieces = ReplyPieces(message, maxTokens, sampler, cancel);
        return pieces.Where(p => !p.IsReasoning).Select(p => p.Text);
    }

    /// <summary>Sends <paramref name="message"/> and yields the reply's answer and reasoning pieces as they are sampled.</summary>
    /// <exception cref="ArgumentException">An empty message.</exception>
    /// <exception cref="TemplateException">The template refused the conversation (e.g. roles it does not accept).</exception>
    public IEnumerable<ChatPiece> ReplyPieces(string message, int maxTokens, Sampler sampler, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        if (message.Trim().Length == 0) throw new ArgumentException("the message is empty", nameof(message));
        List<int> prompt = PromptTokens(message);   // renders now, so template errors surface before enumeration
        return Run(message, prompt, maxTokens, sampler, cancel);
    }

    /// <summary>The tokens that open the reply to <paramref name="message"/>: the pending token of a cut-off reply, then
    /// the format's text for the end of the last turn, the message and the assistant's header.</summary>
    private List<int> PromptTokens(string message)
    {
        var tokens = new List<int>();
        if (_pending >= 0) tokens.Add(_pending);
        ITokenizer tok = _model.Tokenizer;
        if (_format.Template is { } template)
        {
            string text = TemplateDelta(template, message);
            LastPromptText = text;
            int[] ids = tok.Encode(text, addSpecial: false, parseSpecial: true);
            // The first chunk starts the sequence: BOS when the model wants one and the template did not write it.
            if (!_started && !_prefixHasBos && tok.AddBos && tok.BosId >= 0 && (ids.Length == 0 || ids[0] != tok.BosId)) tokens.Add(tok.BosId);
            tokens.AddRange(!_started && _prefixHasBos && ids.Length > 0 && ids[0] == tok.BosId ? ids[1..] : ids);
        }
        else
        {
            string system = !_started && _format.System != null ? _format.System + "\n\n" : "";
            string text = (_started ? _format.EndOfTurn : "") + system + _format.User + message + _format.Assistant;
            LastPromptText = text;
            tokens.AddRange(tok.Encode(text, addSpecial: !_started && !_prefixHasBos));
        }
        _started = true;
        _pending = -1;
        return tokens;
    }

    /// <summary>
    /// The text a template adds for a new user message: the whole rendering on the first turn; afterwards the rendering
    /// of the conversation with the last reply replaced by a marker, from just after the marker (the end of the
    /// assistant's turn as the template writes it, the new user turn, the generation prompt). The reply itself is in the
    /// cache exactly as it was sampled. Templates that drop the reply fall back to the text after the common prefix of
    /// the renderings without and with the new message.
    /// </summary>
    private string TemplateDelta(ChatTemplate template, string message)
    {
        ITokenizer tok = _model.Tokenizer;
        string bos = tok.BosId >= 0 ? tok.TokenText(tok.BosId) : "", eos = tok.EosId >= 0 ? tok.TokenText(tok.EosId) : "";
        var next = new List<ChatTurn>(_turns) { new("user", message) };
        if (_turns.Count == 0 || _turns[^1].Role != "assistant")
            return template.Render(next, true, bos, eos, _format.TemplateVariables);
        var marked = new List<ChatTurn>(_turns.Take(_turns.Count - 1)) { new("assistant", ReplyMarker), new("user", message) };
        string withMarker = template.Render(marked, true, bos, eos, _format.TemplateVariables);
        int at = withMarker.LastIndexOf(ReplyMarker, StringComparison.Ordinal);
        if (at >= 0) return withMarker[(at + ReplyMarker.Length)..];
        string before = template.Render(_turns, false, bos, eos, _format.TemplateVariables);
        string after = template.Render(next, true, bos, eos, _format.TemplateVariables);
        int common = 0;
        while (common < before.Length && common < after.Length && before[common] == after[common]) common++;
        return after[common..];
    }

    private IEnumerable<ChatPiece> Run(string message, List<int> prompt, int maxTokens, Sampler sampler, CancellationToken cancel)
    {
        _turns.Add(new ChatTurn("user", message));
        var reply = new StringBuilder();
        var reasoning = new StringBuilder();
        var thoughts = new TokenTextStream();
        _harmony?.Begin();
        LastReasoning = "";
        EvictedForSpace += _session.Ring.EvictForSpace(prompt.Count + maxTokens);
        foreach (int t in prompt) sampler.Accept(t);
        ReadOnlySpan<float> logits = _session.Prefill(prompt.ToArray());
        IReadOnlySet<int> end = _model.EndOfGeneration;
        var text = new TokenTextStream();
        var held = new StringBuilder();   // text that might be the start of a stop string
        LastEnd = ReplyEnd.Length;
        try
        {
            for (int i = 0; i < maxTokens; i++)
            {
                if (cancel.IsCancellationRequested) { LastEnd = ReplyEnd.Cancelled; break; }
                int next = sampler.Sample(logits);
                sampler.Accept(next);
                if (end.Contains(next)) { LastEnd = ReplyEnd.Stop; break; }
                byte[] piece = _model.Tokenizer.TokenBytes(next);
                // Harmony markers and headers are neither answer nor reasoning; analysis text and tool-call arguments
                // are reasoning; everything else (every token of a model without harmony) is answer.
                HarmonyPart part = _harmony?.Feed(next) ?? HarmonyPart.Content;
                bool thinking = _harmony is { IsReasoning: true } or { Recipient: not null };
                if (part == HarmonyPart.Content && thinking)
                {
                    string thought = thoughts.Next(piece);
                    reasoning.Append(thought);
                    if (thought.Length > 0) yield return new ChatPiece(thought, true);
                }
                else if (part == HarmonyPart.Content)
                {
                    held.Append(text.Next(piece));
                    var (emit, stopped) = SplitAtStop(held);
                    if (emit.Length > 0)
                    {
                        reply.Append(emit);
                        yield return new ChatPiece(emit, false);
                    }
                    if (stopped) { LastEnd = ReplyEnd.Stop; break; }
                }
                if (i + 1 == maxTokens) { _pending = next; break; }
                logits = _session.Decode(next);
            }
            if (LastEnd != ReplyEnd.Stop && held.Length > 0)
            {
                reply.Append(held);
                yield return new ChatPiece(held.ToString(), false);
            }
        }
        finally
        {
            _turns.Add(new ChatTurn("assistant", reply.ToString()));
            LastReasoning = reasoning.ToString();
        }
    }

    /// <summary>Takes from <paramref name="held"/> the text that cannot begin a stop string; reports a complete stop.</summary>
    private (string Emit, bool Stopped) SplitAtStop(StringBuilder held)
    {
        string s = held.ToString();
        IReadOnlyList<string> stops = _format.StopStrings;
        foreach (string stop in stops)
        {
            int at = s.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0)
            {
                held.Clear();
                return (s[..at].TrimEnd(), true);
            }
        }
        int keep = 0;
        foreach (string stop in stops)
            for (int k = Math.Min(stop.Length - 1, s.Length); k > keep; k--)
                if (s.AsSpan(s.Length - k).SequenceEqual(stop.AsSpan(0, k))) { keep = k; break; }
        held.Remove(0, s.Length - keep);
        return (s[..^keep], false);
    }

    /// <summary>Ends the conversation and frees the session.</summary>
    public void Dispose() => _session.Dispose();
}

using System.Text;
using SinkLab.Tokenization;

namespace SinkLab.Inference;

/// <summary>What a sampled token is in a harmony reply.</summary>
public enum HarmonyPart
{
    /// <summary>A marker (<c>&lt;|start|&gt;</c>, <c>&lt;|channel|&gt;</c>, <c>&lt;|message|&gt;</c>, <c>&lt;|end|&gt;</c>, …).</summary>
    Marker,
    /// <summary>Part of a message header: the role, the channel name, a recipient (<c>to=…</c>) or a content type.</summary>
    Header,
    /// <summary>Text of a message, in the channel <see cref="HarmonyReader.Channel"/>.</summary>
    Content,
}

/// <summary>
/// Reads a reply in OpenAI's harmony format (gpt-oss) token by token. A reply is a run of messages, each
/// <c>[&lt;|start|&gt;role] [to=recipient] &lt;|channel|&gt;name [to=recipient] [&lt;|constrain|&gt;type] &lt;|message|&gt;text</c>
/// closed by <c>&lt;|end|&gt;</c> (another message follows), <c>&lt;|return|&gt;</c> (the answer is done) or
/// <c>&lt;|call|&gt;</c> (a tool call); the prompt already wrote the first <c>&lt;|start|&gt;assistant</c>. The channel
/// <c>analysis</c> carries the chain of thought, <c>final</c> the answer, <c>commentary</c> tool calls and preambles.
/// Markers are found by token id, so text that merely spells a marker stays text.
/// </summary>
public sealed class HarmonyReader
{
    private readonly int _start, _channel, _message, _end, _constrain;
    private readonly ITokenizer _tokenizer;
    private readonly List<byte> _header = [], _channelName = [], _contentType = [];   // bytes: a character may span tokens
    private List<byte>? _collect;   // where header tokens go; null inside a message's text
    private static readonly char[] Spaces = [' ', '\t', '\n', '\u2581'];   // U+2581: SentencePiece's space

    private HarmonyReader(ITokenizer tokenizer, int start, int channel, int message, int end, int constrain)
    {
        _tokenizer = tokenizer;
        (_start, _channel, _message, _end, _constrain) = (start, channel, message, end, constrain);
    }

    /// <summary>A reader for <paramref name="tokenizer"/>'s vocabulary when it has harmony's markers
    /// (<c>&lt;|start|&gt;</c>, <c>&lt;|channel|&gt;</c>, <c>&lt;|message|&gt;</c>, <c>&lt;|end|&gt;</c>, and <c>&lt;|return|&gt;</c>); else null.</summary>
    public static HarmonyReader? For(ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        // The tokenizer's own special-token matching finds a marker (a control or user-defined token), no vocabulary scan.
        int Id(string marker) => tokenizer.Encode(marker, addSpecial: false, parseSpecial: true) is [int id] && tokenizer.TokenText(id) == marker ? id : -1;
        int start = Id("<|start|>"), channel = Id("<|channel|>"), message = Id("<|message|>"), end = Id("<|end|>");
        if (start < 0 || channel < 0 || message < 0 || end < 0 || Id("<|return|>") < 0) return null;
        return new HarmonyReader(tokenizer, start, channel, message, end, Id("<|constrain|>"));
    }

    /// <summary>The channel of the message being read (<c>final</c> when a header names none).</summary>
    public string Channel { get; private set; } = "final";

    /// <summary>The recipient of the message being read (<c>functions.get_weather</c>), or null.</summary>
    public string? Recipient { get; private set; }

    /// <summary>The content type after <c>&lt;|constrain|&gt;</c> (<c>json</c>), or null.</summary>
    public string? ContentType { get; private set; }

    private static string[] Words(List<byte> b) => Encoding.UTF8.GetString(b.ToArray()).Split(Spaces, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>True when the message being read is chain of thought (the <c>analysis</c> channel).</summary>
    public bool IsReasoning => Channel == "analysis";

    /// <summary>Starts a reply: the next tokens are the header of the assistant's first message.</summary>
    public void Begin()
    {
        _collect = _header;
        _header.Clear();
        _channelName.Clear();
        _contentType.Clear();
        Channel = "final";
        Recipient = null;
        ContentType = null;
    }

    /// <summary>Classifies the next sampled token and advances.</summary>
    public HarmonyPart Feed(int token)
    {
        if (token == _start)
        {
            Begin();
            return HarmonyPart.Marker;
        }
        if (token == _end)
        {
            Begin();   // what follows is the next message's header (a well-formed reply writes <|start|> first)
            return HarmonyPart.Marker;
        }
        if (token == _channel)
        {
            _collect = _channelName;
            _channelName.Clear();
            return HarmonyPart.Marker;
        }
        if (token == _constrain)
        {
            _collect = _contentType;
            return HarmonyPart.Marker;
        }
        if (token == _message)
        {
            string[] words = Words(_channelName);
            if (words.Length > 0) Channel = words[0];
            foreach (string w in words.Skip(1).Concat(Words(_header)))
                if (w.StartsWith("to=", StringComparison.Ordinal)) Recipient = w[3..];
            ContentType = Words(_contentType).FirstOrDefault();
            _collect = null;
            return HarmonyPart.Marker;
        }
        if (_collect == null) return HarmonyPart.Content;
        _collect.AddRange(_tokenizer.TokenBytes(token));
        return HarmonyPart.Header;
    }
}

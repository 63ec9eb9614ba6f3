using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Templates;

/// <summary>One message of a conversation, as chat templates see it (<c>message.role</c>, <c>message.content</c>).</summary>
/// <param name="Role">system, user, assistant or tool.</param>
/// <param name="Content">The text.</param>
public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// A model's chat template (<c>tokenizer.chat_template</c>, Jinja), rendered by SinkLab's own sandboxed interpreter with
/// the variables Hugging Face's <c>apply_chat_template</c> passes (<c>messages</c>, <c>add_generation_prompt</c>,
/// <c>bos_token</c>, <c>eos_token</c>, plus any extras) and its environment's settings (<c>trim_blocks</c>,
/// <c>lstrip_blocks</c>, <c>raise_exception</c>, <c>strftime_now</c>, <c>tojson</c>). Parsing happens once; each render is
/// bounded in output, steps and depth, so a broken or hostile template fails with a <see cref="TemplateException"/>.
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<Node> _nodes;

    private ChatTemplate(string source, List<Node> nodes)
    {
        Source = source;
        _nodes = nodes;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The clock <c>strftime_now</c> reads (the local time by default; fixed in tests).</summary>
    public Func<DateTime> Clock { get; init; } = () => DateTime.Now;

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="TemplateException">A syntax error or an unsupported construct, with its line and column.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, SandboxThread.Run(() => TemplateParser.Parse(source)));
    }

    /// <summary>The template of <paramref name="model"/>'s file, or null when it has none.</summary>
    /// <exception cref="TemplateException">The file's template does not parse.</exception>
    public static ChatTemplate? FromModel(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.File.GetStringOrNull(GgufKeys.ChatTemplate) is { Length: > 0 } t ? Parse(t) : null;
    }

    /// <summary>A copy reading another clock.</summary>
    public ChatTemplate WithClock(Func<DateTime> clock) => new(Source, _nodes) { Clock = clock };

    /// <summary>Renders a conversation.</summary>
    /// <param name="messages">The messages, oldest first.</param>
    /// <param name="addGenerationPrompt">Append the text that opens the assistant's reply.</param>
    /// <param name="bosToken">The model's BOS text (templates usually write it themselves).</param>
    /// <param name="eosToken">The model's EOS text.</param>
    /// <param name="extra">Further variables (e.g. <c>enable_thinking</c>, <c>tools</c>, <c>date_string</c>).</param>
    /// <exception cref="TemplateException">The template raised an exception or ran into a sandbox limit.</exception>
    public string Render(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt, string bosToken = "", string eosToken = "",
        IReadOnlyDictionary<string, object?>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Func<DateTime> clock = Clock;
        return SandboxThread.Run(() =>
        {
            var globals = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
                ["add_generation_prompt"] = addGenerationPrompt,
                ["bos_token"] = bosToken,
                ["eos_token"] = eosToken,
            };
            if (extra != null) foreach (var (k, v) in extra) globals[k] = Py.From(v);
            return new TemplateInterpreter(clock).Render(_nodes, globals);
        });
    }
}

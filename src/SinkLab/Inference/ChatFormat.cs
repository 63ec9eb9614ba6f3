using SinkLab.Models;
using SinkLab.Templates;

namespace SinkLab.Inference;

/// <summary>
/// How turns are written into the token stream: the model's own chat template (<see cref="Template"/>, Jinja from
/// <c>tokenizer.chat_template</c>), or, without one, the plain "USER: … ASSISTANT:" form that StreamingLLM's chat demo
/// uses, which models with no chat training simply continue.
/// </summary>
public sealed record ChatFormat
{
    /// <summary>The chat template; null for the plain form below.</summary>
    public ChatTemplate? Template { get; init; }
    /// <summary>Extra template variables (e.g. <c>enable_thinking</c>, <c>date_string</c>).</summary>
    public IReadOnlyDictionary<string, object?>? TemplateVariables { get; init; }
    /// <summary>A system message opening the conversation (null: none).</summary>
    public string? System { get; init; }
    /// <summary>Plain form: text before each user message.</summary>
    public string User { get; init; } = "USER: ";
    /// <summary>Plain form: text between the user message and the reply.</summary>
    public string Assistant { get; init; } = "\n\nASSISTANT: ";
    /// <summary>Plain form: text after each reply, before the next user message.</summary>
    public string EndOfTurn { get; init; } = "\n\n";
    /// <summary>Generation stops when the reply would contain one of these (not included in the reply). Templates end
    /// replies with end-of-turn tokens instead; the default applies to the plain form only.</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>The stop strings in force.</summary>
    public IReadOnlyList<string> StopStrings => Stop ?? (Template == null ? ["USER:"] : []);

    /// <summary>The model's chat template when its file has one, else the plain form.</summary>
    /// <exception cref="TemplateException">The file's template does not parse.</exception>
    public static ChatFormat ForModel(Model model) => new() { Template = ChatTemplate.FromModel(model) };
}

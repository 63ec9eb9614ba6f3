namespace SinkLab.Templates;

/// <summary>
/// A chat template could not be parsed or rendered: a syntax error, an unsupported construct, a
/// <c>raise_exception</c> call of the template itself, or a limit of the sandbox (output size, steps, recursion). The
/// message names the line and column of the template where it happened, in one line.
/// </summary>
public sealed class TemplateException : Exception
{
    /// <summary>Creates the exception; <paramref name="line"/> and <paramref name="column"/> are 1-based (0: unknown).</summary>
    public TemplateException(string message, int line = 0, int column = 0)
        : base(line > 0 ? $"chat template line {line}, column {column}: {OneLine(message)}" : $"chat template: {OneLine(message)}")
    {
        Line = line;
        Column = column;
    }

    /// <summary>Control characters quoted from the template (newlines above all) are written as escapes, so the message
    /// stays one line.</summary>
    private static string OneLine(string message)
    {
        if (!message.Any(char.IsControl)) return message;
        var sb = new System.Text.StringBuilder(message.Length + 8);
        foreach (char c in message)
            sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ when char.IsControl(c) => $"\\u{(int)c:x4}", _ => c.ToString() });
        return sb.ToString();
    }

    /// <summary>1-based line in the template (0 when not tied to a place).</summary>
    public int Line { get; }
    /// <summary>1-based column.</summary>
    public int Column { get; }
}

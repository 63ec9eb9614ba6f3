using System.Globalization;
using System.Text;

namespace SinkLab.Templates;

internal enum TokenKind { Text, OutputStart, BlockStart, End, Name, Number, String, Op, Eof }

/// <summary>A token of a template: literal text, the start of an output (<c>{{</c>) or block (<c>{%</c>) tag, its end, or an
/// expression token. <see cref="Value"/> holds text, names, operators and parsed literals.</summary>
internal readonly record struct TemplateToken(TokenKind Kind, string Text, object? Value, int Line, int Column);

/// <summary>
/// Splits a template into tokens with Jinja's whitespace rules as Hugging Face configures them
/// (<c>trim_blocks</c> and <c>lstrip_blocks</c> on): <c>-</c> on a tag strips all whitespace on that side, the first newline
/// after a block or comment tag is dropped, and spaces before a block tag that starts a line are removed. Comments vanish.
/// </summary>
internal static class TemplateLexer
{
    public const int MaxLength = 1 << 20;

    private sealed record RawTag(char Kind, int Start, int End, bool TrimLeft, bool TrimRight, bool KeepLeft, int Line, int Column);

    public static List<TemplateToken> Tokenize(string src)
    {
        if (src.Length > MaxLength) throw new TemplateException($"the template is {src.Length} characters; at most {MaxLength} are accepted");
        // Jinja reads \r\n and \r as \n and drops one newline at the very end (keep_trailing_newline is off).
        src = src.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (src.EndsWith('\n')) src = src[..^1];
        var tokens = new List<TemplateToken>();
        var pieces = new List<(string Text, RawTag? Tag, int Line, int Column)>();
        int pos = 0, line = 1, lineStart = 0;
        while (pos < src.Length)
        {
            int open = FindTag(src, pos);
            if (open < 0) { pieces.Add((src[pos..], null, line, pos - lineStart + 1)); break; }
            if (open > pos) pieces.Add((src[pos..open], null, line, pos - lineStart + 1));
            for (int i = pos; i < open; i++) if (src[i] == '\n') { line++; lineStart = i + 1; }
            char kind = src[open + 1];
            int col = open - lineStart + 1, tagLine = line;
            bool trimLeft = open + 2 < src.Length && src[open + 2] == '-', keepLeft = open + 2 < src.Length && src[open + 2] == '+';
            int inner = open + 2 + (trimLeft || keepLeft ? 1 : 0);
            string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int end = kind == '#' ? src.IndexOf(close, inner, StringComparison.Ordinal) : FindClose(src, inner, close, tagLine, col);
            if (end < 0) throw new TemplateException($"'{src.Substring(open, 2)}' is never closed", tagLine, col);
            bool trimRight = end > inner && src[end - 1] == '-';
            for (int i = open; i < end + 2; i++) if (src[i] == '\n') { line++; lineStart = i + 1; }
            if (kind == '%' && IsRaw(src, inner, trimRight ? end - 1 : end))
            {
                int endRaw = FindEndRaw(src, end + 2, out int rawClose, out bool rawTrimLeft, out bool rawTrimRight);
                if (endRaw < 0) throw new TemplateException("'{% raw %}' is never closed by '{% endraw %}'", tagLine, col);
                pieces.Add(("", new RawTag('%', 0, 0, trimLeft, trimRight, keepLeft, tagLine, col), tagLine, col));   // an empty block tag for whitespace purposes
                string body = src[(end + 2)..endRaw];
                if (trimRight) body = body.TrimStart();
                if (rawTrimLeft) body = body.TrimEnd();
                pieces.Add(("\u0000raw\u0000" + body, null, tagLine, col));
                pieces.Add(("", new RawTag('%', 0, 0, false, rawTrimRight, false, tagLine, col), tagLine, col));
                for (int i = end + 2; i < rawClose; i++) if (src[i] == '\n') { line++; lineStart = i + 1; }
                pos = rawClose;
                continue;
            }
            pieces.Add((src[inner..(trimRight ? end - 1 : end)], new RawTag(kind, inner, end, trimLeft, trimRight, keepLeft, tagLine, col), tagLine, col));
            pos = end + 2;
        }

        for (int i = 0; i < pieces.Count; i++)
        {
            var (text, tag, l, c) = pieces[i];
            if (tag == null)
            {
                bool raw = text.StartsWith("\u0000raw\u0000", StringComparison.Ordinal);
                if (raw) { tokens.Add(new(TokenKind.Text, text[5..], null, l, c)); continue; }
                RawTag? prev = i > 0 ? pieces[i - 1].Tag : null, next = i + 1 < pieces.Count ? pieces[i + 1].Tag : null;
                if (next is { Kind: '%' or '#', KeepLeft: false, TrimLeft: false })
                {
                    // lstrip_blocks: blanks between the start of a line and a block tag go.
                    int k = text.Length;
                    while (k > 0 && text[k - 1] is ' ' or '\t') k--;
                    if (k > 0 ? text[k - 1] == '\n' : i == 0) text = text[..k];
                }
                if (next is { TrimLeft: true }) text = text.TrimEnd();
                if (prev is { TrimRight: true }) text = text.TrimStart();
                else if (prev is { Kind: '%' or '#' }) text = text.StartsWith("\r\n", StringComparison.Ordinal) ? text[2..] : text.StartsWith('\n') ? text[1..] : text;   // trim_blocks
                if (text.Length > 0) tokens.Add(new(TokenKind.Text, text, null, l, c));
                continue;
            }
            if (tag.Kind == '#' || tag.End == 0) continue;   // comments, and the markers around raw blocks
            tokens.Add(new(tag.Kind == '{' ? TokenKind.OutputStart : TokenKind.BlockStart, tag.Kind == '{' ? "{{" : "{%", null, tag.Line, tag.Column));
            ScanExpression(text, tag.Line, tag.Column + 2, tokens);
            tokens.Add(new(TokenKind.End, tag.Kind == '{' ? "}}" : "%}", null, tag.Line, tag.Column));
        }
        tokens.Add(new(TokenKind.Eof, "", null, line, 1));
        return tokens;
    }

    /// <summary>Python's string escapes (Jinja decodes literals with <c>unicode-escape</c>): \n \t \r \a \b \f \v \\ \' \"
    /// \ooo \xXX \uXXXX \UXXXXXXXX and a backslash-newline continuation; any other escape stays as written. Returns the index
    /// after the escape at <paramref name="j"/>.</summary>
    private static int Unescape(string s, int j, StringBuilder sb, int line, int col)
    {
        char e = s[j + 1];
        switch (e)
        {
            case 'n': sb.Append('\n'); return j + 2;
            case 't': sb.Append('\t'); return j + 2;
            case 'r': sb.Append('\r'); return j + 2;
            case 'a': sb.Append('\a'); return j + 2;
            case 'b': sb.Append('\b'); return j + 2;
            case 'f': sb.Append('\f'); return j + 2;
            case 'v': sb.Append('\v'); return j + 2;
            case '\n': return j + 2;
            case '\\' or '\'' or '"': sb.Append(e); return j + 2;
            case 'x' or 'u' or 'U':
            {
                int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (j + 2 + n > s.Length || !int.TryParse(s.AsSpan(j + 2, n), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)
                    || s.AsSpan(j + 2, n).ContainsAnyExcept("0123456789abcdefABCDEF"))
                    throw new TemplateException($"truncated \\{e} escape in a string", line, col);
                if (cp > 0x10FFFF || cp is >= 0xD800 and <= 0xDFFF && e == 'U') throw new TemplateException($"\\{e} escape {cp:X} is not a character", line, col);
                if (cp is >= 0xD800 and <= 0xDFFF) sb.Append((char)cp); else sb.Append(char.ConvertFromUtf32(cp));
                return j + 2 + n;
            }
            case >= '0' and <= '7':
            {
                int k = j + 1, v = 0;
                while (k < s.Length && k < j + 4 && s[k] is >= '0' and <= '7') v = v * 8 + (s[k++] - '0');
                sb.Append((char)v);
                return k;
            }
            default: sb.Append('\\').Append(e); return j + 2;
        }
    }

    private static int FindTag(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>The closing delimiter of an expression tag, skipping string literals that may contain it.</summary>
    private static int FindClose(string s, int from, string close, int line, int col)
    {
        for (int i = from; i < s.Length - 1; i++)
        {
            char ch = s[i];
            if (ch is '"' or '\'')
            {
                int j = i + 1;
                while (j < s.Length && s[j] != ch) j += s[j] == '\\' ? 2 : 1;
                if (j >= s.Length) throw new TemplateException("a string is never closed", line, col);
                i = j;
                continue;
            }
            if (ch == close[0] && s[i + 1] == close[1]) return i;
        }
        return -1;
    }

    private static bool IsRaw(string s, int from, int to) => s[from..to].Trim() == "raw";

    private static int FindEndRaw(string s, int from, out int close, out bool trimLeft, out bool trimRight)
    {
        for (int i = s.IndexOf("{%", from, StringComparison.Ordinal); i >= 0; i = s.IndexOf("{%", i + 2, StringComparison.Ordinal))
        {
            int inner = i + 2 + (i + 2 < s.Length && s[i + 2] is '-' or '+' ? 1 : 0);
            int end = s.IndexOf("%}", inner, StringComparison.Ordinal);
            if (end < 0) break;
            string body = s[inner..(end > inner && s[end - 1] == '-' ? end - 1 : end)].Trim();
            if (body == "endraw")
            {
                trimLeft = s[i + 2] == '-';
                trimRight = s[end - 1] == '-';
                close = end + 2;
                return i;
            }
        }
        close = -1; trimLeft = trimRight = false;
        return -1;
    }

    private static readonly string[] Ops = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">", "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "~"];

    private static void ScanExpression(string s, int line, int col, List<TemplateToken> tokens)
    {
        int i = 0;
        while (i < s.Length)
        {
            char ch = s[i];
            if (char.IsWhiteSpace(ch))
            {
                if (ch == '\n') { line++; col = 1 - i - 1; }
                i++;
                continue;
            }
            int c = col + i;
            if (char.IsLetter(ch) || ch == '_')
            {
                int j = i;
                while (j < s.Length && (char.IsLetterOrDigit(s[j]) || s[j] == '_')) j++;
                tokens.Add(new(TokenKind.Name, s[i..j], s[i..j], line, c));
                i = j;
            }
            else if (char.IsAsciiDigit(ch))
            {
                int j = i;
                while (j < s.Length && (char.IsAsciiDigit(s[j]) || s[j] == '_')) j++;
                bool isFloat = j + 1 < s.Length && s[j] == '.' && char.IsAsciiDigit(s[j + 1]);
                if (isFloat) { j++; while (j < s.Length && char.IsAsciiDigit(s[j])) j++; }
                if (j < s.Length && s[j] is 'e' or 'E' && j + 1 < s.Length && (char.IsAsciiDigit(s[j + 1]) || s[j + 1] is '+' or '-'))
                {
                    isFloat = true;
                    j += 2;
                    while (j < s.Length && char.IsAsciiDigit(s[j])) j++;
                }
                string text = s[i..j].Replace("_", "", StringComparison.Ordinal);
                object value;   // (a ?: between double and long would widen every integer to double)
                if (isFloat) value = double.Parse(text, CultureInfo.InvariantCulture);
                else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long l)) value = l;
                else throw new TemplateException($"integer literal {text} is too large", line, c);
                tokens.Add(new(TokenKind.Number, text, value, line, c));
                i = j;
            }
            else if (ch is '"' or '\'')
            {
                var sb = new StringBuilder();
                int j = i + 1;
                while (j < s.Length && s[j] != ch)
                {
                    if (s[j] == '\\' && j + 1 < s.Length)
                    {
                        j = Unescape(s, j, sb, line, c);
                        continue;
                    }
                    sb.Append(s[j++]);
                }
                if (j >= s.Length) throw new TemplateException("a string is never closed", line, c);
                tokens.Add(new(TokenKind.String, s[i..(j + 1)], sb.ToString(), line, c));
                i = j + 1;
            }
            else
            {
                string? op = Ops.FirstOrDefault(o => string.CompareOrdinal(s, i, o, 0, o.Length) == 0);
                if (op == null) throw new TemplateException($"unexpected character '{ch}'", line, c);
                tokens.Add(new(TokenKind.Op, op, op, line, c));
                i += op.Length;
            }
        }
    }
}

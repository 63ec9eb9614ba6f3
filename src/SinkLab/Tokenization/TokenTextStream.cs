using System.Text;

namespace SinkLab.Tokenization;

/// <summary>
/// Turns the bytes of sampled tokens into text as they come: a character may span tokens (byte-level vocabularies
/// split UTF-8 sequences), so bytes of an incomplete character wait for the next token; a token of any length
/// decodes (vocabularies hold tokens of a hundred and more bytes, e.g. runs of spaces). Invalid sequences become U+FFFD.
/// </summary>
public sealed class TokenTextStream
{
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private char[] _chars = new char[64];

    /// <summary>The text that <paramref name="bytes"/> complete (possibly empty).</summary>
    public string Next(ReadOnlySpan<byte> bytes)
    {
        int most = _utf8.GetCharCount(bytes, flush: false);
        if (most > _chars.Length) _chars = new char[Math.Max(most, 2 * _chars.Length)];
        int n = _utf8.GetChars(bytes, _chars, flush: false);
        return new string(_chars, 0, n);
    }
}

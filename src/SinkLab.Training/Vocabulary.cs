using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Training;

/// <summary>A SentencePiece-style vocabulary to train with and to export into GGUF metadata.</summary>
/// <param name="Texts">Token texts.</param>
/// <param name="Scores">Merge scores.</param>
/// <param name="Types">Token types.</param>
/// <param name="BosId">BOS id.</param>
/// <param name="EosId">EOS id.</param>
public sealed record Vocabulary(string[] Texts, float[] Scores, TokenType[] Types, int BosId, int EosId)
{
    /// <summary>Number of tokens.</summary>
    public int Count => Texts.Length;

    /// <summary>The tokenizer of a GGUF file (for example stories260K's 512-token vocabulary).</summary>
    /// <exception cref="GgufFormatException">The file has no usable tokenizer.</exception>
    public static Vocabulary FromGguf(string path)
    {
        using GgufFile f = GgufFile.Open(path);
        var tok = (SentencePieceBpeTokenizer)TokenizerFactory.FromGguf(f);
        int n = tok.VocabSize;
        return new Vocabulary(Enumerable.Range(0, n).Select(tok.TokenText).ToArray(), Enumerable.Range(0, n).Select(tok.Score).ToArray(),
            Enumerable.Range(0, n).Select(tok.Type).ToArray(), tok.BosId, tok.EosId);
    }

    /// <summary>Byte-level: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte tokens and "▁" (escaped space).</summary>
    public static Vocabulary Bytes()
    {
        var texts = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<TokenType> { TokenType.Unknown, TokenType.Control, TokenType.Control };
        for (int b = 0; b < 256; b++) { texts.Add($"<0x{b:X2}>"); types.Add(TokenType.Byte); }
        texts.Add("\u2581");
        types.Add(TokenType.Normal);
        return new Vocabulary([.. texts], new float[texts.Count], [.. types], 1, 2);
    }

    /// <summary>Abstract symbols for synthetic tasks: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, then "s3" … (or the names
    /// <paramref name="text"/> gives).</summary>
    public static Vocabulary Symbols(int count, Func<int, string>? text = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 4);
        string[] texts = Enumerable.Range(0, count).Select(i => i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => text?.Invoke(i) ?? $"s{i}" }).ToArray();
        TokenType[] types = Enumerable.Range(0, count).Select(i => i switch { 0 => TokenType.Unknown, 1 or 2 => TokenType.Control, _ => TokenType.UserDefined }).ToArray();
        return new Vocabulary(texts, new float[count], types, 1, 2);
    }

    /// <summary>This vocabulary plus one control token (the learned sink token of the sink-token variant).</summary>
    public Vocabulary WithSinkToken(out int sinkId)
    {
        sinkId = Count;
        return this with
        {
            Texts = [.. Texts, "<sink>"], Scores = [.. Scores, 0f], Types = [.. Types, TokenType.Control],
        };
    }

    /// <summary>The tokenizer for this vocabulary.</summary>
    public ITokenizer Tokenizer() => SentencePieceBpeTokenizer.Create(Texts, Scores, Types, BosId, EosId, 0);
}

using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Tokenization;

/// <summary>Builds the tokenizer a GGUF file describes in its <c>tokenizer.ggml.*</c> metadata.</summary>
public static class TokenizerFactory
{
    /// <summary>Reads the vocabulary and settings from <paramref name="file"/>.</summary>
    /// <exception cref="GgufFormatException">Keys missing or inconsistent.</exception>
    /// <exception cref="ModelNotSupportedException">A tokenizer model other than SentencePiece-BPE (<c>llama</c>).</exception>
    public static ITokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string model = file.GetString(GgufKeys.TokenizerModel);
        if (model != "llama")
            throw new ModelNotSupportedException(model, $"{file.FilePath}: tokenizer model '{model}' is not supported (supported: llama)");
        string[] texts = file.GetArray<string>(GgufKeys.Tokens);
        int n = texts.Length;
        if (n == 0) throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.Tokens}'", "at least one token", "an empty array");
        float[] scores = file.GetArrayOrNull<float>(GgufKeys.Scores) ?? new float[n];
        int[] rawTypes = file.GetArrayOrNull<int>(GgufKeys.TokenTypes) ?? Enumerable.Repeat((int)TokenType.Normal, n).ToArray();
        if (scores.Length != n) throw Mismatch(file, GgufKeys.Scores, n, scores.Length);
        if (rawTypes.Length != n) throw Mismatch(file, GgufKeys.TokenTypes, n, rawTypes.Length);
        var types = new TokenType[n];
        for (int i = 0; i < n; i++)
        {
            if (rawTypes[i] is < 0 or > 6)
                throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.TokenTypes}' element {i}", "a token type 0-6", rawTypes[i].ToString());
            types[i] = (TokenType)rawTypes[i];
            if (types[i] == TokenType.Byte && !SentencePieceBpeTokenizer.TryParseByteToken(texts[i], out _))
                throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.Tokens}' element {i}", "a byte token written <0xXX>", $"'{texts[i]}'");
        }
        int bos = file.GetTokenId(GgufKeys.BosId, n);
        int eos = file.GetTokenId(GgufKeys.EosId, n);
        int unk = file.GetTokenId(GgufKeys.UnknownId, n);
        return SentencePieceBpeTokenizer.Create(texts, scores, types, bos, eos, unk,
            addBos: file.GetBool(GgufKeys.AddBos, true),
            addEos: file.GetBool(GgufKeys.AddEos, false),
            addSpacePrefix: file.GetBool(GgufKeys.AddSpacePrefix, true));
    }

    private static GgufFormatException Mismatch(GgufFile f, string key, int expected, int actual)
        => new(f.FilePath, -1, $"metadata key '{key}'", $"{expected} entries (one per token)", actual.ToString());
}

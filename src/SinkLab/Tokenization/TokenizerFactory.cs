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
        if (model == "gpt2") return ByteLevel(file);
        if (model != "llama")
            throw new ModelNotSupportedException(model, $"{file.FilePath}: tokenizer model '{model}' is not supported (supported: llama, gpt2)");
        string[] texts = file.GetArray<string>(GgufKeys.Tokens);
        int n = texts.Length;
        if (n == 0) throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.Tokens}'", "at least one token", "an empty array");
        float[] scores = file.GetArrayOrNull<float>(GgufKeys.Scores) ?? new float[n];
        if (scores.Length != n) throw Mismatch(file, GgufKeys.Scores, n, scores.Length);
        TokenType[] types = ReadTypes(file, n);
        for (int i = 0; i < n; i++)
        {
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

    /// <summary>Byte-level BPE: tokens, types and merges from the metadata, the pre-tokenizer named by tokenizer.ggml.pre.</summary>
    private static ITokenizer ByteLevel(GgufFile file)
    {
        string[] texts = file.GetArray<string>(GgufKeys.Tokens);
        int n = texts.Length;
        if (n == 0) throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.Tokens}'", "at least one token", "an empty array");
        TokenType[] types = ReadTypes(file, n);
        string[] merges = file.GetArrayOrNull<string>(GgufKeys.Merges)
            ?? throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.Merges}'", "the BPE merges of a gpt2 tokenizer", "missing");
        string pre = file.GetStringOrNull(GgufKeys.TokenizerPre) ?? "default";
        if (!ByteLevelBpeTokenizer.PreTokenizers.Contains(pre))
            throw new ModelNotSupportedException(pre, $"{file.FilePath}: pre-tokenizer '{pre}' ({GgufKeys.TokenizerPre}) is not supported (supported: {string.Join(", ", ByteLevelBpeTokenizer.PreTokenizers)})");
        for (int i = 0; i < merges.Length; i++)
        {
            if (!ByteLevelBpeTokenizer.TryParseMerge(merges[i], out _, out _))
                throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.Merges}' element {i}", "two symbols separated by one space", $"'{merges[i]}'");
        }
        int bos = file.GetTokenId(GgufKeys.BosId, n);
        int eos = file.GetTokenId(GgufKeys.EosId, n);
        return ByteLevelBpeTokenizer.Create(texts, types, merges, pre, bos, eos,
            addBos: file.GetBool(GgufKeys.AddBos, false), addEos: file.GetBool(GgufKeys.AddEos, false));
    }

    /// <summary>tokenizer.ggml.token_type (all Normal when absent), one valid type per token.</summary>
    private static TokenType[] ReadTypes(GgufFile file, int n)
    {
        int[] rawTypes = file.GetArrayOrNull<int>(GgufKeys.TokenTypes) ?? Enumerable.Repeat((int)TokenType.Normal, n).ToArray();
        if (rawTypes.Length != n) throw Mismatch(file, GgufKeys.TokenTypes, n, rawTypes.Length);
        var types = new TokenType[n];
        for (int i = 0; i < n; i++)
        {
            if (rawTypes[i] is < 0 or > 6)
                throw new GgufFormatException(file.FilePath, -1, $"metadata key '{GgufKeys.TokenTypes}' element {i}", "a token type 0-6", rawTypes[i].ToString());
            types[i] = (TokenType)rawTypes[i];
        }
        return types;
    }

    private static GgufFormatException Mismatch(GgufFile f, string key, int expected, int actual)
        => new(f.FilePath, -1, $"metadata key '{key}'", $"{expected} entries (one per token)", actual.ToString());
}

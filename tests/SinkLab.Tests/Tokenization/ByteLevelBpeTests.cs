using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Tests.Tokenization;

/// <summary>Byte-level BPE against llama.cpp's GPT-2 tokenizer test vectors.</summary>
public class ByteLevelBpeTests
{
    private static readonly string Vocab = Path.Combine(Shared.Tokenizers, "ggml-vocab-gpt-2.gguf");

    private static ITokenizer Gpt2()
    {
        using var f = GgufFile.Open(Vocab);
        return TokenizerFactory.FromGguf(f);
    }

    [Fact]
    public void AllGpt2VectorsOfLlamaCppMatch()
    {
        ITokenizer tok = Gpt2();
        string[] inputs = File.ReadAllText(Vocab + ".inp").Split("\n__ggml_vocab_test__\n");
        string[] outputs = File.ReadAllText(Vocab + ".out").Split('\n');
        Assert.Equal(47, inputs.Length);   // 46 vectors and the empty tail after the last separator
        var failures = new List<string>();
        for (int i = 0; i < inputs.Length - 1; i++)
        {
            string got = string.Join(' ', tok.Encode(inputs[i], addSpecial: false));
            if (got != outputs[i].Trim()) failures.Add($"#{i} '{inputs[i]}': {got} != {outputs[i]}");
        }
        Assert.Empty(failures);
    }

    [Theory]
    [InlineData("Hello world")]
    [InlineData(" this is 🦙.cpp\n\n  tabs\tand Führer 3333")]
    public void DecodeInvertsEncode(string text)
    {
        ITokenizer tok = Gpt2();
        Assert.Equal(text, tok.Decode(tok.Encode(text, addSpecial: false)));
    }

    [Fact]
    public void EndOfTextParsesOnlyWhenAsked()
    {
        ITokenizer tok = Gpt2();
        Assert.Equal(50256, tok.EosId);
        Assert.Equal(new[] { 15496, 50256 }, tok.Encode("Hello<|endoftext|>", addSpecial: false, parseSpecial: true));
        Assert.DoesNotContain(50256, tok.Encode("Hello<|endoftext|>", addSpecial: false, parseSpecial: false));
        Assert.Empty(tok.TokenBytes(50256));
    }

    [Fact]
    public void UnknownPreTokenizerAndBrokenMergesAreTypedErrors()
    {
        Assert.Contains("pre-tokenizer 'bogus'", Assert.Throws<ArgumentException>(() =>
            ByteLevelBpeTokenizer.Create(["a", "b", "ab"], [TokenType.Normal, TokenType.Normal, TokenType.Normal], ["a b"], "bogus", -1, -1, false, false)).Message);
        Assert.Contains("merge 0", Assert.Throws<ArgumentException>(() =>
            ByteLevelBpeTokenizer.Create(["a"], [TokenType.Normal], ["ab"], "gpt2", -1, -1, false, false)).Message);
    }

    [Theory]
    [InlineData("llama3", "Hello 12345 world", new[] { "Hello", " ", "123", "45", " world" })]
    [InlineData("qwen2", "Hello 123", new[] { "Hello", " ", "1", "2", "3" })]
    [InlineData("smollm", "ab 12", new[] { "ab", " ", "1", "2" })]
    [InlineData("gpt2", "ab 12", new[] { "ab", " 12" })]
    public void PreTokenizersSplitDigitsTheirWay(string pre, string text, string[] pieces)
    {
        // Vocabulary: the 256 byte symbols plus each expected piece, with merges that build every piece from its
        // bytes. BPE never merges across pre-tokenizer pieces, so the tokens that come out show the split.
        string Mapped(string p) => string.Concat(System.Text.Encoding.UTF8.GetBytes(p).Select(ByteSymbol));
        string[] vocab = [.. Enumerable.Range(0, 256).Select(b => ByteSymbol((byte)b)), .. pieces.Distinct().Select(Mapped)];
        var merges = new List<string>();
        foreach (string m in pieces.Distinct().Select(Mapped))
            for (int k = 2; k <= m.Length; k++) merges.Add($"{m[..(k - 1)]} {m[k - 1]}");
        ITokenizer tok = ByteLevelBpeTokenizer.Create(vocab, [.. vocab.Select(_ => TokenType.Normal)], [.. merges.Distinct()], pre, -1, -1, false, false);
        int[] ids = tok.Encode(text, addSpecial: false);
        Assert.Equal(pieces, ids.Select(id => System.Text.Encoding.UTF8.GetString(tok.TokenBytes(id))));
    }

    private static string ByteSymbol(byte b)
    {
        int next = 256;
        for (int x = 0; x < 256; x++)
        {
            bool printable = x is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            if (x == b) return ((char)(printable ? x : next)).ToString();
            if (!printable) next++;
        }
        throw new InvalidOperationException();
    }

    /// <summary>GPT-2's vocabulary and merges under another pre-tokenizer name: the split rules llama.cpp gives each name.</summary>
    private static ITokenizer Gpt2As(string pre)
    {
        using var f = GgufFile.Open(Vocab);
        string[] texts = f.GetArray<string>(GgufKeys.Tokens);
        TokenType[] types = f.GetArray<int>(GgufKeys.TokenTypes).Select(t => (TokenType)t).ToArray();
        return ByteLevelBpeTokenizer.Create(texts, types, f.GetArray<string>(GgufKeys.Merges), pre, -1, -1, false, false);
    }

    private static string[] Pieces(ITokenizer tok, string text) => tok.Encode(text, addSpecial: false).Select(id => tok.Decode([id])).ToArray();

    [Fact]
    public void PreTokenizerNamesSplitAsLlamaCppsTypesDo()
    {
        // GPT-2 family (gpt-2, olmo, mpt, phi-2 …): digits stay together as " 12345" allows.
        Assert.Equal(Pieces(Gpt2(), "in 12345 days"), Pieces(Gpt2As("olmo"), "in 12345 days"));
        Assert.Contains(Pieces(Gpt2As("gpt-2"), "in 12345 days"), p => p.Trim().Length > 1 && p.Trim().All(char.IsAsciiDigit));
        // starcoder, refact, command-r, smollm: every digit on its own.
        foreach (string name in new[] { "starcoder", "refact", "command-r", "smollm" })
            Assert.Equal(["in", " ", "1", "2", "3", "4", "5", " days"], Pieces(Gpt2As(name), "in 12345 days"));
        // falcon: runs of three digits.
        Assert.Equal("123|45", string.Join("|", Pieces(Gpt2As("falcon"), "12345")));
        // llama3 family (llama-bpe, dbrx, smaug-bpe): at most three digits, no leading space on numbers.
        Assert.Equal(Pieces(Gpt2As("llama-bpe"), "in 12345 days"), Pieces(Gpt2As("dbrx"), "in 12345 days"));
        Assert.Equal(["in", " ", "123", "45", " days"], Pieces(Gpt2As("smaug-bpe"), "in 12345 days").Select(p => p).ToArray());
        // no name: llama.cpp's default splits punctuation runs first.
        Assert.Contains(",", Pieces(Gpt2As("default"), "Hello, world"));
    }

    [Fact]
    public void EveryPreTokenizerTheConverterCanWriteLoads()
    {
        Assert.All(SinkLab.Formats.HuggingFace.HfVocabulary.KnownPreTokenizers, name => Assert.Contains(name, ByteLevelBpeTokenizer.PreTokenizers));
    }
}

/// <summary>The o200k pre-tokenizer (gpt-oss) against Python's `regex` module on the same pattern
/// (tests/data/o200k-splits.py wrote the vectors).</summary>
public class O200kPreTokenizerTests
{
    private static string Vectors() => Path.Combine(Shared.Repo, "tests", "data", "o200k-splits.json");

    [Fact]
    public void SplitsAsTheReferenceRegexEngineDoes()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Vectors()));
        int cases = 0;
        foreach (System.Text.Json.JsonElement c in doc.RootElement.EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            string[] want = [.. c.GetProperty("pieces").EnumerateArray().Select(p => p.GetString()!)];
            foreach (string name in new[] { "gpt-4o", "llama4" })
                Assert.Equal(want, ByteLevelBpeTokenizer.PreTokenize(name, text));
            Assert.Equal(text, string.Concat(want));
            cases++;
        }
        Assert.Equal(16, cases);
        Assert.Equal(["Hello", "World", " XMLHttp", "Request"], ByteLevelBpeTokenizer.PreTokenize("gpt-4o", "HelloWorld XMLHttpRequest"));
    }
}

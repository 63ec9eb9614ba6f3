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
}

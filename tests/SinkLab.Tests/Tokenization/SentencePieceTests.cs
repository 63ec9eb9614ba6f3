using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Tests.Tokenization;

public class SentencePieceTests
{
    private static ITokenizer Stories()
    {
        using var f = GgufFile.Open(Shared.StoriesF32);
        return TokenizerFactory.FromGguf(f);
    }

    [Theory]
    [InlineData("Once upon a time, there was a little girl named Lily.", "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426")]
    [InlineData("Tom said, \"Héllo!\"\n\tIt costs 42€ 😀.", "1 274 287 336 432 313 440 485 306 414 443 436 13 12 442 413 280 414 356 419 410 484 479 503 410 243 162 155 131 426")]
    [InlineData("a  b", "1 261 410 268")]
    public void ReferenceInputsMatchLlamaCpp(string text, string ids)
        => Assert.Equal(ids, string.Join(' ', Stories().Encode(text)));

    [Fact]
    public void AllLlamaSpmVectorsOfLlamaCppMatch()
    {
        using var f = GgufFile.Open(Path.Combine(Shared.Tokenizers, "ggml-vocab-llama-spm.gguf"));
        ITokenizer tok = TokenizerFactory.FromGguf(f);
        string[] inputs = File.ReadAllText(Path.Combine(Shared.Tokenizers, "ggml-vocab-llama-spm.gguf.inp")).Split("\n__ggml_vocab_test__\n");
        string[] outputs = File.ReadAllText(Path.Combine(Shared.Tokenizers, "ggml-vocab-llama-spm.gguf.out")).Split('\n');
        Assert.Equal(47, inputs.Length);   // 46 vectors and the empty tail after the last separator
        var failures = new List<string>();
        for (int i = 0; i < inputs.Length - 1; i++)
        {
            string got = string.Join(' ', tok.Encode(inputs[i], addSpecial: false));
            if (got != outputs[i].Trim()) failures.Add($"#{i} {inputs[i]}: {got} != {outputs[i]}");
        }
        Assert.Empty(failures);
    }

    [Theory]
    [InlineData("tinystories_valid_slice.txt", 393019)]
    [InlineData("tinyshakespeare.txt", 693364)]
    public void WholeCorpusTokenCountsMatchLlamaCpp(string corpus, int count)
        => Assert.Equal(count, Stories().Encode(File.ReadAllText(Path.Combine(Shared.Corpora, corpus))).Length);

    [Theory]
    [InlineData("Once upon a time, there was a little girl named Lily.")]
    [InlineData("Tom said, \"Héllo!\"\n\tIt costs 42€ 😀.")]
    [InlineData("  leading spaces and   runs  ")]
    public void DecodeInvertsEncode(string text)
    {
        ITokenizer tok = Stories();
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void SpecialTokensParseOnlyWhenAsked()
    {
        ITokenizer tok = Stories();
        Assert.Equal(new[] { 1, 2 }, tok.Encode("</s>", addSpecial: true, parseSpecial: true)[..2]);
        Assert.DoesNotContain(2, tok.Encode("</s>", addSpecial: true, parseSpecial: false));
        Assert.Equal(new[] { 1 }, tok.Encode(""));
        Assert.Empty(tok.Encode("", addSpecial: false));
    }

    [Fact]
    public void Llama2cTokenizerMatchesTheGgufVocabulary()
    {
        var (texts, scores, types) = SinkLab.Formats.Llama2cCheckpoint.ReadTokenizer(Shared.Tok512, 512);
        using var f = GgufFile.Open(Shared.StoriesF32);
        Assert.Equal(f.GetArray<string>(GgufKeys.Tokens), texts);
        Assert.Equal(f.GetArray<float>(GgufKeys.Scores), scores);
        Assert.Equal(f.GetArray<int>(GgufKeys.TokenTypes), types.Select(t => (int)t));
    }

    [Theory]
    [InlineData(GgufKeys.TokenizerModel, "bert", "bert")]
    [InlineData(GgufKeys.TokenizerPre, "deepseek-coder", "deepseek-coder")]
    public void RejectsOtherTokenizerModelsAndPreTokenizersByName(string key, string value, string what)
    {
        // The GPT-2 vocabulary with one metadata value changed, written and read back through our writer and reader.
        using var source = GgufFile.Open(Path.Combine(Shared.Tokenizers, "ggml-vocab-gpt-2.gguf"));
        using var ms = new MemoryStream();
        GgufWriter.From(source).Set(key, GgufValue.Of(value)).Write(ms);
        using var f = GgufFile.Parse(ms.ToArray(), "edited.gguf");
        var e = Assert.Throws<ModelNotSupportedException>(() => TokenizerFactory.FromGguf(f));
        Assert.Equal(what, e.What);
        Assert.Contains("edited.gguf", e.Message);
    }
}

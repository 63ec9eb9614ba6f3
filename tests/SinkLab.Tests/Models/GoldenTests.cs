using SinkLab.Evaluation;
using SinkLab.Formats;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Models;

/// <summary>End-to-end against llama.cpp's figures in ../shared/reference/README.md.</summary>
public class GoldenTests
{
    private static readonly int[] GreedyReference =
    [
        1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419,
        292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391,
        266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310, 439, 419, 357, 336,
    ];

    private const string GreedyText = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
        "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";

    private static List<int> Greedy(Model m, int threads)
    {
        using var s = new InferenceSession(m, new SessionOptions { Threads = threads });
        return Generator.Generate(s, m.Tokenizer.Encode("Once upon a time"), 64, new Sampler(m.Config.VocabSize));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GreedyFromGgufEqualsLlamaCpp(int threads)
    {
        using Model m = Model.Load(Shared.StoriesF32);
        List<int> ids = Greedy(m, threads);
        Assert.Equal(GreedyReference, ids);
        Assert.Equal(GreedyText, m.Tokenizer.Decode(ids.ToArray()));
    }

    [Fact]
    public void GreedyFromLlama2cCheckpointEqualsLlamaCpp()
    {
        using Model m = Model.Load(Shared.StoriesBin, Shared.Tok512);
        Assert.Equal(GreedyReference, Greedy(m, 1));
    }

    [Fact]
    public void ConverterWritesLlamaCppsFileByteForByte()
    {
        // llama.cpp's converter wrote stories260K-f32.gguf with context_length hard-coded to 128; the ctx512 file
        // is the same bytes with the true value, which is what our converter writes.
        byte[] ours = Llama2cCheckpoint.ToGgufBytes(Shared.StoriesBin, Shared.Tok512);
        Assert.Equal(File.ReadAllBytes(Shared.StoriesF32), ours);
    }

    public static TheoryData<string, int, double, int, double[]> PerplexityReferences() => new()
    {
        { "tinystories_valid_slice.txt", 256, 4.8752, 1535, [4.0450, 3.4982, 3.8867] },
        { "tinystories_valid_slice.txt", 512, 4.9744, 767, [] },
        { "tinyshakespeare.txt", 256, 112.5326, 2708, [45.8441, 67.0766, 101.5213] },
    };

    [Theory]
    [MemberData(nameof(PerplexityReferences))]
    public void PerplexityMatchesLlamaCppWithin1e3(string corpus, int ctx, double ppl, int chunks, double[] running)
    {
        using Model m = Model.Load(Shared.StoriesF32);
        PerplexityResult r = Perplexity.Run(m, File.ReadAllText(Path.Combine(Shared.Corpora, corpus)), ctx, threads: 2);
        Assert.Equal(chunks, r.Chunks);
        Assert.Equal((long)chunks * (ctx - 1 - ctx / 2), r.ScoredTokens);
        Assert.InRange(r.Ppl / ppl - 1, -1e-3, 1e-3);
        int[] at = [0, 9, 99];
        for (int i = 0; i < running.Length; i++) Assert.InRange(r.RunningPpl[at[i]] / running[i] - 1, -1e-3, 1e-3);
    }

    [Fact]
    public void Q8_0FileStaysWithin2PercentOfF32()
    {
        string text = File.ReadAllText(Shared.TinyStories);
        using Model f32 = Model.Load(Shared.StoriesF32);
        using Model q = Model.Load(Shared.StoriesQ8);
        double pF = Perplexity.Run(f32, text, 256, maxChunks: 300, threads: 2).Ppl;
        double pQ = Perplexity.Run(q, text, 256, maxChunks: 300, threads: 2).Ppl;
        Assert.InRange(pQ / pF - 1, -0.02, 0.02);
    }

    /// <summary>
    /// Q4_0 costs this 64-wide model about 7 % perplexity, and that loss is in the weights themselves: a float
    /// forward on the file's dequantized weights scores the same. The engine must add almost nothing to it.
    /// </summary>
    [Fact]
    public void Q4_0FileLosesOnlyWhatItsWeightsLose()
    {
        string text = File.ReadAllText(Shared.TinyStories);
        using Model f32 = Model.Load(Shared.StoriesF32);
        using Model q = Model.Load(Shared.StoriesQ4);
        using Model dequantized = Model.FromGguf(GgufFile.Parse(DequantizedCopy(Shared.StoriesQ4)));
        double pF = Perplexity.Run(f32, text, 256, maxChunks: 200, threads: 2).Ppl;
        double pQ = Perplexity.Run(q, text, 256, maxChunks: 200, threads: 2).Ppl;
        double pD = Perplexity.Run(dequantized, text, 256, maxChunks: 200, threads: 2).Ppl;
        Assert.InRange(pQ / pD - 1, -0.002, 0.002);
        Assert.InRange(pQ / pF - 1, 0, 0.10);
    }

    /// <summary>The same file with every tensor decoded to F32.</summary>
    internal static byte[] DequantizedCopy(string path)
    {
        using var f = GgufFile.Open(path);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata) w.Add(k, v);
        foreach (GgufTensorInfo t in f.Tensors)
        {
            var x = new float[t.ElementCount];
            SinkLab.Kernels.Quantizer.Dequantize(t.Type, f.GetTensorData(t), x);
            w.AddTensor(t.Name, t.Dimensions, x);
        }
        using var ms = new MemoryStream();
        w.Write(ms);
        return ms.ToArray();
    }
}

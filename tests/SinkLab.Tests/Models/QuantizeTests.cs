using SinkLab.Evaluation;
using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.Models;

/// <summary><c>sinklab quantize</c>: llama.cpp's per-tensor choices, fallbacks, perplexity cost, bad input.</summary>
public class QuantizeTests
{
    private static GgufTensorInfo Matrix(string name, int cols, int rows) => new(name, GgmlType.F32, [cols, rows], 0, 0);

    /// <summary>The tensors of a 12-layer, 768-wide Llama (the synth 100m shape), in file order.</summary>
    private static List<GgufTensorInfo> TwelveLayers()
    {
        var t = new List<GgufTensorInfo> { Matrix("token_embd.weight", 768, 32000), new("output_norm.weight", GgmlType.F32, [768], 0, 0), Matrix("output.weight", 768, 32000) };
        for (int l = 0; l < 12; l++)
        {
            t.Add(new($"blk.{l}.attn_norm.weight", GgmlType.F32, [768], 0, 0));
            foreach (string m in new[] { "attn_q", "attn_k", "attn_v", "attn_output" }) t.Add(Matrix($"blk.{l}.{m}.weight", 768, 768));
            t.Add(Matrix($"blk.{l}.ffn_gate.weight", 768, 2048));
            t.Add(Matrix($"blk.{l}.ffn_down.weight", 2048, 768));
            t.Add(Matrix($"blk.{l}.ffn_up.weight", 768, 2048));
        }
        return t;
    }

    [Fact]
    public void Q4KMGivesQ6KWhereLlamaCppDoes()
    {
        Dictionary<string, GgmlType> plan = ModelQuantizer.Plan(TwelveLayers(), QuantRecipe.Parse("q4_k_m"), "test").ToDictionary(q => q.Name, q => q.To);
        // use_more_bits(i, 12): i < 1, i >= 10, or (i - 1) % 3 == 2 → layers 0, 3, 6, 9, 10, 11.
        int[] more = [0, 3, 6, 9, 10, 11];
        for (int l = 0; l < 12; l++)
        {
            GgmlType want = more.Contains(l) ? GgmlType.Q6_K : GgmlType.Q4_K;
            Assert.Equal(want, plan[$"blk.{l}.attn_v.weight"]);
            Assert.Equal(want, plan[$"blk.{l}.ffn_down.weight"]);
            Assert.Equal(GgmlType.Q4_K, plan[$"blk.{l}.attn_q.weight"]);
            Assert.Equal(GgmlType.F32, plan[$"blk.{l}.attn_norm.weight"]);
        }
        Assert.Equal(GgmlType.Q6_K, plan["output.weight"]);
        Assert.Equal(GgmlType.Q4_K, plan["token_embd.weight"]);
        Dictionary<string, GgmlType> q8 = ModelQuantizer.Plan(TwelveLayers(), QuantRecipe.Parse("Q8_0"), "test").ToDictionary(q => q.Name, q => q.To);
        Assert.All(q8.Where(kv => !kv.Key.Contains("norm")), kv => Assert.Equal(GgmlType.Q8_0, kv.Value));
        Dictionary<string, GgmlType> q4 = ModelQuantizer.Plan(TwelveLayers(), QuantRecipe.Parse("Q4_0"), "test").ToDictionary(q => q.Name, q => q.To);
        Assert.Equal(GgmlType.Q6_K, q4["output.weight"]);   // llama.cpp's Q4_0 files keep a Q6_K output
        Assert.Equal(GgmlType.Q4_0, q4["blk.0.ffn_down.weight"]);
    }

    [Fact]
    public void RowsThatAreNotWholeSuperBlocksFallBackAsLlamaCppDoes()
    {
        var t = new List<GgufTensorInfo> { Matrix("token_embd.weight", 64, 512), Matrix("output.weight", 64, 512),
                                           Matrix("blk.0.attn_v.weight", 64, 64), Matrix("blk.0.attn_q.weight", 64, 64), Matrix("blk.0.ffn_down.weight", 172, 64) };
        Dictionary<string, QuantizedTensor> plan = ModelQuantizer.Plan(t, QuantRecipe.Parse("Q4_K_M"), "test").ToDictionary(q => q.Name);
        Assert.Equal(GgmlType.Q8_0, plan["output.weight"].To);
        Assert.Equal(GgmlType.Q8_0, plan["blk.0.attn_v.weight"].To);   // Q6_K (layer 0 of 1) → Q8_0
        Assert.Equal(GgmlType.Q5_0, plan["blk.0.attn_q.weight"].To);   // Q4_K → Q5_0
        Assert.Equal(GgmlType.F16, plan["blk.0.ffn_down.weight"].To);  // 172 is not even whole 32-blocks
        Assert.Contains("172 columns", plan["blk.0.ffn_down.weight"].Fallback);
        Assert.Equal(GgmlType.Q5_1, ModelQuantizer.Plan(t, QuantRecipe.Parse("Q5_K_S"), "test").Single(q => q.Name == "blk.0.attn_q.weight").To);
    }

    [Fact]
    public void Stories260KInQ4KMStaysWithin5PercentOfF32()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sinklab-q4km-{Guid.NewGuid():N}.gguf");
        try
        {
            var (code, stdout, err) = CliTests.Run("quantize", Shared.StoriesF32, "-o", path, "--type", "Q4_K_M", "--json");
            Assert.True(code == 0, err);
            Assert.Contains("\"recipe\": \"Q4_K_M\"", stdout);
            Assert.Contains("Q5_0 instead", err);   // the 64-wide rows take llama.cpp's fallbacks, said once per kind
            Assert.True(err.Split('\n').Count(l => l.Contains("warning")) <= 4, err);
            using GgufFile f = GgufFile.Open(path);
            Assert.Equal(15u, f.Metadata.Single(kv => kv.Key == GgufKeys.FileType).Value.Value);
            string text = File.ReadAllText(Shared.TinyStories);
            using Model f32 = Model.Load(Shared.StoriesF32);
            using Model q = Model.Load(path);
            Assert.Equal(GgmlType.Q5_0, q.Weights.Layers[0].Wq.Type);
            Assert.Equal(GgmlType.Q8_0, q.Weights.Layers[2].Wv.Type);
            double pF = Perplexity.Run(f32, text, 256, maxChunks: 300, threads: 2).Ppl;
            double pQ = Perplexity.Run(q, text, 256, maxChunks: 300, threads: 2).Ppl;
            Assert.InRange(pQ / pF - 1, -0.05, 0.05);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void KQuantFixtureQuantizedByUsLoadsWithQ4KAndQ6K()
    {
        var fixture = new FixtureModel { Dim = 256, Hidden = 512, Layers = 2, Heads = 8, KvHeads = 2, Vocab = 300, Context = 64 };
        string src = Path.Combine(Path.GetTempPath(), $"sinklab-fx-{Guid.NewGuid():N}.gguf"), dst = src + ".q.gguf";
        try
        {
            File.WriteAllBytes(src, fixture.Bytes());
            using (GgufFile f = GgufFile.Open(src)) ModelQuantizer.Quantize(f, QuantRecipe.Parse("Q4_K_M"), dst);
            using Model m = Model.Load(dst);
            Assert.Equal(GgmlType.Q4_K, m.Weights.Layers[0].Wq.Type);
            Assert.Equal(GgmlType.Q6_K, m.Weights.Layers[1].FfnDown!.Type);   // use_more_bits(1, 2)
            Assert.Equal(GgmlType.Q6_K, m.Weights.Output.Type);
        }
        finally { File.Delete(src); File.Delete(dst); }
    }

    [Fact]
    public void BadInputIsOneLineErrorAndWritesNothing()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sinklab-never-{Guid.NewGuid():N}.gguf");
        var (code, _, err) = CliTests.Run("quantize", Shared.StoriesF32, "-o", path, "--type", "Q3_K_XL");
        Assert.Equal(2, code);
        Assert.Contains("unknown quantization type 'Q3_K_XL'", err);
        (code, _, err) = CliTests.Run("quantize", Shared.StoriesQ8, "-o", path, "--type", "Q4_K_M");
        Assert.Equal(2, code);
        Assert.Contains("already quantized (Q8_0)", err);
        Assert.False(File.Exists(path));
        (code, _, err) = CliTests.Run("quantize", Shared.StoriesQ8, "-o", path, "--type", "Q4_0", "--allow-requantize");
        Assert.True(code == 0, err);
        File.Delete(path);
    }
}

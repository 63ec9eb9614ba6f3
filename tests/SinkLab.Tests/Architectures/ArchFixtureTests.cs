using SinkLab.Gguf;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Architectures;

/// <summary>
/// Per architecture, a random-weight model written by SinkLab's own writer (<see cref="SyntheticModel"/>, llama.cpp's
/// layout) against the independent float64 forward <see cref="ArchForward"/>: batched, on two threads and token by
/// token, to 1e-4 of each row's largest logit. The shapes exercise what distinguishes each architecture: grouped-query
/// attention, head sizes other than n_embd / n_head, sliding windows shorter than the sequence (window 8 of 20
/// tokens), Gemma 3's local/global pattern (6 layers), partial rotary dimensions, ALiBi with clamping.
/// </summary>
public class ArchFixtureTests
{
    internal static readonly int[] Tokens = [1, 17, 250, 3, 99, 299, 42, 42, 7, 180, 260, 11, 5, 77, 123, 200, 1, 64, 32, 16];

    public static TheoryData<string> Names => new(ArchitectureRegistry.Supported);

    /// <summary>The test shape of an architecture: the tiny shape, with a head size of 32 where the architecture
    /// allows key_length ≠ n_embd / n_head, six layers for Gemma 3's pattern, and a 4 · n_embd MLP where the Hugging Face
    /// config implies one.</summary>
    internal static SyntheticShape ShapeOf(string arch)
    {
        SyntheticShape s = SyntheticModel.Shape("tiny") with { Vocab = 300 };
        return arch switch
        {
            "gemma" or "gemma2" or "qwen3" => s with { HeadDim = 32 },
            "gemma3" => s with { HeadDim = 32, Layers = 6 },
            "gpt2" or "mpt" => s with { Hidden = 4 * s.Dim },   // their converters write feed_forward_length = 4 · n_embd
            _ => s,
        };
    }

    internal static GgufFile Fixture(string arch, GgmlType type = GgmlType.F32, int seed = 5)
    {
        using var ms = new MemoryStream();
        SyntheticModel.Build(ShapeOf(arch), arch, seed, (_, _) => type).Write(ms);
        return GgufFile.Parse(ms.ToArray(), $"synth-{arch}.gguf");
    }

    /// <summary>The largest |got − want| over all logits, relative to each token's largest |want|.</summary>
    internal static double MaxRelativeError(double[][] want, float[][] got)
    {
        double worst = 0;
        for (int t = 0; t < want.Length; t++)
        {
            double scale = want[t].Max(Math.Abs);
            for (int i = 0; i < want[t].Length; i++) worst = Math.Max(worst, Math.Abs(got[t][i] - want[t][i]) / scale);
        }
        return worst;
    }

    internal static float[][] Batched(Model m, int[] tokens, int threads) => Batched(m, tokens, new SessionOptions { Threads = threads, Gelu = GeluMode.Tanh });

    /// <summary>The logits of every token of <paramref name="tokens"/>, evaluated in one call (batched chunks).</summary>
    internal static float[][] Batched(Model m, int[] tokens, SessionOptions options)
    {
        using var s = new InferenceSession(m, options);
        var all = new float[tokens.Length * m.Config.VocabSize];
        s.Evaluate(tokens, all);
        return Enumerable.Range(0, tokens.Length).Select(t => all.AsSpan(t * m.Config.VocabSize, m.Config.VocabSize).ToArray()).ToArray();
    }

    internal static float[][] OneByOne(Model m, int[] tokens)
    {
        using var s = new InferenceSession(m, new SessionOptions { BatchSize = 5, Gelu = GeluMode.Tanh });
        return tokens.Select(t => s.Decode(t).ToArray()).ToArray();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void MatchesTheFloat64Forward(string arch)
    {
        using Model m = Model.FromGguf(Fixture(arch));
        Assert.Equal(arch, m.Config.Architecture);
        double[][] want = ArchForward.Logits(m.File, Tokens);
        Assert.InRange(MaxRelativeError(want, Batched(m, Tokens, 1)), 0, 1e-4);
        Assert.InRange(MaxRelativeError(want, Batched(m, Tokens, 2)), 0, 1e-4);
        Assert.InRange(MaxRelativeError(want, OneByOne(m, Tokens)), 0, 1e-4);
        // The materialised attention (taken when scores or patterns are hooked) agrees with the fused kernel.
        using var s = new InferenceSession(m, new SessionOptions { Gelu = GeluMode.Tanh });
        float[] hooked = s.RunWithCache(Tokens, n => n.EndsWith("hook_pattern", StringComparison.Ordinal)).Logits;
        int v = m.Config.VocabSize;
        Assert.InRange(MaxRelativeError(want, Enumerable.Range(0, Tokens.Length).Select(t => hooked.AsSpan(t * v, v).ToArray()).ToArray()), 0, 1e-4);
    }

    /// <summary>The block of layer 0 each architecture emits, in TransformerLens' names; the list is the same for every
    /// layer, framed by hook_embed (+ hook_pos_embed) and ln_final / hook_logits.</summary>
    [Theory]
    [InlineData("llama", "pre")]
    [InlineData("qwen2", "pre")]
    [InlineData("qwen3", "pre")]
    [InlineData("gemma", "pre")]
    [InlineData("gemma2", "pre")]
    [InlineData("gemma3", "pre")]
    [InlineData("phi3", "pre")]
    [InlineData("gpt2", "pre")]
    [InlineData("gptneox", "parallel")]
    [InlineData("mpt", "pre")]
    [InlineData("olmo2", "post")]
    [InlineData("starcoder2", "pre")]
    [InlineData("stablelm", "pre")]
    [InlineData("gpt-oss", "moe")]
    public void EmitsItsPinnedHookList(string arch, string block)
    {
        string[] layer0 = block switch
        {
            "pre" => ["blocks.0.hook_resid_pre", "blocks.0.ln1.hook_normalized", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
                "blocks.0.attn.hook_scores", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
                "blocks.0.hook_resid_mid", "blocks.0.ln2.hook_normalized", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post"],
            "moe" => ["blocks.0.hook_resid_pre", "blocks.0.ln1.hook_normalized", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
                "blocks.0.attn.hook_scores", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
                "blocks.0.hook_resid_mid", "blocks.0.ln2.hook_normalized", "blocks.0.mlp.hook_router", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post"],
            "parallel" => ["blocks.0.hook_resid_pre", "blocks.0.ln1.hook_normalized", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
                "blocks.0.attn.hook_scores", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
                "blocks.0.ln2.hook_normalized", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post"],
            _ => ["blocks.0.hook_resid_pre", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
                "blocks.0.attn.hook_scores", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
                "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post"],
        };
        using Model m = Model.FromGguf(Fixture(arch));
        var expected = new List<string> { "hook_embed" };
        if (arch == "gpt2") expected.Add("hook_pos_embed");
        for (int l = 0; l < m.Config.Layers; l++) expected.AddRange(layer0.Select(n => n.Replace("blocks.0.", $"blocks.{l}.", StringComparison.Ordinal)));
        expected.AddRange(["ln_final.hook_normalized", "hook_logits"]);
        using var s = new InferenceSession(m);
        ActivationCache cache = s.RunWithCache(Tokens[..8]);
        Assert.Equal(expected, cache.Names);
        Assert.Equal(expected, HookNames.For(m.Config));
        Assert.Equal(new[] { 8, m.Config.Heads, m.Config.HeadDim }, cache["blocks.0.attn.hook_q"].Shape);
        Assert.Equal(new[] { m.Config.Heads, 8, 8 }, cache["blocks.0.attn.hook_pattern"].Shape);
        foreach (string name in expected) Assert.Equal(name, HookNames.Name(HookNames.Parse(name).Point, HookNames.Parse(name).Layer));
    }
}

using SinkLab.Analysis;
using SinkLab.Caching;
using SinkLab.Evaluation;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.Quantization;

/// <summary>Simulated activation quantization, prefixes (CushionCache) and the prefix search.</summary>
public class ActivationQuantizationTests
{
    private static string SinkModel => Path.Combine(Shared.Repo, "models", "tinystories-sink.gguf");

    [Fact]
    public void FakeQuantizationRoundsHalfToEvenAndClips()
    {
        // q = 127, s = 0.5: x/s = 1.5 → 2, 2.5 → 2 (half to even), −3.5 → −4, 0.2 → 0, 200 → 127 (clipped), −200 → −127.
        float[] x = [0.75f, 1.25f, -1.75f, 0.1f, 100f, -100f];
        ActivationQuantization.FakeQuantize(x, 0.5f, 127);
        Assert.Equal(new[] { 1f, 1f, -2f, 0f, 63.5f, -63.5f }, x);
        float[] zero = [0f, 0f];
        ActivationQuantization.FakeQuantize(zero, 0f, 127);   // an all-zero tensor has scale 0: left alone
        Assert.Equal(new[] { 0f, 0f }, zero);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(4, 7)]
    [InlineData(8, 127)]
    [InlineData(16, 32767)]
    public void QMaxIsTwoToTheBitsMinusOneMinusOne(int bits, int q) => Assert.Equal(q, ActivationQuantization.QMax(bits));

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(0)]
    public void BitWidthOutsideTwoToSixteenIsRefused(int bits) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ActivationQuantization.QMax(bits));

    [Fact]
    public void AnOutlierTokenCrushesTheOthersUnderAPerTensorScaleButNotPerToken()
    {
        // Hand-built [2 tokens, 4 channels]: token 0 carries an outlier of 1000; token 1 values of ~1.
        // Per tensor (INT8): s = 1000/127 ≈ 7.87, so token 1 rounds to 0. Per token: token 1 keeps s = 1.5/127.
        float[] tensor = [1000f, 0f, 0f, 0f, 1.5f, -1f, 0.5f, 0.25f];
        float[] perTensor = (float[])tensor.Clone();
        ActivationQuantization.FakeQuantize(perTensor, ActivationQuantization.MaxAbs(perTensor) / 127, 127);
        Assert.Equal(1000f, perTensor[0], 1e-3f);
        Assert.All(perTensor[4..], v => Assert.Equal(0f, v));
        float[] row = tensor[4..];
        ActivationQuantization.FakeQuantize(row, 1.5f / 127, 127);
        Assert.Equal(1.5f, row[0], 1e-6f);
        Assert.Equal(-1f, row[1], 0.5f * 1.5f / 127);
        Assert.Equal(0.25f, row[3], 0.5f * 1.5f / 127);
    }

    [Fact]
    public void HooksQuantizeTheLinearInputsAndTheRecorderSeesTheirMaxima()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[] ids = m.Tokenizer.Encode("Once upon a time, there was a little girl named Lily.");
        HookPoint[] points = ActivationQuantization.Points(m.Config);
        Assert.Equal(new[] { HookPoint.Ln1, HookPoint.Z, HookPoint.Ln2, HookPoint.MlpPost }, points);
        using var s = new InferenceSession(m);
        ActivationCache plain = s.RunWithCache(ids);
        var cal = new ActCalibration();
        using (s.Hooks(cal.Recorder(m.Config))) s.RunWithCache(ids);
        foreach (HookPoint p in points)
            for (int l = 0; l < m.Config.Layers; l++)
                Assert.Equal(ActivationQuantization.MaxAbs(plain[p, l].Data), cal.Max(p, l));
        Assert.Equal(ids.Length, cal.Tokens);

        // Per-token INT8: every row of every quantized point is a multiple of its own max/127 (checked after the
        // hooks act, since the cache copies what later hooks see — capture after quantization).
        ActivationCache quantized;
        using (s.Hooks(ActivationQuantization.Dynamic(m.Config, 8))) quantized = s.RunWithCache(ids);
        CapturedTensor mlp = quantized[HookPoint.MlpPost, 1];
        int width = mlp.Shape[1];
        for (int t = 0; t < ids.Length; t++)
        {
            ReadOnlySpan<float> row = mlp.Data.AsSpan(t * width, width);
            float step = ActivationQuantization.MaxAbs(row) / 127;
            foreach (float v in row) Assert.Equal(Math.Round(v / step), v / step, 3);
        }
        Assert.NotEqual(plain.Logits![^1], quantized.Logits![^1]);
    }

    [Fact]
    public void SixteenBitActivationsLeavePerplexityAlmostUnchangedAndTwoBitsDestroyIt()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        string text = File.ReadAllText(Shared.TinyStories);
        double f = Perplexity.Run(m, text, 128, 6).Ppl;
        double t16 = Perplexity.Run(m, text, 128, 6, setup: new PerplexitySetup { Hooks = ActivationQuantization.Dynamic(m.Config, 16) }).Ppl;
        double t2 = Perplexity.Run(m, text, 128, 6, setup: new PerplexitySetup { Hooks = ActivationQuantization.Dynamic(m.Config, 2) }).Ppl;
        Assert.Equal(f, t16, f * 1e-3);
        Assert.True(t2 > 2 * f, $"INT2 {t2} vs float {f}");
    }

    [Fact]
    public void APrefixOfBosAloneIsTheBaselineExactly()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        string text = File.ReadAllText(Shared.TinyStories);
        PerplexityResult plain = Perplexity.Run(m, text, 128, 5);
        PerplexityResult bos = Perplexity.Run(m, text, 128, 5, setup: new PerplexitySetup { Prefix = [m.Tokenizer.BosId] });
        Assert.Equal(plain.Ppl, bos.Ppl);
        Assert.Equal(plain.RunningPpl, bos.RunningPpl);
    }

    [Fact]
    public void APrefixIsCachedOnceAndSurvivesReset()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[] prefix = [1, 403, 407, 261];
        int[] text = [378, 432, 383, 286, 261];
        int vocab = m.Config.VocabSize;
        using var plain = new InferenceSession(m, new SessionOptions { ContextSize = 64 });
        var expected = new float[(prefix.Length + text.Length) * vocab];
        plain.Evaluate([.. prefix, .. text], expected);
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = 64, Prefix = prefix });
        Assert.Equal(prefix.Length, s.PrefixLength);
        Assert.Equal(prefix.Length, s.Position);
        for (int round = 0; round < 2; round++)
        {
            s.Reset();
            Assert.Equal(prefix.Length, s.Position);
            var got = new float[text.Length * vocab];
            s.Evaluate(text, got);
            for (int i = 0; i < got.Length; i++) Assert.Equal(expected[prefix.Length * vocab + i], got[i], 1e-4f);
        }
    }

    [Fact]
    public void UnderASinkPolicyThePrefixIsPinnedInFrontOfTheSinks()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[] prefix = [1, 403, 407];
        int[] stream = Enumerable.Range(0, 60).Select(i => 260 + i * 3 % 200).ToArray();
        using var a = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Sink(2, 16), Prefix = prefix });
        using var b = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Sink(5, 16) });
        b.Prefill(prefix);
        Assert.Equal(5, a.Ring.Pinned);
        foreach (int t in stream)
        {
            float[] la = a.Decode(t).ToArray(), lb = b.Decode(t).ToArray();
            for (int i = 0; i < la.Length; i++) Assert.Equal(lb[i], la[i], 1e-4f);
        }
        Assert.Equal(b.Ring.Evicted, a.Ring.Evicted);
        Assert.True(a.Ring.Evicted > 0);
    }

    [Fact]
    public void TheSearchNeverRaisesTheObjectiveAndReportsWhatItMeasured()
    {
        using Model m = Model.Load(SinkModel);
        int[][] calib = CorpusSequences.Take(m.Tokenizer, File.ReadAllText(Shared.TinyStories), 2, 24);
        int[] candidates = [1, 13, 261, 267, 280, 310, 400, 426, 470, 491];
        CushionResult r = CushionSearch.Run(m, calib, new CushionOptions { MaxTokens = 3, Threshold = 0, Candidates = candidates, Threads = 2 });
        Assert.Equal(m.Tokenizer.BosId, r.Prefix[0]);
        Assert.Equal(CushionSearch.Objective(m, [m.Tokenizer.BosId], calib), r.Baseline);
        double previous = r.Baseline;
        for (int i = 0; i < r.Steps.Length; i++)
        {
            Assert.Contains(r.Steps[i].Token, candidates);
            Assert.True(r.Steps[i].MaxActivation <= previous);
            Assert.Equal(CushionSearch.Objective(m, r.Prefix[..(i + 2)], calib), r.Steps[i].MaxActivation);
            // Greedy: no other candidate at this step would have done better.
            foreach (int c in candidates)
                Assert.True(CushionSearch.Objective(m, [.. r.Prefix[..(i + 1)], c], calib) >= r.Steps[i].MaxActivation);
            previous = r.Steps[i].MaxActivation;
        }
        Assert.Equal(1 + r.Steps.Length, r.Prefix.Length);
    }

    [Fact]
    public void StreamGenerateAndChatTakeAPrefixFile()
    {
        string prefix = Path.GetTempFileName();
        try
        {
            File.WriteAllText(prefix, "1 403 407 261");
            var (code, stdout, err) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--tokens", "300", "--cache", "sink:4+60", "--prefix", prefix, "--json");
            Assert.True(code == 0, err);
            using (var doc = System.Text.Json.JsonDocument.Parse(stdout))
                Assert.Equal(299, doc.RootElement.GetProperty("tokens").GetInt64());   // the text's BOS gave way to the prefix
            (code, stdout, err) = CliTests.Run("generate", Shared.StoriesF32, "-p", "Once upon a time", "-n", "8", "--prefix", prefix, "--json");
            Assert.True(code == 0, err);
            using (var doc = System.Text.Json.JsonDocument.Parse(stdout))
            {
                int[] ids = doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                Assert.Equal(new[] { 403, 407, 261, 378 }, ids[..4]);   // no second BOS after the prefix
            }
            (code, _, err) = CliTests.Run("chat", Shared.StoriesF32, "-n", "4", "--prefix", prefix);
            Assert.True(code == 0, err);
        }
        finally
        {
            File.Delete(prefix);
        }
    }

    [Fact]
    public void BadActivationQuantizationAndPrefixInputIsOneLineAndExitTwo()
    {
        string empty = Path.GetTempFileName();
        string longPrefix = Path.GetTempFileName();
        try
        {
            File.WriteAllText(longPrefix, string.Join(" ", Enumerable.Repeat("1", 600)));
            var cases = new[]
            {
                (new[] { "perplexity", Shared.StoriesF32, "-f", Shared.TinyStories, "-c", "128", "--chunks", "2", "--act-quant", "token", "--act-bits", "1" }, "--act-bits"),
                (new[] { "perplexity", Shared.StoriesF32, "-f", Shared.TinyStories, "-c", "128", "--chunks", "2", "--act-quant", "token", "--act-bits", "17" }, "--act-bits"),
                (new[] { "perplexity", Shared.StoriesF32, "-f", Shared.TinyStories, "-c", "128", "--chunks", "2", "--act-quant", "static", "--calib", empty }, "empty"),
                (new[] { "perplexity", Shared.StoriesF32, "-f", Shared.TinyStories, "-c", "128", "--chunks", "2", "--prefix", longPrefix }, "--prefix"),
                (new[] { "generate", Shared.StoriesF32, "-p", "Once", "-n", "4", "--prefix", longPrefix }, "prefix"),
                (new[] { "cushion", Shared.StoriesF32, "-f", empty, "-k", "2", "-c", "64" }, "empty"),
                (new[] { "cushion", Shared.StoriesF32, "-f", Shared.TinyStories, "-k", "2", "-c", "64", "--act-bits", "20" }, "--act-bits"),
                (new[] { "perplexity", Shared.StoriesF32, "-f", Shared.TinyStories, "--act-quant", "weird" }, "--act-quant"),
            };
            foreach (var (args, expect) in cases)
            {
                var (code, _, err) = CliTests.Run(args);
                Assert.True(code == 2, $"{string.Join(' ', args)} → {code}: {err}");
                Assert.Contains(expect, err);
                Assert.Single(err.Trim().Split('\n'));
            }
        }
        finally
        {
            File.Delete(empty);
            File.Delete(longPrefix);
        }
    }
}

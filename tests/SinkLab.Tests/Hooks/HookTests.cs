using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tests.Models;

namespace SinkLab.Tests.Hooks;

public class HookTests
{
    private static readonly string[] TwoLayerGolden =
    [
        "hook_embed",
        "blocks.0.hook_resid_pre", "blocks.0.ln1.hook_normalized", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
        "blocks.0.attn.hook_scores", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
        "blocks.0.hook_resid_mid", "blocks.0.ln2.hook_normalized", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_pre", "blocks.1.ln1.hook_normalized", "blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.attn.hook_v",
        "blocks.1.attn.hook_scores", "blocks.1.attn.hook_pattern", "blocks.1.attn.hook_z", "blocks.1.hook_attn_out",
        "blocks.1.hook_resid_mid", "blocks.1.ln2.hook_normalized", "blocks.1.mlp.hook_post", "blocks.1.hook_mlp_out", "blocks.1.hook_resid_post",
        "ln_final.hook_normalized", "hook_logits",
    ];

    private static readonly int[] Ids = [1, 17, 250, 3, 99, 42, 7, 180];

    [Fact]
    public void TwoLayerModelEmitsThePinnedHookListInOrderWithShapes()
    {
        FixtureModel f = FixtureModel.Llama3Like();   // 2 layers, 8 heads, 2 KV heads, head_dim 8, width 64
        using Model m = f.Load();
        using var s = new InferenceSession(m);
        ActivationCache cache = s.RunWithCache(Ids);
        Assert.Equal(TwoLayerGolden, cache.Names);
        Assert.Equal(TwoLayerGolden, HookNames.For(m.Config));
        Assert.Equal(new[] { 8, 64 }, cache["hook_embed"].Shape);
        Assert.Equal(new[] { 8, 8, 8 }, cache["blocks.0.attn.hook_q"].Shape);
        Assert.Equal(new[] { 8, 2, 8 }, cache["blocks.1.attn.hook_k"].Shape);
        Assert.Equal(new[] { 8, 8, 8 }, cache["blocks.0.attn.hook_pattern"].Shape);   // [head, query, key]
        Assert.Equal(new[] { 8, 96 }, cache["blocks.0.mlp.hook_post"].Shape);
        Assert.Equal(new[] { 8, 300 }, cache["hook_logits"].Shape);
        CapturedTensor p = cache["blocks.1.attn.hook_pattern"];
        for (int h = 0; h < 8; h++)
            for (int t = 0; t < 8; t++)
            {
                double row = 0;
                for (int k = 0; k < 8; k++) { row += p[h, t, k]; if (k > t) Assert.Equal(0f, p[h, t, k]); }
                Assert.Equal(1.0, row, 5);
            }
        Assert.True(float.IsNegativeInfinity(cache["blocks.0.attn.hook_scores"][0, 0, 1]));
        Assert.Equal(cache.Logits, cache["hook_logits"].Data);
    }

    [Fact]
    public void CapturingChangesNothingAndNamesRoundTrip()
    {
        using Model m = FixtureModel.Llama3Like().Load();
        using var s = new InferenceSession(m);
        var plain = new float[Ids.Length * 300];
        s.Evaluate(Ids, plain);
        ActivationCache cache = s.RunWithCache(Ids);
        for (int i = 0; i < plain.Length; i++) Assert.Equal(plain[i], cache.Logits[i], 4);
        foreach (string name in HookNames.For(m.Config)) Assert.Equal(name, HookNames.Name(HookNames.Parse(name).Point, HookNames.Parse(name).Layer));
        Assert.Throws<ArgumentException>(() => HookNames.Parse("blocks.x.hook_resid_pre"));
    }

    [Fact]
    public void HooksAreScopedAndInterventionsChangeTheForward()
    {
        using Model m = FixtureModel.Llama3Like().Load();
        using var s = new InferenceSession(m);
        float[] baseline = s.RunWithCache(Ids).Logits;
        // Zeroing every head of both layers: attention contributes nothing, so hook_attn_out is zero.
        var zero = new HookSet();
        for (int l = 0; l < 2; l++) for (int h = 0; h < 8; h++) zero.ZeroHead(l, h);
        using (s.Hooks(zero))
        {
            ActivationCache c = s.RunWithCache(Ids);
            Assert.All(c["blocks.0.hook_attn_out"].Data, v => Assert.Equal(0f, v));
            Assert.NotEqual(baseline, c.Logits);
        }
        Assert.Equal(baseline, s.RunWithCache(Ids).Logits);   // scope ended: the hook is gone

        // Masking key 0 renormalises: rows still sum to one, key 0 gets nothing (except the first query, left at 0).
        using (s.Hooks(new HookSet().MaskKey(0, 2, onlyLayers: [1])))
        {
            ActivationCache c = s.RunWithCache(Ids);
            CapturedTensor p1 = c["blocks.1.attn.hook_pattern"], p0 = c["blocks.0.attn.hook_pattern"];
            for (int h = 0; h < 8; h++)
                for (int t = 1; t < 8; t++)
                {
                    Assert.Equal(0f, p1[h, t, 0]);
                    Assert.Equal(1.0, Enumerable.Range(0, 8).Sum(k => (double)p1[h, t, k]), 5);
                }
            Assert.True(p0[0, 3, 0] > 0);   // layer 0 untouched
        }

        // Scaling the embedding by 1 is a no-op; by 0 it makes every position's residual stream start at zero.
        using (s.Hooks(new HookSet().Scale(HookPoint.Embed, 0, 0f)))
            Assert.All(s.RunWithCache(Ids)["blocks.0.hook_resid_pre"].Data, v => Assert.Equal(0f, v));
    }
}

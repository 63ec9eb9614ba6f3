using SinkLab.Training.Data;
using static TorchSharp.torch;

namespace SinkLab.Training.Tests;

/// <summary>The fused attention kernel and minimum-context training (the emergence runs of docs/results/emergence.md).</summary>
public class TrainingOptionsTests
{
    private static TrainConfig Tiny(string dir, params string[] sets) => TrainConfig.Load(null,
    [
        "name=tiny", $"out_dir={dir}", "steps=8", "batch=4", "warmup=2", "eval_every=4", "eval_batches=2", "checkpoint_every=4",
        "model.dim=32", "model.layers=2", "model.heads=2", "model.kv_heads=2", "model.hidden=48", "model.context=16", .. sets,
    ]);

    private static string Dir() => Directory.CreateTempSubdirectory("sinklab-opts-").FullName;

    [Theory]
    [InlineData("bos-at-window-start")]   // plain causal mask
    [InlineData("bos-per-doc")]           // documents masked off from each other: a per-window mask reaches the kernel
    public void FusedSoftmaxTrainsLikeExplicitAttention(string packing)
    {
        string a = Dir(), b = Dir();
        TrainResult fused = Trainer.Run(Tiny(a, $"data.packing={packing}", "fused_attention=true"));
        TrainResult plain = Trainer.Run(Tiny(b, $"data.packing={packing}", "fused_attention=false"));
        foreach (var (f, p) in fused.Steps.Zip(plain.Steps))
            Assert.True(Math.Abs(f.Loss - p.Loss) < 1e-4 * p.Loss, $"step {f.Step}: fused {f.Loss} vs explicit {p.Loss}");
        Assert.True(Math.Abs(fused.FinalEvalLoss - plain.FinalEvalLoss) < 1e-4 * plain.FinalEvalLoss);
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Fact]
    public void FusedFlagLeavesOtherVariantsAlone()
    {
        // Only softmax has a fused form; a sink-logit run is the same bit for bit either way.
        string a = Dir(), b = Dir();
        TrainResult on = Trainer.Run(Tiny(a, "model.attention=sink-logit", "fused_attention=true"));
        TrainResult off = Trainer.Run(Tiny(b, "model.attention=sink-logit", "fused_attention=false"));
        Assert.Equal(off.Steps.Select(s => s.Loss), on.Steps.Select(s => s.Loss));
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Fact]
    public void MinimumContextScoresOnlyPredictionsThatSeeEnoughTokens()
    {
        // Held-out loss with min_context k = mean cross-entropy over window positions i ≥ k − 1, computed here by hand
        // from the model's logits; k = 0 is the plain mean over every position.
        string dir = Dir();
        const int k = 6;
        TrainConfig c = Tiny(dir, "data.packing=bos-at-window-start", $"data.min_context={k}", "eval_batches=1");
        var (vocab, data, _) = Trainer.Prepare(c);
        manual_seed(3);
        using var model = new TinyLlama(new ModelSettings
        {
            Vocab = vocab.Count, Dim = 32, Layers = 2, Heads = 2, KvHeads = 2, Hidden = 48, Context = 16,
        });
        Batch batch = data.Valid(c.Seed, 0, c.Batch, c.Model.Context);
        double all = 0, scored = 0;
        int nAll = 0, nScored = 0;
        using (no_grad())
        {
            using Tensor logits = model.forward(tensor(batch.Inputs, [batch.Size, batch.Context]), null);
            using Tensor logp = nn.functional.log_softmax(logits, -1);
            for (int row = 0; row < batch.Size; row++)
                for (int i = 0; i < batch.Context; i++)
                {
                    double nll = -logp[row, i, batch.Targets[row * batch.Context + i]].item<float>();
                    all += nll; nAll++;
                    if (i >= k - 1) { scored += nll; nScored++; }
                }
        }
        Assert.Equal(scored / nScored, Trainer.Evaluate(model, data, c, vocab.Count), 4);
        Assert.Equal(all / nAll, Trainer.Evaluate(model, data, c with { Data = c.Data with { MinContext = 0 } }, vocab.Count), 4);
        Assert.NotEqual(Math.Round(all / nAll, 4), Math.Round(scored / nScored, 4));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("data.min_context=16", "data.min_context")]   // = model.context: nothing left to score
    [InlineData("data.min_context=-1", "data.min_context")]
    [InlineData("fused_attention=maybe", "fused_attention")]
    public void BadOptionsNameTheSetting(string setting, string named)
    {
        string dir = Dir();
        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer.Run(Tiny(dir, setting)));
        Assert.Contains(named, e.Message);
        Directory.Delete(dir, true);
    }
}

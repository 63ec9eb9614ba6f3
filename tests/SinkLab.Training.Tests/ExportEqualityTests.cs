using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;
using static TorchSharp.torch;

namespace SinkLab.Training.Tests;

/// <summary>The engine's logits on an exported model equal TorchSharp's, for every attention variant.</summary>
public class ExportEqualityTests
{
    public static TheoryData<AttentionVariant> Variants() =>
        [AttentionVariant.Softmax, AttentionVariant.Softmax1, AttentionVariant.SinkLogit, AttentionVariant.Sigmoid, AttentionVariant.Gated,
         AttentionVariant.Softpick];

    [Theory]
    [MemberData(nameof(Variants))]
    public void EngineLogitsEqualTorchSharpLogits(AttentionVariant variant)
    {
        set_num_threads(1);
        manual_seed(11);
        var settings = new ModelSettings { Vocab = 300, Dim = 32, Layers = 2, Heads = 4, KvHeads = 2, Hidden = 48, Context = 24, Attention = variant, SigmoidBias = -1.5f };
        using var model = new TinyLlama(settings);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (p.dim() == 1) p.uniform_(name.EndsWith("sinks", StringComparison.Ordinal) ? -2 : 0.5, name.EndsWith("sinks", StringComparison.Ordinal) ? 2 : 1.5);
        int[] ids = [1, 5, 299, 17, 42, 42, 100, 3, 250, 7, 8, 9, 10, 200, 150, 1, 77, 88, 99, 123];
        float[] expected;
        using (no_grad())
        using (var t = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]))
        using (var logits = model.forward(t, null))
            expected = logits.data<float>().ToArray();

        using var ms = new MemoryStream();
        GgufExport.ToGguf(model, Vocabulary.Symbols(300), "test").Write(ms);
        using Model engine = Model.FromGguf(GgufFile.Parse(ms.ToArray(), "exported.gguf"));
        Assert.Equal(variant, engine.Config.Attention);
        using var session = new InferenceSession(engine);
        var got = new float[ids.Length * 300];
        session.Evaluate(ids, got);
        double scale = expected.Max(Math.Abs), worst = 0;
        for (int i = 0; i < got.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - expected[i]) / scale);
        Assert.True(worst < 1e-4, $"{variant}: max relative difference {worst}");
    }
}

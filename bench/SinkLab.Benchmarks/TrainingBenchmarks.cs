using BenchmarkDotNet.Attributes;
using SinkLab.Training;
using SinkLab.Training.Data;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SinkLab.Benchmarks;

/// <summary>
/// One optimizer step of the emergence programme's model (width 128, 4 layers, 4 heads, SwiGLU 344; T = 128 or 512,
/// 4,096 tokens per step) as <c>sinklab train</c> takes it — <see cref="Trainer.Step"/>: the window drawn from the
/// corpus, tensors made, loss, backward, clipping, AdamW — against a raw TorchSharp loop of the same model on tensors
/// made once (forward, cross-entropy, backward, clipping, AdamW). Tokens per second = 4,096 / mean. Both attention
/// kernels (explicit scores + softmax, libtorch's fused scaled-dot-product), one libtorch thread.
/// </summary>
public class TrainingBenchmarks
{
    private TinyLlama _model = null!;
    private AdamW _opt = null!;
    private TrainConfig _config = null!;
    private TrainingData _data = null!;
    private Tensor _inputs = null!, _targets = null!;
    private int _step;

    /// <summary>Attention kernel.</summary>
    [Params(false, true)]
    public bool Fused { get; set; }

    /// <summary>Training context T (windows per step: 4,096 / T).</summary>
    [Params(128, 512)]
    public int Context { get; set; }

    private int Batch => 4096 / Context;

    [GlobalSetup]
    public void Setup()
    {
        string shared = Path.GetDirectoryName(Path.GetDirectoryName(SharedData.Models))!;
        _config = TrainConfig.Load(null,
        [
            $"data.source={Path.Combine(shared, "data", "corpora", "tinystories_valid_slice.txt")}",
            $"data.tokenizer={Path.Combine(SharedData.Models, "stories260K-f32-ctx512.gguf")}", "data.packing=bos-at-window-start",
            "model.dim=128", "model.layers=4", "model.heads=4", "model.kv_heads=4", "model.hidden=344", $"model.context={Context}",
            $"batch={Batch}", "learning_rate=0.001", $"fused_attention={Fused}",
        ]);
        var (vocab, data, _) = Trainer.Prepare(_config);
        _data = data;
        set_num_threads(1);
        manual_seed(1);
        _model = new TinyLlama(new ModelSettings
        {
            Vocab = vocab.Count, Dim = 128, Layers = 4, Heads = 4, KvHeads = 4, Hidden = 344, Context = Context, FusedAttention = Fused,
        });
        _opt = optim.AdamW(_model.parameters(), 1e-3, 0.9, 0.95, 1e-8, 0.1);
        Batch b = data.Train(1, 0, Batch, Context);
        _inputs = tensor(b.Inputs, [Batch, Context]);
        _targets = tensor(b.Targets, [Batch * Context]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _opt.Dispose();
        _model.Dispose();
        _inputs.Dispose();
        _targets.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float RawTorchSharpStep()
    {
        using var scope = NewDisposeScope();
        _opt.zero_grad();
        Tensor loss = nn.functional.cross_entropy(_model.forward(_inputs, null).view(-1, _model.Settings.Vocab), _targets);
        loss.backward();
        nn.utils.clip_grad_norm_(_model.parameters(), 1.0);
        _opt.step();
        return loss.item<float>();
    }

    [Benchmark]
    public double SinkLabTrainerStep() => Trainer.Step(_model, _opt, _data.Train(1, _step++, Batch, Context), _config);
}

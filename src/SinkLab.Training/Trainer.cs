using System.Diagnostics;
using System.Text.Json;
using SinkLab.Evaluation;
using SinkLab.Tokenization;
using SinkLab.Training.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SinkLab.Training;

/// <summary>One logged step.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="Loss">Training loss of the step.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="TokensPerSecond">Throughput since the previous record.</param>
/// <param name="EvalLoss">Held-out loss, when evaluated at this step.</param>
public sealed record StepRecord(int Step, double Loss, double LearningRate, double TokensPerSecond, double? EvalLoss);

/// <summary>Result of a run.</summary>
/// <param name="Config">The config.</param>
/// <param name="Gguf">Path of the exported model.</param>
/// <param name="FinalEvalLoss">Held-out loss at the end.</param>
/// <param name="Steps">Records, one per step.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="Seconds">Wall time of the training loop.</param>
public sealed record TrainResult(TrainConfig Config, string Gguf, double FinalEvalLoss, IReadOnlyList<StepRecord> Steps, long Parameters, double Seconds);

/// <summary>
/// AdamW with linear warm-up and cosine decay, gradient clipping and weight decay; deterministic for a given config
/// and seed (data depend only on (seed, step)); JSON-lines metrics; atomic checkpoints; exact resume.
/// </summary>
public static class Trainer
{
    /// <summary>One JSON object per line (metrics.jsonl, probes.jsonl).</summary>
    internal static readonly JsonSerializerOptions Compact = new(TrainConfig.Json) { WriteIndented = false };

    /// <summary>Prepares data for a config: the vocabulary and the windows.</summary>
    public static (Vocabulary Vocab, TrainingData Data, int SinkId) Prepare(TrainConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        c.Validate();
        Packing packing = c.PackingValue;
        if (c.Data.Source == "bigram-recall")
        {
            SyntheticTask task = c.Data.Task(c.Seed);
            Vocabulary v = Vocabulary.Symbols(task.Vocab, task.Text);
            int sink = -1;
            if (packing == Packing.SinkToken) v = v.WithSinkToken(out sink);
            return (v, TrainingData.FromTask(task, packing, v.BosId, sink).WithRepeats(c.Data.RepeatRate, c.Data.RepeatLength), sink);
        }
        if (!File.Exists(c.Data.Source)) throw new ArgumentException($"data.source: corpus file '{c.Data.Source}' not found");
        Vocabulary vocab = c.Data.Tokenizer == "bytes" ? Vocabulary.Bytes()
            : File.Exists(c.Data.Tokenizer) ? Vocabulary.FromGguf(c.Data.Tokenizer)
            : throw new ArgumentException($"data.tokenizer: '{c.Data.Tokenizer}' is neither \"bytes\" nor an existing GGUF file");
        string text;
        try { text = File.ReadAllText(c.Data.Source); }
        catch (IOException e) { throw new ArgumentException($"data.source: cannot read '{c.Data.Source}': {e.Message}"); }
        if (c.Data.MaxChars > 0 && text.Length > c.Data.MaxChars) text = text[..c.Data.MaxChars];
        ITokenizer tok = vocab.Tokenizer();
        int[][] docs = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => tok.Encode(d, addSpecial: false)).Where(d => d.Length > 0).ToArray();
        int sinkId = -1;
        if (packing == Packing.SinkToken) vocab = vocab.WithSinkToken(out sinkId);
        return (vocab, TrainingData.FromDocuments(docs, packing, vocab.BosId, sinkId, vocab.Count, c.Model.Context)
            .WithRepeats(c.Data.RepeatRate, c.Data.RepeatLength), sinkId);
    }

    /// <summary>Learning rate of a step: linear warm-up to the peak, then cosine to MinLrRatio × peak.</summary>
    public static double LearningRate(TrainConfig c, int step)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (step < c.Warmup) return c.LearningRate * (step + 1) / c.Warmup;
        double progress = c.Steps == c.Warmup ? 1 : (step - c.Warmup) / (double)(c.Steps - c.Warmup);
        return c.LearningRate * (c.MinLrRatio + (1 - c.MinLrRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) training; writes into <c>OutDir</c>:
    /// <c>checkpoint.bin</c>, <c>metrics.jsonl</c>, <c>config.json</c> and <c>NAME.gguf</c>.</summary>
    /// <param name="c">The config.</param>
    /// <param name="resume">Continue from the checkpoint in OutDir.</param>
    /// <param name="progress">Receives every step.</param>
    /// <param name="stopAfter">Stop after this many steps (as if killed), for tests.</param>
    /// <param name="prepared">Data already made by <see cref="Prepare"/> for this config (so callers that need the
    /// windows too do not tokenize the corpus twice).</param>
    public static TrainResult Run(TrainConfig c, bool resume = false, IProgress<StepRecord>? progress = null, int? stopAfter = null,
        (Vocabulary Vocab, TrainingData Data, int SinkId)? prepared = null)
    {
        var (vocab, data, sinkId) = prepared ?? Prepare(c);
        Directory.CreateDirectory(c.OutDir);
        set_num_threads(c.Threads);
        manual_seed(c.Seed);
        var settings = new ModelSettings
        {
            Vocab = vocab.Count, Dim = c.Model.Dim, Layers = c.Model.Layers, Heads = c.Model.Heads, KvHeads = c.Model.KvHeads,
            Hidden = c.Model.Hidden, Context = c.Model.Context, Attention = c.Variant, SigmoidBias = c.Model.SigmoidBias,
            FusedAttention = c.FusedAttention,
        };
        settings.Validate();
        Device device = ResolveDevice(c.Device);
        using var model = new TinyLlama(settings).MoveTo(device);
        using AdamW opt = optim.AdamW(model.parameters(), c.LearningRate, 0.9, 0.95, 1e-8, c.WeightDecay);
        long parameters = model.parameters().Sum(p => p.numel());
        string ckpt = Path.Combine(c.OutDir, "checkpoint.bin"), metricsPath = Path.Combine(c.OutDir, "metrics.jsonl");
        string probesPath = Path.Combine(c.OutDir, "probes.jsonl");
        int start = 0;
        var records = new List<StepRecord>();
        if (resume && File.Exists(ckpt))
        {
            start = Checkpoint.Load(ckpt, model, opt);
            if (File.Exists(metricsPath))
                records.AddRange(File.ReadLines(metricsPath).Select(l => JsonSerializer.Deserialize<StepRecord>(l, TrainConfig.Json)!).Where(r => r.Step <= start));
        }
        File.WriteAllText(Path.Combine(c.OutDir, "config.json"), JsonSerializer.Serialize(c, TrainConfig.Json));
        WriteMetrics(metricsPath, records);
        if (c.ProbeEvery > 0)   // a resumed run keeps the probes up to its checkpoint, as it keeps the metrics
        {
            string[] kept = File.Exists(probesPath) && start > 0
                ? [.. File.ReadLines(probesPath).Where(l => JsonSerializer.Deserialize<ProbeRecord>(l, TrainConfig.Json)!.Step <= start)]
                : [];
            File.WriteAllLines(probesPath, kept);
        }

        var sw = Stopwatch.StartNew();
        var lap = Stopwatch.StartNew();
        int T = c.Model.Context, end = Math.Min(c.Steps, stopAfter ?? c.Steps);
        double evalLoss = double.NaN;
        for (int step = start; step < end; step++)
        {
            double lr = LearningRate(c, step);
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            Batch b = data.Train(c.Seed, step, c.Batch, T);
            double loss = Step(model, opt, b, c);
            int done = step + 1;
            double? ev = null;
            if (done % c.EvalEvery == 0 || done == c.Steps) ev = evalLoss = Evaluate(model, data, c, settings.Vocab);
            var rec = new StepRecord(done, loss, lr, c.Batch * T / Math.Max(lap.Elapsed.TotalSeconds, 1e-9), ev);
            lap.Restart();
            records.Add(rec);
            File.AppendAllText(metricsPath, JsonSerializer.Serialize(rec, Compact) + "\n");
            progress?.Report(rec);
            if (c.ProbeEvery > 0 && done % c.ProbeEvery == 0)
                using (no_grad()) SinkProbe.Append(probesPath, SinkProbe.Measure(model, vocab, sinkId, data, c, done));
            if ((c.CheckpointEvery > 0 && done % c.CheckpointEvery == 0) || done == c.Steps) Checkpoint.Save(ckpt, done, model, opt);
        }
        if (double.IsNaN(evalLoss)) evalLoss = Evaluate(model, data, c, settings.Vocab);
        string gguf = Path.Combine(c.OutDir, c.Name + ".gguf");
        GgufExport.ToGguf(model, vocab, c.Name, sinkId >= 0 ? sinkId : null, c.Data.Source == "bigram-recall" ? c.Data.Task(c.Seed) : null).Write(gguf);
        return new TrainResult(c, gguf, evalLoss, records, parameters, sw.Elapsed.TotalSeconds);
    }

    /// <summary>The device a config asks for: "cuda" only where TorchSharp finds one (an error otherwise), "auto" CUDA
    /// when found and the CPU otherwise, "cpu" the CPU. This package ships the CPU libtorch; with a CUDA build of
    /// TorchSharp referenced instead, "auto" trains on the GPU with the same configs.</summary>
    /// <exception cref="ArgumentException">"cuda" without a CUDA device, or an unknown name.</exception>
    public static Device ResolveDevice(string name)
    {
        bool gpu = name != "cpu" && cuda.is_available();
        return name switch
        {
            "cpu" => CPU,
            "auto" => gpu ? CUDA : CPU,
            "cuda" => gpu ? CUDA : throw new ArgumentException("device cuda: TorchSharp finds no CUDA device here (this build uses the CPU libtorch); use --device cpu or auto"),
            _ => throw new ArgumentException($"device must be auto, cpu or cuda (got '{name}')"),
        };
    }

    /// <summary>One optimizer step on a batch as <see cref="Run"/> takes it (the learning rate already set): loss,
    /// backward, gradient clipping, AdamW; returns the batch's loss. Public for the training benchmark.</summary>
    public static double Step(TinyLlama model, optim.Optimizer opt, Batch b, TrainConfig c)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(opt);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        opt.zero_grad();
        Tensor l = Loss(model, b, model.Settings.Vocab, c.Data.MinContext);
        l.backward();
        if (c.ClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), c.ClipNorm);
        opt.step();
        return l.item<float>();
    }

    /// <summary>Mean cross-entropy of a batch; with <paramref name="minContext"/> k > 0 only the predictions at window
    /// positions i ≥ k − 1 (which see ≥ k tokens) count: the others' targets become the ignored index.</summary>
    private static Tensor Loss(TinyLlama model, Batch b, int vocab, int minContext)
    {
        Device device = model.Device;
        long[] t = b.Targets;
        if (minContext > 1)
        {
            t = (long[])t.Clone();
            for (int row = 0; row < b.Size; row++)
                Array.Fill(t, IgnoredTarget, row * b.Context, minContext - 1);
        }
        using Tensor inputs = tensor(b.Inputs, [b.Size, b.Context], device: device);
        using Tensor targets = tensor(t, [b.Size * b.Context], device: device);
        using Tensor? allowed = b.Allowed is null ? null : tensor(b.Allowed, [b.Size, b.Context, b.Context], device: device);
        Tensor logits = model.forward(inputs, allowed);
        return nn.functional.cross_entropy(logits.view(-1, vocab), targets, ignore_index: IgnoredTarget);
    }

    private const long IgnoredTarget = -100;

    /// <summary>Mean held-out loss over the config's evaluation batches.</summary>
    public static double Evaluate(TinyLlama model, TrainingData data, TrainConfig c, int vocab)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(c);
        double sum = 0;
        using (no_grad())
            for (int i = 0; i < c.EvalBatches; i++)
                using (var scope = NewDisposeScope())
                    sum += Loss(model, data.Valid(c.Seed, i, c.Batch, c.Model.Context), vocab, c.Data.MinContext).item<float>();
        return sum / c.EvalBatches;
    }

    private static void WriteMetrics(string path, IEnumerable<StepRecord> records)
    {
        string tmp = path + ".tmp";
        File.WriteAllLines(tmp, records.Select(r => JsonSerializer.Serialize(r, Compact)));
        File.Move(tmp, path, overwrite: true);
    }
}

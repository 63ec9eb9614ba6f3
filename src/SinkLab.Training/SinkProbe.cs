using System.Text.Json;
using SinkLab.Analysis;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Training.Data;

namespace SinkLab.Training;

/// <summary>Sinks of a model at one step of its training, measured by the engine on the exported weights.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="SinkRate">Share of heads whose mean first-token attention is ≥ ε, per ε (0.3, 0.5, 0.8).</param>
/// <param name="MeanAlphaFirst">Mean over heads of the mean attention on the first token.</param>
/// <param name="MaxAlphaFirst">Largest head's mean attention on the first token.</param>
/// <param name="UniformAlpha">What uniform causal attention would put on the first token (the mean of 1/(t+1)): the floor α₀ is read against.</param>
/// <param name="NllWithFirst">Mean next-token NLL of the held-out windows as trained.</param>
/// <param name="NllWithoutFirst">The same with the first token removed.</param>
public sealed record ProbeRecord(int Step, Dictionary<string, double> SinkRate, double MeanAlphaFirst, double MaxAlphaFirst, double UniformAlpha,
    double NllWithFirst, double NllWithoutFirst)
{
    /// <summary>What removing the first token costs in nats per token.</summary>
    public double FirstTokenCost => NllWithoutFirst - NllWithFirst;
}

/// <summary>
/// <c>sinklab train --probe-every N</c>: every N steps the model in training is exported to GGUF in memory, loaded by the
/// engine and measured on held-out windows (as the packing gives them) — sink rate at ε = 0.3/0.5/0.8, α₀ against the
/// uniform floor, and the cost of removing the first token — one JSON line per probe in <c>out_dir/probes.jsonl</c>,
/// so a run shows when its sink forms. Probing reads the weights only: the training itself is unchanged.
/// </summary>
public static class SinkProbe
{
    /// <summary>The ε of the sink rates.</summary>
    public static readonly double[] Epsilons = [0.3, 0.5, 0.8];

    /// <summary>Measures <paramref name="model"/> at <paramref name="step"/>.</summary>
    public static ProbeRecord Measure(TinyLlama model, Vocabulary vocab, int sinkId, TrainingData data, TrainConfig c, int step)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(c);
        int T = c.Model.Context;
        int[][] seqs = Enumerable.Range(0, c.ProbeSequences)
            .Select(i => data.Valid(c.Seed + 1000, i, 1, T).Inputs.Select(x => (int)x).ToArray()).ToArray();
        using var ms = new MemoryStream();
        GgufExport.ToGguf(model, vocab, c.Name, sinkId >= 0 ? sinkId : null).Write(ms);
        using Model m = Model.FromGguf(GgufFile.Parse(ms.ToArray(), $"{c.Name}@{step}"));
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = T, BatchSize = T, Threads = 1 });
        SinkReport sinks = SinkMetrics.Measure(s, seqs, Epsilons);
        BosAblationRow[] bos = BosAblation.Measure(s, seqs, [Epsilons[0]]);
        double[] alphas = sinks.AlphaFirst.SelectMany(x => x).ToArray();
        double uniform = Enumerable.Range(1, T).Average(t => 1.0 / t);
        return new ProbeRecord(step, sinks.SinkRate, alphas.Average(), alphas.Max(), uniform, bos[0].MeanNll, bos[1].MeanNll);
    }

    /// <summary>Appends one probe to the run's <c>probes.jsonl</c>.</summary>
    public static void Append(string path, ProbeRecord record) =>
        File.AppendAllText(path, JsonSerializer.Serialize(record, Trainer.Compact) + "\n");
}

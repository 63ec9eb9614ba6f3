using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Evaluation;

/// <summary>
/// The fact-recall test (docs/metrics.md, "Recall under eviction"): on a model trained on the bigram-recall task
/// (<see cref="SyntheticTask"/>, read from the model's <c>sinklab.task.*</c> metadata), a fact "key j holds value v"
/// is stored once, <c>d</c> tokens of the task's language follow (other keys stored and queried as in training, key j
/// never), then j is queried: the model answers right only if the store is still in its cache. Scored as the share of
/// trials whose greedy next token is the value, against a control in which the store is never made (what guessing
/// gives).
/// </summary>
public static class FactRecall
{
    /// <summary>Runs the test under <paramref name="policy"/> (<see cref="RecallOptions.PassageLength"/> is not used;
    /// <see cref="RecallOptions.LeadIn"/> tokens of the language come before the fact).</summary>
    /// <exception cref="ArgumentException">A model whose vocabulary is not the task's, a distance below 0 or a bad
    /// setting.</exception>
    public static RecallResult Run(Model model, SyntheticTask task, CachePolicy policy, RecallOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(options);
        if (!policy.IsCache) throw new ArgumentException($"--cache {policy}: recompute is not a cache; the recall test runs cache policies", "--cache");
        if (options.Trials < 1) throw new ArgumentOutOfRangeException("--trials", options.Trials, "must be ≥ 1");
        if (options.LeadIn < 0) throw new ArgumentOutOfRangeException("--lead-in", options.LeadIn, "must be ≥ 0");
        if (options.Distances.Count == 0 || options.Distances.Any(d => d < 0)) throw new ArgumentException("distances must be ≥ 0", "--distances");
        if (model.Config.VocabSize < task.Vocab)
            throw new ArgumentException($"the model has {model.Config.VocabSize} tokens, fewer than the task's {task.Vocab}: not a model of {task}", "MODEL");
        var points = new List<RecallPoint>();
        foreach (int d in options.Distances)
        {
            int len = options.LeadIn + d + 3;
            if (policy.Kind == CacheKind.Full && len > model.Config.ContextLength)
            {
                points.Add(new RecallPoint(d, double.NaN, double.NaN, 0));
                continue;
            }
            var (hits, baseHits) = RecallTest.Trials(model, policy, len, options, (session, trial) =>
            {
                var rng = new Random(SeedMix.Of(options.Seed, d, trial));
                int key = rng.Next(task.Keys), value = rng.Next(task.Values);
                int answer = task.Content(value);
                int hit = Answer(session, task.FactTrial(rng, key, value, options.LeadIn, d, planted: true)) == answer ? 1 : 0;
                return (hit, Answer(session, task.FactTrial(rng, key, value, options.LeadIn, d, planted: false)) == answer ? 1 : 0);
            });
            points.Add(new RecallPoint(d, hits / (double)options.Trials, baseHits / (double)options.Trials, options.Trials));
        }
        return new RecallResult(policy.ToString(), [.. points]);
    }

    /// <summary>The greedy next token after the whole sequence.</summary>
    private static int Answer(InferenceSession session, int[] seq)
    {
        session.Reset();
        ReadOnlySpan<float> logits = default;
        foreach (int t in seq) logits = session.Decode(t);
        int best = 0;
        for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
        return best;
    }
}

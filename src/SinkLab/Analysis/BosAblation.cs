using SinkLab.Evaluation;
using SinkLab.Hooks;
using SinkLab.Inference;

namespace SinkLab.Analysis;

/// <summary>
/// What the first token does for the model: mean next-token NLL and sink statistics with BOS first, with BOS dropped,
/// with BOS replaced by "\n" (StreamingLLM's replacement sinks), and with a random token first. The NLL is taken over
/// the same predictions in every variant: tokens 2..T−1 of the original sequence.
/// </summary>
public static class BosAblation
{
    /// <summary>Runs the four variants over the sequences.</summary>
    public static BosAblationRow[] Measure(InferenceSession session, IReadOnlyList<int[]> sequences, IReadOnlyList<double> epsilons, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(sequences);
        var tok = session.Model.Tokenizer;
        int newline = Interventions.NewlineToken(tok);
        var rng = new Random(seed);
        int RandomToken()
        {
            for (int i = 0; i < 1000; i++)
            {
                int t = rng.Next(tok.VocabSize);
                if (tok.TokenBytes(t).Length > 0 && t != tok.BosId && t != tok.EosId) return t;
            }
            return newline;
        }
        var variants = new (string Name, string First, Func<int[], int[]> Edit)[]
        {
            ("bos", tok.TokenText(tok.BosId), s => s),
            ("no_bos", "(none)", s => Interventions.DropFirst(s)),
            ("newline", tok.TokenText(newline), s => Interventions.ReplaceFirst(s, newline)),
            ("random", "(random token per sequence)", s => Interventions.ReplaceFirst(s, RandomToken())),
        };
        var c = session.Model.Config;
        var rows = new List<BosAblationRow>();
        foreach (var (name, first, edit) in variants)
        {
            double nll = 0;
            long count = 0;
            int T = edit(sequences[0]).Length;
            var acc = new SinkMetrics.Accumulator(c.Layers, c.Heads, T, c.VocabSize);
            foreach (int[] original in sequences)
            {
                int[] ids = edit(original);
                int shift = original.Length - ids.Length;   // 1 when the first token was dropped
                ActivationCache cache = session.RunWithCache(ids, n => n.EndsWith("hook_pattern", StringComparison.Ordinal));
                acc.Add(ids, l => cache[HookPoint.Pattern, l].Data);
                for (int t = 2; t < original.Length; t++)
                {
                    int row = t - 1 - shift;
                    nll -= Perplexity.LogSoftmaxAt(cache.Logits.AsSpan(row * c.VocabSize, c.VocabSize), original[t]);
                    count++;
                }
            }
            SinkReport r = acc.Build(epsilons, tok);
            rows.Add(new BosAblationRow(name, first, nll / count, r.SinkRate, r.AlphaFirst.SelectMany(x => x).Average()));
        }
        return [.. rows];
    }
}

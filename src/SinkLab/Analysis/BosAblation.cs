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
    /// <summary>Names of the variants, in report order.</summary>
    public static readonly IReadOnlyList<string> Variants = ["bos", "no_bos", "newline", "random"];

    /// <summary>One variant's sums: NLL over tokens 2..T−1 of the original sequences and sink statistics of its passes.
    /// Fed by <see cref="Measure"/>, or by a caller that already ran the same passes (the inspector's intact and
    /// first-dropped passes are the "bos" and "no_bos" variants).</summary>
    public sealed class Accumulator
    {
        private readonly SinkMetrics.Accumulator _sinks;
        private readonly int _vocab;
        private double _nll;
        private long _count;

        /// <summary>For sequences of <paramref name="tokens"/> tokens as edited (T − 1 when the first is dropped).</summary>
        public Accumulator(Models.ModelConfig config, int tokens)
        {
            ArgumentNullException.ThrowIfNull(config);
            _sinks = new SinkMetrics.Accumulator(config.Layers, config.Heads, tokens, config.VocabSize);
            _vocab = config.VocabSize;
        }

        /// <summary>Sequences added so far.</summary>
        public int Sequences { get; private set; }

        /// <summary>Adds one pass over <paramref name="ids"/> (an edit of <paramref name="original"/>) whose cache holds
        /// every layer's hook_pattern and the logits of every position.</summary>
        public void Add(int[] original, int[] ids, ActivationCache cache)
        {
            ArgumentNullException.ThrowIfNull(original);
            ArgumentNullException.ThrowIfNull(ids);
            ArgumentNullException.ThrowIfNull(cache);
            _sinks.Add(ids, l => cache[HookPoint.Pattern, l].Data);
            int shift = original.Length - ids.Length;   // 1 when the first token was dropped
            for (int t = 2; t < original.Length; t++)
            {
                int row = t - 1 - shift;
                _nll -= Perplexity.LogSoftmaxAt(cache.Logits.AsSpan(row * _vocab, _vocab), original[t]);
                _count++;
            }
            Sequences++;
        }

        /// <summary>The variant's row.</summary>
        public BosAblationRow Build(string name, string first, IReadOnlyList<double> epsilons, Tokenization.ITokenizer tokenizer)
        {
            SinkReport r = _sinks.Build(epsilons, tokenizer);
            return new BosAblationRow(name, first, _nll / _count, r.SinkRate, r.AlphaFirst.SelectMany(x => x).Average());
        }
    }

    /// <summary>Runs the four variants over the sequences; <paramref name="done"/> supplies variants (by name) already
    /// accumulated over exactly these sequences, which are then not run again.</summary>
    public static BosAblationRow[] Measure(InferenceSession session, IReadOnlyList<int[]> sequences, IReadOnlyList<double> epsilons, int seed = 1,
        IReadOnlyDictionary<string, Accumulator>? done = null)
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
        var rows = new List<BosAblationRow>();
        foreach (var (name, first, edit) in variants)
        {
            if (done != null && done.TryGetValue(name, out Accumulator? given))
            {
                if (given.Sequences != sequences.Count)
                    throw new ArgumentException($"variant {name} was accumulated over {given.Sequences} sequences, not {sequences.Count}", nameof(done));
                rows.Add(given.Build(name, first, epsilons, tok));
                continue;
            }
            var acc = new Accumulator(session.Model.Config, edit(sequences[0]).Length);
            foreach (int[] original in sequences)
            {
                int[] ids = edit(original);
                acc.Add(original, ids, session.RunWithCache(ids, n => n.EndsWith("hook_pattern", StringComparison.Ordinal)));
            }
            rows.Add(acc.Build(name, first, epsilons, tok));
        }
        return [.. rows];
    }
}

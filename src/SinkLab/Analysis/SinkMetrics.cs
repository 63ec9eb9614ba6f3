using System.Globalization;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Tokenization;

namespace SinkLab.Analysis;

/// <summary>
/// Attention-sink scores. α_k(l,h) = 1/(T−k) Σ_{t≥k} A_{l,h}[t,k] (0-based positions: the mean attention the queries
/// that can see key k give to it; Gu et al. 2025, §3.2, there 1-based). Sink rate Sink^ε = share of (layer, head)
/// pairs with α of the first token > ε. Entropy H(l,h) = mean over queries t ≥ 1 of −Σ_k A[t,k] ln A[t,k].
/// </summary>
public static class SinkMetrics
{
    /// <summary>Default thresholds ε.</summary>
    public static readonly double[] DefaultEpsilons = [0.3, 0.5, 0.8];

    /// <summary>The key used in JSON for a threshold: "0.3".</summary>
    public static string Key(double eps) => eps.ToString("0.0##", CultureInfo.InvariantCulture);

    /// <summary>Accumulates patterns of many sequences (all of one length).</summary>
    public sealed class Accumulator
    {
        private readonly int _layers, _heads, _tokens, _vocab;
        private readonly double[,] _alphaFirst, _entropy;
        private readonly double[,]? _learnedSink;          // [layer, head]: mass the learned sink logit takes, or null
        private readonly double[,,] _alphaPos;             // [layer, head, position]
        // Attention received per token id (positions ≥ 1), only for ids that occur: a dense [layer, head, vocab] table
        // is 180 MB for a 22-layer, 32-head, 32k-vocabulary model and grows with 256k vocabularies.
        private readonly int[] _slotOf;                    // token id → row of _mass, −1 before the id is seen
        private readonly List<int> _slotToken = [];
        private readonly List<double[]> _mass = [];        // per seen token: [layer × heads + head]
        private readonly int[] _tokenCount;
        private int _sequences;

        /// <summary>Creates an accumulator for patterns of [heads, tokens, tokens] in each layer; with
        /// <paramref name="learnedSink"/> (models with a sink logit, e.g. gpt-oss) it also measures, per head, the mean
        /// mass the sink logit takes from a query's row: 1 − Σ_k A[t,k], the part of the softmax no key receives.</summary>
        public Accumulator(int layers, int heads, int tokens, int vocab, bool learnedSink = false)
        {
            if (learnedSink) _learnedSink = new double[layers, heads];
            _layers = layers; _heads = heads; _tokens = tokens; _vocab = vocab;
            _alphaFirst = new double[layers, heads];
            _entropy = new double[layers, heads];
            _alphaPos = new double[layers, heads, tokens];
            _slotOf = new int[vocab];
            Array.Fill(_slotOf, -1);
            _tokenCount = new int[vocab];
        }

        /// <summary>Adds one sequence: its token ids and, per layer, its pattern [heads, T, T].</summary>
        public void Add(ReadOnlySpan<int> ids, Func<int, float[]> patternOfLayer)
        {
            int T = _tokens;
            if (ids.Length != T) throw new ArgumentException($"expected {T} tokens, got {ids.Length}", nameof(ids));
            Span<int> slots = T <= 4096 ? stackalloc int[T] : new int[T];
            for (int k = 1; k < T; k++)
            {
                int id = ids[k];
                _tokenCount[id]++;
                if (_slotOf[id] < 0)
                {
                    _slotOf[id] = _slotToken.Count;
                    _slotToken.Add(id);
                    _mass.Add(new double[_layers * _heads]);
                }
                slots[k] = _slotOf[id];
            }
            for (int l = 0; l < _layers; l++)
            {
                float[] a = patternOfLayer(l);
                for (int h = 0; h < _heads; h++)
                {
                    int b = h * T * T;
                    for (int k = 0; k < T; k++)
                    {
                        double s = 0;
                        for (int t = k; t < T; t++) s += a[b + t * T + k];
                        double alpha = s / (T - k);
                        _alphaPos[l, h, k] += alpha;
                        if (k == 0) _alphaFirst[l, h] += alpha;
                        else _mass[slots[k]][l * _heads + h] += alpha;
                    }
                    double ent = 0;
                    for (int t = 1; t < T; t++)
                        for (int k = 0; k <= t; k++)
                        {
                            double p = a[b + t * T + k];
                            if (p > 0) ent -= p * Math.Log(p);
                        }
                    _entropy[l, h] += ent / (T - 1);
                    if (_learnedSink != null)
                    {
                        double kept = 0;
                        for (int t = 0; t < T; t++)
                            for (int k = 0; k <= t; k++) kept += a[b + t * T + k];
                        _learnedSink[l, h] += 1 - kept / T;
                    }
                }
            }
            _sequences++;
        }

        /// <summary>The report over everything added.</summary>
        public SinkReport Build(IReadOnlyList<double> epsilons, ITokenizer tokenizer)
        {
            if (_sequences == 0) throw new InvalidOperationException("no sequences were added");
            double n = _sequences;
            var alpha = new double[_layers][];
            var entropy = new double[_layers][];
            var top = new HeadTopKey[_layers][];
            var byPos = new double[_tokens];
            int[] bySlotToken = Enumerable.Range(0, _slotToken.Count).OrderBy(slot => _slotToken[slot]).ToArray();
            for (int l = 0; l < _layers; l++)
            {
                alpha[l] = new double[_heads];
                entropy[l] = new double[_heads];
                top[l] = new HeadTopKey[_heads];
                for (int h = 0; h < _heads; h++)
                {
                    alpha[l][h] = _alphaFirst[l, h] / n;
                    entropy[l][h] = _entropy[l, h] / n;
                    // The top key is searched among the first half of the positions, so that each α_k compared is a
                    // mean over at least T/2 queries (α of the last key is a single self-attention value).
                    int bestK = 0;
                    for (int k = 0; k < _tokens; k++)
                    {
                        byPos[k] += _alphaPos[l, h, k] / n / (_layers * _heads);
                        if (k < _tokens / 2 && _alphaPos[l, h, k] > _alphaPos[l, h, bestK]) bestK = k;
                    }
                    int bestTok = -1;
                    double bestTokAlpha = 0;
                    foreach (int slot in bySlotToken)   // ascending token ids: the first of equal maxima wins, as before
                    {
                        int v = _slotToken[slot];
                        if (_tokenCount[v] < 5) continue;   // too rare to call a sink
                        double m = _mass[slot][l * _heads + h] / _tokenCount[v];
                        if (m > bestTokAlpha) { bestTokAlpha = m; bestTok = v; }
                    }
                    top[l][h] = new HeadTopKey(bestK, _alphaPos[l, h, bestK] / n, bestTok,
                        bestTok >= 0 ? tokenizer.TokenText(bestTok) : "", bestTokAlpha);
                }
            }
            double[][]? learned = _learnedSink == null ? null
                : [.. Enumerable.Range(0, _layers).Select(l => Enumerable.Range(0, _heads).Select(h => _learnedSink[l, h] / n).ToArray())];
            return new SinkReport(_sequences, _tokens, alpha, Rates(alpha, epsilons), entropy, top, byPos, learned);
        }
    }

    /// <summary>Share of (layer, head) pairs whose α_first exceeds each ε.</summary>
    public static Dictionary<string, double> Rates(double[][] alphaFirst, IReadOnlyList<double> epsilons)
    {
        ArgumentNullException.ThrowIfNull(alphaFirst);
        ArgumentNullException.ThrowIfNull(epsilons);
        int pairs = alphaFirst.Sum(r => r.Length);
        var rates = new Dictionary<string, double>();
        foreach (double eps in epsilons)
        {
            if (!(eps > 0 && eps < 1)) throw new ArgumentOutOfRangeException(nameof(epsilons), eps, "ε must be in (0, 1)");
            rates[Key(eps)] = pairs == 0 ? 0 : alphaFirst.Sum(r => r.Count(a => a > eps)) / (double)pairs;
        }
        return rates;
    }

    /// <summary>Whether the model's attention has a learned (or fixed) extra logit per row that takes mass without a key:
    /// sink-logit models such as gpt-oss, and softmax-off-by-one.</summary>
    public static bool HasLearnedSink(Models.ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.Attention is Models.AttentionVariant.SinkLogit or Models.AttentionVariant.Softmax1;
    }

    /// <summary>Runs every sequence and accumulates its patterns.</summary>
    public static SinkReport Measure(InferenceSession session, IReadOnlyList<int[]> sequences, IReadOnlyList<double> epsilons)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(sequences);
        var c = session.Model.Config;
        var acc = new Accumulator(c.Layers, c.Heads, sequences[0].Length, c.VocabSize, HasLearnedSink(c));
        foreach (int[] ids in sequences)
        {
            ActivationCache cache = session.RunWithCache(ids, n => n.EndsWith("hook_pattern", StringComparison.Ordinal));
            acc.Add(ids, l => cache[HookPoint.Pattern, l].Data);
        }
        return acc.Build(epsilons, session.Model.Tokenizer);
    }
}

using SinkLab.Hooks;
using SinkLab.Models;

namespace SinkLab.Analysis;

/// <summary>A channel that carries large activations at one point of one layer.</summary>
/// <param name="Channel">Channel index.</param>
/// <param name="MaxAbs">Its largest |x| over the corpus.</param>
/// <param name="ShareOfTokenMaxima">Share of tokens whose largest |x| sits in this channel.</param>
public sealed record OutlierChannel(int Channel, double MaxAbs, double ShareOfTokenMaxima);

/// <summary>A position whose tokens carry large activations.</summary>
/// <param name="Position">Position in the sequence (0 = BOS).</param>
/// <param name="MeanTokenMax">Mean over sequences of the token's largest |x| at this position.</param>
/// <param name="Ratio">That mean over the median of all tokens' largest |x|.</param>
public sealed record OutlierToken(int Position, double MeanTokenMax, double Ratio);

/// <summary>Outlier statistics of one hook point in one layer (docs/metrics.md, "Activation outliers").</summary>
/// <param name="Point">resid (the residual stream after the block), attn_in, ffn_in or ffn_hidden.</param>
/// <param name="Hook">The hook it is read at.</param>
/// <param name="MaxAbs">Largest |x|.</param>
/// <param name="Sequence">Where it is: sequence,</param>
/// <param name="Position">position,</param>
/// <param name="Channel">and channel.</param>
/// <param name="Median">Median |x| over all values (to 0.4 %).</param>
/// <param name="Ratio">Top-1 / median: MaxAbs / Median.</param>
/// <param name="Kurtosis">Pearson kurtosis E[(x−μ)⁴]/σ⁴ over all values (3 for a Gaussian).</param>
/// <param name="MedianTokenMax">Median over tokens of the token's largest |x|.</param>
/// <param name="TokenMaxByPosition">Mean over sequences of the token's largest |x|, per position.</param>
/// <param name="Channels">The five channels with the largest |x|.</param>
/// <param name="Tokens">The five positions with the largest mean token maximum.</param>
public sealed record OutlierPoint(string Point, string Hook, double MaxAbs, int Sequence, int Position, int Channel, double Median, double Ratio,
    double Kurtosis, double MedianTokenMax, double[] TokenMaxByPosition, OutlierChannel[] Channels, OutlierToken[] Tokens);

/// <summary>Outlier statistics of one layer.</summary>
/// <param name="Layer">Layer.</param>
/// <param name="Points">One entry per point.</param>
public sealed record OutlierLayer(int Layer, OutlierPoint[] Points);

/// <summary>
/// Activation outliers per layer (Sun et al. 2024; Dettmers et al. 2022; Son et al. 2024): at the residual stream
/// (<c>hook_resid_post</c>), the attention input, the FFN input and the FFN's hidden activation, the largest |x| and
/// where it sits, top-1/median ratio, kurtosis, each token's largest |x| by position, and the channels and positions
/// that carry the outliers. One pass over the sequences, memory independent of their number except the token maxima
/// (one float per token and point).
/// </summary>
public sealed class OutlierStatistics
{
    private readonly ModelConfig _c;
    private readonly (string Name, HookPoint Point)[] _points;
    private readonly Acc[,] _acc;
    private readonly int _tokens;

    /// <summary>Creates the accumulators for sequences of <paramref name="tokens"/> tokens.</summary>
    public OutlierStatistics(ModelConfig config, int tokens)
    {
        ArgumentNullException.ThrowIfNull(config);
        _c = config;
        _tokens = tokens;
        HookPoint[] q = ActivationQuantization.Points(config);   // [attn input, z, ffn input, ffn hidden]
        _points = [("resid", HookPoint.ResidPost), ("attn_in", q[0]), ("ffn_in", ActivationQuantization.FfnInput(q)),
            .. q.Contains(HookPoint.MlpPost) ? [("ffn_hidden", HookPoint.MlpPost)] : Array.Empty<(string, HookPoint)>()];
        _acc = new Acc[config.Layers, _points.Length];
        for (int l = 0; l < config.Layers; l++)
            for (int p = 0; p < _points.Length; p++)
                _acc[l, p] = new Acc(_points[p].Point == HookPoint.MlpPost ? config.HiddenDim : config.Dim, tokens);
    }

    /// <summary>The hook names this analysis reads.</summary>
    public IEnumerable<string> HookNamesRead() =>
        Enumerable.Range(0, _c.Layers).SelectMany(l => _points.Select(p => Hooks.HookNames.Name(p.Point, l))).Distinct();

    /// <summary>Adds one sequence: <paramref name="get"/> returns the captured [tokens, width] data of a point and layer.</summary>
    public void Add(int sequence, Func<HookPoint, int, float[]> get)
    {
        ArgumentNullException.ThrowIfNull(get);
        for (int l = 0; l < _c.Layers; l++)
            for (int p = 0; p < _points.Length; p++)
                _acc[l, p].Add(sequence, get(_points[p].Point, l));
    }

    /// <summary>One record per layer.</summary>
    public OutlierLayer[] Build() =>
        Enumerable.Range(0, _c.Layers).Select(l => new OutlierLayer(l,
            Enumerable.Range(0, _points.Length).Select(p => _acc[l, p].Build(_points[p].Name, Hooks.HookNames.Name(_points[p].Point, l))).ToArray())).ToArray();

    /// <summary>Statistics of one [tokens, width] tensor on its own (the known-answer tests use this).</summary>
    public static OutlierPoint Of(string name, float[] data, int width)
    {
        ArgumentNullException.ThrowIfNull(data);
        var a = new Acc(width, data.Length / width);
        a.Add(0, data);
        return a.Build(name, name);
    }

    private sealed class Acc(int width, int tokens)
    {
        private readonly MedianHistogram _median = new();
        private readonly float[] _channelMax = new float[width];
        private readonly long[] _channelArgmax = new long[width];
        private readonly List<float> _tokenMax = [];
        private readonly double[] _byPosition = new double[tokens];
        private readonly int[] _perPosition = new int[tokens];
        private double _s1, _s2, _s3, _s4;
        private long _n;
        private float _max = -1;
        private int _seq, _pos, _ch;

        public void Add(int sequence, float[] data)
        {
            int rows = data.Length / width;
            for (int t = 0; t < rows; t++)
            {
                float tokenMax = -1;
                int arg = 0;
                for (int c = 0; c < width; c++)
                {
                    float v = data[t * width + c], a = Math.Abs(v);
                    _median.Add(a);
                    double d = v, d2 = d * d;
                    _s1 += d; _s2 += d2; _s3 += d2 * d; _s4 += d2 * d2;
                    if (a > _channelMax[c]) _channelMax[c] = a;
                    if (a > tokenMax) { tokenMax = a; arg = c; }
                }
                _n += width;
                _channelArgmax[arg]++;
                _tokenMax.Add(tokenMax);
                if (t < _byPosition.Length) { _byPosition[t] += tokenMax; _perPosition[t]++; }
                if (tokenMax > _max) { _max = tokenMax; _seq = sequence; _pos = t; _ch = arg; }
            }
        }

        public OutlierPoint Build(string name, string hook)
        {
            double median = _median.Median();
            double mu = _n > 0 ? _s1 / _n : 0, e2 = _n > 0 ? _s2 / _n : 0, e3 = _n > 0 ? _s3 / _n : 0, e4 = _n > 0 ? _s4 / _n : 0;
            double m2 = e2 - mu * mu, m4 = e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu * mu * mu * mu;
            double kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0;
            float[] sorted = [.. _tokenMax];
            Array.Sort(sorted);
            double medianTokenMax = sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
            double[] byPos = _byPosition.Select((s, i) => _perPosition[i] > 0 ? s / _perPosition[i] : 0).ToArray();
            long tokens = Math.Max(1, _tokenMax.Count);
            OutlierChannel[] channels = Enumerable.Range(0, width).OrderByDescending(c => _channelMax[c]).ThenBy(c => c).Take(5)
                .Select(c => new OutlierChannel(c, _channelMax[c], (double)_channelArgmax[c] / tokens)).ToArray();
            OutlierToken[] top = Enumerable.Range(0, byPos.Length).Where(i => _perPosition[i] > 0).OrderByDescending(i => byPos[i]).ThenBy(i => i).Take(5)
                .Select(i => new OutlierToken(i, byPos[i], medianTokenMax > 0 ? byPos[i] / medianTokenMax : double.PositiveInfinity)).ToArray();
            return new OutlierPoint(name, hook, Math.Max(0, _max), _seq, _pos, _ch, median, median > 0 ? _max / median : double.PositiveInfinity,
                kurtosis, medianTokenMax, byPos, channels, top);
        }
    }
}

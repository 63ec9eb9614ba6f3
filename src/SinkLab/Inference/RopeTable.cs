using SinkLab.Models;

namespace SinkLab.Inference;

/// <summary>The cos/sin of one RoPE configuration for the tokens of a chunk: at each token's stream position, and
/// (once a cache has re-indexed) at its in-cache position for the query copy that scores pinned keys. Layers that share
/// a configuration share a table (Gemma 3 has two: local and global).</summary>
internal sealed class RopeTable
{
    private readonly double[] _invFreq;
    private readonly double _magnitude = 1;

    public RopeTable(RopeConfig config, int ropeDim, float[]? freqFactors, int batch, bool pinned)
    {
        Config = config;
        int half = ropeDim / 2;
        _invFreq = new double[half];
        (double low, double high) = config.Yarn?.CorrectionRange(ropeDim, config.Base) ?? (0, 0);
        for (int i = 0; i < half; i++)
        {
            double f = Math.Pow(config.Base, -2.0 * i / ropeDim) * config.FreqScale;
            if (freqFactors != null) f /= freqFactors[i];
            if (config.Yarn is { } yarn)
            {
                double r = 1 - Math.Clamp((i - low) / Math.Max(0.001, high - low), 0, 1);   // 1: keep, 0: interpolate
                f *= (1 - r) / yarn.Factor + r;
            }
            _invFreq[i] = f;
        }
        if (config.Yarn is { } y) _magnitude = y.Magnitude;
        Cos = new float[batch * half];
        Sin = new float[batch * half];
        PinCos = new float[pinned ? batch * half : 0];
        PinSin = new float[pinned ? batch * half : 0];
    }

    public RopeConfig Config { get; }
    /// <summary>[token][pair]: angles at stream positions.</summary>
    public float[] Cos { get; }
    public float[] Sin { get; }
    /// <summary>[token][pair]: angles at in-cache query positions (for pinned keys).</summary>
    public float[] PinCos { get; }
    public float[] PinSin { get; }

    /// <summary>cos/sin of position · θ_i for each rotated pair i, into row <paramref name="t"/> of the stream or pinned table.</summary>
    public void Set(int t, long position, bool pinned)
    {
        int half = _invFreq.Length;
        Span<float> cos = (pinned ? PinCos : Cos).AsSpan(t * half, half), sin = (pinned ? PinSin : Sin).AsSpan(t * half, half);
        for (int i = 0; i < half; i++)
        {
            double theta = position * _invFreq[i];
            cos[i] = (float)(Math.Cos(theta) * _magnitude);
            sin[i] = (float)(Math.Sin(theta) * _magnitude);
        }
    }
}

using SinkLab.Models;

namespace SinkLab.Hooks;

/// <summary>How activations are fake-quantized (<c>--act-quant</c>).</summary>
public enum ActQuantMode
{
    /// <summary>Float activations.</summary>
    None,
    /// <summary>One scale per tensor (hook point and layer), fixed beforehand from the largest |x| on a calibration set.</summary>
    Static,
    /// <summary>One scale per token and tensor, from that token's largest |x| (dynamic).</summary>
    Token,
}

/// <summary>
/// Simulated (fake) activation quantization, as W8A8 studies apply it (docs/metrics.md, "Simulated activation
/// quantization"): the inputs of the linear layers — the attention input (<c>ln1.hook_normalized</c>), the heads'
/// output before the output projection (<c>attn.hook_z</c>), the MLP input (<c>ln2.hook_normalized</c>) and the MLP's
/// hidden activation (<c>mlp.hook_post</c>) — are rounded in place to b-bit integers times a scale:
/// x̂ = s · clamp(round(x / s), −q, q), q = 2^(b−1) − 1, round half to even, s = max|x| / q over the tensor
/// (static, calibrated) or over the token's row (dynamic). Weights stay as the file has them. Runs through hooks, so
/// the same forward pass computes everything downstream from the rounded values.
/// </summary>
public static class ActivationQuantization
{
    /// <summary>Smallest and largest bit width.</summary>
    public const int MinBits = 2, MaxBits = 16;

    /// <summary>Of <see cref="Points"/>, the one that feeds the MLP (its pre-norm output, the mid-block residual, or the
    /// block input where attention and MLP share it).</summary>
    public static HookPoint FfnInput(HookPoint[] points)
    {
        ArgumentNullException.ThrowIfNull(points);
        return points.FirstOrDefault(p => p is HookPoint.Ln2 or HookPoint.ResidMid, points[0]);
    }

    /// <summary>The points quantized on a model of <paramref name="config"/>: linear-layer inputs it emits (models
    /// without pre-norms quantize the residual stream that feeds attention and MLP instead); mixture-of-experts models
    /// have no MLP hidden point (the experts' down projections keep float inputs).</summary>
    public static HookPoint[] Points(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var names = new HashSet<string>(HookNames.For(config), StringComparer.Ordinal);
        var points = new List<HookPoint>();
        points.Add(names.Contains(HookNames.Name(HookPoint.Ln1, 0)) ? HookPoint.Ln1 : HookPoint.ResidPre);
        points.Add(HookPoint.Z);
        if (names.Contains(HookNames.Name(HookPoint.Ln2, 0))) points.Add(HookPoint.Ln2);
        else if (names.Contains(HookNames.Name(HookPoint.ResidMid, 0))) points.Add(HookPoint.ResidMid);
        if (names.Contains(HookNames.Name(HookPoint.MlpPost, 0))) points.Add(HookPoint.MlpPost);   // a mixture of experts has no one hidden layer
        return [.. points];
    }

    /// <summary>q = 2^(b−1) − 1 for a bit width b in [2, 16].</summary>
    /// <exception cref="ArgumentOutOfRangeException">b outside [2, 16].</exception>
    public static int QMax(int bits) => bits is >= MinBits and <= MaxBits
        ? (1 << (bits - 1)) - 1
        : throw new ArgumentOutOfRangeException("--act-bits", bits, $"the bit width must lie in [{MinBits}, {MaxBits}]");

    /// <summary>x ← s · clamp(round(x / s), −q, q) in place; a scale ≤ 0 (an all-zero tensor) leaves x alone.</summary>
    public static void FakeQuantize(Span<float> x, float scale, int qmax)
    {
        if (!(scale > 0)) return;
        float inv = 1f / scale;
        for (int i = 0; i < x.Length; i++)
            x[i] = Math.Clamp(MathF.Round(x[i] * inv, MidpointRounding.ToEven), -qmax, qmax) * scale;
    }

    /// <summary>Largest |x| of a span (0 when empty).</summary>
    public static float MaxAbs(ReadOnlySpan<float> x)
    {
        float m = 0;
        foreach (float v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }

    /// <summary>Per-token dynamic quantization: every row of the tensor (one token: the first shape axis) with its own
    /// scale max|row| / q.</summary>
    public static HookSet Dynamic(ModelConfig config, int bits)
    {
        int qmax = QMax(bits);
        var set = new HookSet();
        foreach (HookPoint p in Points(config))
            set.AddAllLayers(p, config.Layers, (in HookEvent e) =>
            {
                int rows = e.Shape[0], width = e.Data.Length / Math.Max(1, rows);
                for (int t = 0; t < rows; t++)
                {
                    Span<float> row = e.Data.Slice(t * width, width);
                    FakeQuantize(row, MaxAbs(row) / qmax, qmax);
                }
            });
        return set;
    }

    /// <summary>Per-tensor static quantization with the calibrated maxima: scale max|x|_calibration / q per point and
    /// layer; values beyond the calibrated range clip.</summary>
    public static HookSet Static(ModelConfig config, ActCalibration calibration, int bits)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        int qmax = QMax(bits);
        var set = new HookSet();
        foreach (HookPoint p in Points(config))
            for (int l = 0; l < config.Layers; l++)
            {
                float scale = calibration.Max(p, l) / qmax;
                set.Add(p, l, (in HookEvent e) => FakeQuantize(e.Data, scale, qmax));
            }
        return set;
    }

    /// <summary>The quantization <paramref name="mode"/> asks for (null for <see cref="ActQuantMode.None"/>).</summary>
    /// <exception cref="ArgumentException">Static without a calibration.</exception>
    public static HookSet? For(ActQuantMode mode, ModelConfig config, int bits, ActCalibration? calibration) => mode switch
    {
        ActQuantMode.None => null,
        ActQuantMode.Token => Dynamic(config, bits),
        ActQuantMode.Static => Static(config, calibration ?? throw new ArgumentException("static activation quantization needs a calibration set", "--calib"), bits),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Parses <c>none</c>, <c>static</c> (alias <c>tensor</c>) or <c>token</c> (alias <c>dynamic</c>).</summary>
    public static ActQuantMode ParseMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" or "off" => ActQuantMode.None,
        "static" or "tensor" => ActQuantMode.Static,
        "token" or "dynamic" => ActQuantMode.Token,
        _ => throw new ArgumentException($"unknown activation quantization '{text}' (known: none, static, token)", "--act-quant"),
    };
}

/// <summary>Largest |x| seen at each quantized point and layer over a calibration set; the hooks of
/// <see cref="Recorder"/> fill it (tokens of a session's prefix are never seen: the prefix is computed before hooks
/// attach).</summary>
public sealed class ActCalibration
{
    private readonly Dictionary<(HookPoint, int), float> _max = [];

    /// <summary>Tokens the maxima were taken over.</summary>
    public long Tokens { get; private set; }

    /// <summary>The calibrated max |x| of (point, layer); 0 when never seen.</summary>
    public float Max(HookPoint point, int layer) => _max.TryGetValue((point, layer), out float m) ? m : 0f;

    /// <summary>Every (hook name, max |x|).</summary>
    public IReadOnlyDictionary<string, float> ByName => _max.ToDictionary(kv => HookNames.Name(kv.Key.Item1, kv.Key.Item2), kv => kv.Value);

    /// <summary>Hooks that record the maxima of <see cref="ActivationQuantization.Points"/> (not thread-safe: one
    /// session at a time).</summary>
    public HookSet Recorder(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var set = new HookSet();
        HookPoint[] points = ActivationQuantization.Points(config);
        foreach (HookPoint p in points)
            set.AddAllLayers(p, config.Layers, (in HookEvent e) =>
            {
                var key = (e.Point, e.Layer);
                _max[key] = Math.Max(Max(e.Point, e.Layer), ActivationQuantization.MaxAbs(e.Data));
                if (e.Point == points[0] && e.Layer == 0) Tokens += e.Shape[0];
            });
        return set;
    }
}

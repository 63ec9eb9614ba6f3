namespace SinkLab.Analysis;

#pragma warning disable CS1591 // record members are documented in docs/metrics.md, one section per analysis

/// <summary>Sink scores (Gu et al. 2025 §3.2), top keys and attention entropy over a set of sequences.</summary>
public sealed record SinkReport(
    int Sequences, int Tokens,
    double[][] AlphaFirst,
    Dictionary<string, double> SinkRate,
    double[][] Entropy,
    HeadTopKey[][] TopKeys,
    double[] AlphaByPosition,
    double[][]? LearnedSinkMass = null);

/// <summary>For one head: the key position with the highest α_k among the first T/2 positions, and the token
/// (first position excluded, at least 5 occurrences) that receives the most attention per occurrence.</summary>
public sealed record HeadTopKey(int Position, double Alpha, int TokenId, string TokenText, double TokenAlpha);

/// <summary>Massive activations of one layer's residual stream (Sun et al. 2024).</summary>
public sealed record MassiveLayer(int Layer, MassiveValue[] Top, double Median, double TopRatio, bool Over100, bool Over1000);

/// <summary>One large residual value: where it is and how it compares with the layer's median |h|.</summary>
public sealed record MassiveValue(int Sequence, int Position, int Channel, double Value, double Ratio);

/// <summary>Norms of the first token's key and value against the others, and query–key alignment, per layer.</summary>
public sealed record MechanicsLayer(int Layer, double[] KeyNormFirst, double[] KeyNormOthers, double[] ValueNormFirst,
    double[] ValueNormOthers, double[] CosQueryFirstKey, double[] CosQueryOtherKeys);

/// <summary>Spread of a perturbation of one input embedding through the layers (Barbero et al. 2025).</summary>
public sealed record SensitivityCurve(string Variant, double[] ByLayer, double[] ByDistance, double JacobianNorm);

/// <summary>Sensitivity with the sink intact and removed (first token dropped; attention to key 0 masked).</summary>
public sealed record SensitivityReport(int Position, double Delta, int Sequences, int Seeds, SensitivityCurve[] Curves,
    double RatioDroppedToIntact, double RatioMaskedToIntact, string JacobianMethod);

/// <summary>Representation collapse per layer, with the sink and without it (first token dropped).</summary>
public sealed record CollapseReport(double[] MeanCosineWithSink, double[] MeanCosineWithoutSink,
    double[] CenteredNormWithSink, double[] CenteredNormWithoutSink);

/// <summary>Mean NLL and sink statistics of the model with BOS, without it, and with another first token.</summary>
public sealed record BosAblationRow(string Variant, string FirstToken, double MeanNll, Dictionary<string, double> SinkRate, double MeanAlphaFirst);

#pragma warning restore CS1591

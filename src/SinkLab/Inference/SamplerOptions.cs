namespace SinkLab.Inference;

/// <summary>
/// Sampling settings, applied in llama.cpp's order: repetition penalty, top-k, top-p, min-p, temperature, draw.
/// Temperature 0 means greedy (argmax, lowest id on ties).
/// </summary>
public sealed record SamplerOptions
{
    /// <summary>Softmax temperature; 0 = greedy.</summary>
    public float Temperature { get; init; }
    /// <summary>Keep the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set whose probability reaches p (1 = off).</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Drop tokens less likely than min-p × the most likely one (0 = off).</summary>
    public float MinP { get; init; }
    /// <summary>Penalty for tokens seen in the last <see cref="RepeatLastN"/> (1 = off): positive logits are
    /// divided by it, negative ones multiplied.</summary>
    public float RepeatPenalty { get; init; } = 1f;
    /// <summary>Window of the repetition penalty.</summary>
    public int RepeatLastN { get; init; } = 64;
    /// <summary>Seed of the random draw.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Checks ranges.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be ≥ 0");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be ≥ 0");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1]");
        if (!(MinP >= 0 && MinP < 1)) throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "min-p must be in [0, 1)");
        if (!(RepeatPenalty > 0) || float.IsInfinity(RepeatPenalty)) throw new ArgumentOutOfRangeException(nameof(RepeatPenalty), RepeatPenalty, "repeat penalty must be > 0");
        if (RepeatLastN < 0) throw new ArgumentOutOfRangeException(nameof(RepeatLastN), RepeatLastN, "repeat-last-n must be ≥ 0");
    }
}

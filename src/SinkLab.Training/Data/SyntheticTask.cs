namespace SinkLab.Training.Data;

/// <summary>
/// "bigram-copy": a task in which most tokens are predictable from the previous token alone (a fixed random bigram
/// table, followed 90 % of the time), so attention heads have nothing to do most of the time — the condition under
/// which sinks form quickly — while a COPY marker, every so often, asks for the token <see cref="Distance"/> places
/// back, which needs attention. Symbols 3 .. 3 + <see cref="Symbols"/> − 1; COPY is the last id.
/// </summary>
public sealed class SyntheticTask
{
    private readonly int[] _next;

    /// <summary>Creates the task; the bigram table is fixed by <paramref name="seed"/>.</summary>
    public SyntheticTask(int symbols = 32, int distance = 8, double copyRate = 0.12, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(symbols, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(distance, 1);
        Symbols = symbols; Distance = distance; CopyRate = copyRate;
        var rng = new Random(seed);
        _next = Enumerable.Range(0, symbols).Select(_ => 3 + rng.Next(symbols)).ToArray();
    }

    /// <summary>Content symbols.</summary>
    public int Symbols { get; }
    /// <summary>How far back COPY looks.</summary>
    public int Distance { get; }
    /// <summary>Probability of a COPY marker at a position.</summary>
    public double CopyRate { get; }
    /// <summary>Vocabulary size: 3 specials, the symbols, COPY.</summary>
    public int Vocab => 3 + Symbols + 1;
    /// <summary>Id of the COPY marker.</summary>
    public int Copy => Vocab - 1;

    /// <summary>Fills <paramref name="window"/>: BOS (id 1) first unless <paramref name="withBos"/> is false.</summary>
    public void Generate(Random rng, int[] window, bool withBos = true)
    {
        ArgumentNullException.ThrowIfNull(window);
        int start = 0;
        if (withBos) window[start++] = 1;
        for (int i = start; i < window.Length; i++)
        {
            int prev = i > 0 ? window[i - 1] : -1;
            if (prev == Copy) window[i] = i - 1 - Distance >= 0 && window[i - 1 - Distance] is int c && c >= 3 && c != Copy ? c : 3;
            else if (i - start >= Distance && rng.NextDouble() < CopyRate) window[i] = Copy;
            else if (prev >= 3 && prev != Copy && rng.NextDouble() < 0.9) window[i] = _next[prev - 3];
            else window[i] = 3 + rng.Next(Symbols);
        }
    }
}

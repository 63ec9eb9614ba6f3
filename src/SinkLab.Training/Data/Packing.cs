namespace SinkLab.Training.Data;

/// <summary>How documents are laid into training windows.</summary>
public enum Packing
{
    /// <summary>Documents concatenated, each preceded by BOS; windows cut anywhere, attention causal across documents.</summary>
    BosPerDoc,
    /// <summary>As <see cref="BosPerDoc"/>, but a token attends only within its own document.</summary>
    BosPerDocMasked,
    /// <summary>Documents concatenated with no BOS at all.</summary>
    NoBos,
    /// <summary>No BOS between documents; BOS fixed at position 0 of every window.</summary>
    BosAtWindowStart,
    /// <summary>No BOS; position 0 of every window holds a random token.</summary>
    RandomFirst,
    /// <summary>A dedicated learned sink token (an extra vocabulary entry) at position 0 of every window (StreamingLLM).</summary>
    SinkToken,
}

/// <summary>Config names of <see cref="Packing"/>.</summary>
public static class PackingNames
{
    private static readonly (string Name, Packing Value)[] Table =
    [
        ("bos-per-doc", Packing.BosPerDoc), ("bos-per-doc-masked", Packing.BosPerDocMasked), ("no-bos", Packing.NoBos),
        ("bos-at-window-start", Packing.BosAtWindowStart), ("random-first", Packing.RandomFirst), ("sink-token", Packing.SinkToken),
    ];

    /// <summary>Parses a name.</summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known ones).</exception>
    public static Packing Parse(string name)
    {
        foreach (var (n, v) in Table) if (n == name) return v;
        throw new ArgumentException($"data.packing: unknown packing '{name}' (known: {string.Join(", ", Table.Select(t => t.Name))})");
    }

    /// <summary>The config name of a value.</summary>
    public static string Name(Packing p) => Table.First(t => t.Value == p).Name;
}

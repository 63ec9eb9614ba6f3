namespace SinkLab.Training.Data;

/// <summary>
/// "bigram-recall": a synthetic language in which attention is needed only now and then, the condition under which
/// heads learn a "do nothing" default and sinks form (Gu et al. 2025; Barbero et al. 2025). Most tokens follow a fixed
/// random bigram table (90 % of the time); now and then a tagged token "m{j}v{v}" stores value v under key j, and a
/// query token "q{j}" later asks for the value last stored under j, which must be the next token. A head that
/// retrieves values helps only after queries; anywhere else, whatever it attends to is noise, unless it can attend
/// to a token that carries nothing.
/// Ids: 0-2 specials, then <see cref="Symbols"/> content symbols, then keys × values tagged tokens, then the queries.
/// </summary>
public sealed class SyntheticTask
{
    private readonly int[] _next;

    /// <summary>Creates the task; the bigram table is fixed by <paramref name="seed"/>.</summary>
    public SyntheticTask(int symbols = 24, int keys = 4, int values = 8, double storeRate = 0.08, double queryRate = 0.06, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(symbols, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(keys, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(values, 1);
        Symbols = symbols; Keys = keys; Values = values; StoreRate = storeRate; QueryRate = queryRate;
        var rng = new Random(seed);
        _next = Enumerable.Range(0, symbols).Select(_ => rng.Next(symbols)).ToArray();
    }

    /// <summary>Content symbols.</summary>
    public int Symbols { get; }
    /// <summary>Memory keys j.</summary>
    public int Keys { get; }
    /// <summary>Values v per key.</summary>
    public int Values { get; }
    /// <summary>Probability of a store token at a position.</summary>
    public double StoreRate { get; }
    /// <summary>Probability of a query at a position (when something is stored).</summary>
    public double QueryRate { get; }
    /// <summary>Vocabulary size.</summary>
    public int Vocab => 3 + Symbols + Keys * Values + Keys;

    private int Content(int s) => 3 + s;
    private int Store(int key, int value) => 3 + Symbols + key * Values + value;
    private int Query(int key) => 3 + Symbols + Keys * Values + key;

    /// <summary>Token texts for the vocabulary: symbols "a0".., stores "m{j}v{v}", queries "q{j}".</summary>
    public string Text(int id) => id switch
    {
        < 3 => id switch { 0 => "<unk>", 1 => "<s>", _ => "</s>" },
        _ when id < 3 + Symbols => $"a{id - 3}",
        _ when id < 3 + Symbols + Keys * Values => $"m{(id - 3 - Symbols) / Values}v{(id - 3 - Symbols) % Values}",
        _ => $"q{id - 3 - Symbols - Keys * Values}",
    };

    /// <summary>Fills <paramref name="window"/>: BOS (id 1) first unless <paramref name="withBos"/> is false.</summary>
    public void Generate(Random rng, int[] window, bool withBos = true)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(window);
        var memory = new int[Keys];
        Array.Fill(memory, -1);
        int start = 0, lastContent = rng.Next(Symbols), pendingAnswer = -1;
        if (withBos) window[start++] = 1;
        for (int i = start; i < window.Length; i++)
        {
            if (pendingAnswer >= 0) { window[i] = Content(pendingAnswer); lastContent = pendingAnswer; pendingAnswer = -1; continue; }
            double u = rng.NextDouble();
            int stored = Array.FindIndex(memory, m => m >= 0);
            if (u < StoreRate)
            {
                int j = rng.Next(Keys), v = rng.Next(Values);
                memory[j] = v;
                window[i] = Store(j, v);
            }
            else if (u < StoreRate + QueryRate && stored >= 0)
            {
                int j;
                do j = rng.Next(Keys); while (memory[j] < 0);
                window[i] = Query(j);
                pendingAnswer = memory[j] % Symbols;   // the answer is content symbol v
            }
            else
            {
                int s = rng.NextDouble() < 0.9 ? _next[lastContent] : rng.Next(Symbols);
                window[i] = Content(s);
                lastContent = s;
            }
        }
    }
}

using System.Globalization;
using SinkLab.Gguf;

namespace SinkLab.Evaluation;

/// <summary>
/// "bigram-recall": a synthetic language in which attention is needed only now and then, the condition under which
/// heads learn a "do nothing" default and sinks form (Gu et al. 2025; Barbero et al. 2025). Most tokens follow a fixed
/// random bigram table (90 % of the time); now and then a tagged token "m{j}v{v}" stores value v under key j, and a
/// query token "q{j}" later asks for the value last stored under j, which must be the next token. A head that
/// retrieves values helps only after queries; anywhere else, whatever it attends to is noise, unless it can attend
/// to a token that carries nothing.
/// Ids: 0-2 specials, then <see cref="Symbols"/> content symbols, then keys × values tagged tokens, then the queries.
/// It lives in the engine so that a model trained on it carries the task in its GGUF (<see cref="WriteTo"/>) and the
/// fact-recall test (<see cref="FactRecall"/>) can generate the same language around the facts it plants.
/// </summary>
public sealed class SyntheticTask
{
    private readonly int[] _next;

    /// <summary>Creates the task; the bigram table is fixed by <paramref name="seed"/>.</summary>
    /// <exception cref="ArgumentException">Fewer than 2 symbols, no key or value, more values than symbols, or rates
    /// outside [0, 1] that sum above 1.</exception>
    public SyntheticTask(int symbols = 24, int keys = 4, int values = 8, double storeRate = 0.08, double queryRate = 0.06, int seed = 1)
    {
        if (symbols < 2) throw new ArgumentException($"task symbols must be ≥ 2 (got {symbols})", nameof(symbols));
        if (keys < 1) throw new ArgumentException($"task keys must be ≥ 1 (got {keys})", nameof(keys));
        if (values < 1 || values > symbols) throw new ArgumentException($"task values must be in [1, symbols = {symbols}] (got {values})", nameof(values));
        if (!(storeRate > 0) || !(queryRate >= 0) || storeRate + queryRate >= 1)
            throw new ArgumentException($"store rate {storeRate} and query rate {queryRate}: need store > 0, query ≥ 0, store + query < 1", nameof(storeRate));
        Symbols = symbols; Keys = keys; Values = values; StoreRate = storeRate; QueryRate = queryRate; Seed = seed;
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
    /// <summary>Seed of the bigram table.</summary>
    public int Seed { get; }
    /// <summary>Vocabulary size.</summary>
    public int Vocab => 3 + Symbols + Keys * Values + Keys;

    /// <summary>Id of content symbol <paramref name="s"/> (value v's answer is content symbol v).</summary>
    public int Content(int s) => 3 + s;
    /// <summary>Id of the token that stores <paramref name="value"/> under <paramref name="key"/>.</summary>
    public int Store(int key, int value) => 3 + Symbols + key * Values + value;
    /// <summary>Id of the query for <paramref name="key"/>.</summary>
    public int Query(int key) => 3 + Symbols + Keys * Values + key;

    /// <summary>GGUF key prefix of the task's settings.</summary>
    public const string KeyPrefix = "sinklab.task.";

    /// <summary>Writes the task's name and settings as <c>sinklab.task.*</c> metadata (so the same language can be
    /// generated from the model file).</summary>
    public void WriteTo(GgufWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Add(KeyPrefix + "name", GgufValue.Of("bigram-recall"));
        writer.Add(KeyPrefix + "symbols", GgufValue.Of((uint)Symbols));
        writer.Add(KeyPrefix + "keys", GgufValue.Of((uint)Keys));
        writer.Add(KeyPrefix + "values", GgufValue.Of((uint)Values));
        writer.Add(KeyPrefix + "store_rate", GgufValue.Of(StoreRate));
        writer.Add(KeyPrefix + "query_rate", GgufValue.Of(QueryRate));
        writer.Add(KeyPrefix + "seed", GgufValue.Of(Seed));
    }

    /// <summary>The task a model was trained on, from its <c>sinklab.task.*</c> metadata; null when it has none.</summary>
    /// <exception cref="GgufFormatException">Task metadata present but incomplete or out of range.</exception>
    /// <exception cref="ModelNotSupportedException">Another task's name.</exception>
    public static SyntheticTask? ReadFrom(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.TryGetValue(KeyPrefix + "name", out GgufValue name)) return null;
        if (name.Value is not "bigram-recall")
            throw new ModelNotSupportedException(KeyPrefix + "name", $"{file.FilePath}: {KeyPrefix}name = '{name}': only the bigram-recall task is known");
        double Get(string key) => file.TryGetValue(KeyPrefix + key, out GgufValue v) && v.AsDouble() is double d ? d
            : throw new GgufFormatException(file.FilePath, -1, KeyPrefix + key, "a number (the task's settings are written together)", "none");
        try
        {
            return new SyntheticTask((int)Get("symbols"), (int)Get("keys"), (int)Get("values"), Get("store_rate"), Get("query_rate"), (int)Get("seed"));
        }
        catch (ArgumentException e) { throw new GgufFormatException(file.FilePath, -1, KeyPrefix + "*", "settings of a valid task", e.Message); }
    }

    /// <summary>Name of the task's settings, for messages.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"bigram-recall (symbols {Symbols}, keys {Keys}, values {Values}, store {StoreRate:G4}, query {QueryRate:G4}, seed {Seed})");

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
        var state = new State(Keys, rng.Next(Symbols));
        int start = 0;
        if (withBos) window[start++] = 1;
        Emit(rng, window.AsSpan(start), state, excludedKey: -1, queryAtEnd: true);
    }

    /// <summary>
    /// One trial of the fact-recall test: BOS, <paramref name="leadIn"/> tokens of the language, the store of
    /// <paramref name="value"/> under <paramref name="key"/> (or, when <paramref name="planted"/> is false, an ordinary
    /// content token in its place), <paramref name="distance"/> tokens of the language, then the query for the key.
    /// The key is never stored or queried anywhere else, so the answer — the token after the last one returned,
    /// <c>Content(value)</c> — can come only from the planted store; other keys are stored and queried as in training.
    /// </summary>
    public int[] FactTrial(Random rng, int key, int value, int leadIn, int distance, bool planted)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(leadIn);
        ArgumentOutOfRangeException.ThrowIfNegative(distance);
        if ((uint)key >= (uint)Keys) throw new ArgumentOutOfRangeException(nameof(key), key, $"the task has {Keys} keys");
        if ((uint)value >= (uint)Values) throw new ArgumentOutOfRangeException(nameof(value), value, $"the task has {Values} values");
        var seq = new int[leadIn + distance + 3];
        var state = new State(Keys, rng.Next(Symbols));
        seq[0] = 1;
        Emit(rng, seq.AsSpan(1, leadIn), state, key, queryAtEnd: false);
        if (planted) { seq[1 + leadIn] = Store(key, value); state.Memory[key] = value; }
        else Emit(rng, seq.AsSpan(1 + leadIn, 1), state, key, queryAtEnd: false);
        Emit(rng, seq.AsSpan(2 + leadIn, distance), state, key, queryAtEnd: false);
        seq[^1] = Query(key);
        return seq;
    }

    private static bool AnyStored(int[] memory, int excludedKey)
    {
        for (int j = 0; j < memory.Length; j++) if (memory[j] >= 0 && j != excludedKey) return true;
        return false;
    }

    private sealed class State(int keys, int firstContent)
    {
        public readonly int[] Memory = Enumerable.Repeat(-1, keys).ToArray();
        public int LastContent = firstContent;
        public int PendingAnswer = -1;
    }

    /// <summary>The language's tokens into <paramref name="dest"/>, continuing <paramref name="st"/>. With an
    /// excluded key, that key is never stored or queried; without <paramref name="queryAtEnd"/>, the last position is
    /// never a query (so the segment ends with no answer pending).</summary>
    private void Emit(Random rng, Span<int> dest, State st, int excludedKey, bool queryAtEnd)
    {
        int[] memory = st.Memory;
        for (int i = 0; i < dest.Length; i++)
        {
            if (st.PendingAnswer >= 0) { dest[i] = Content(st.PendingAnswer); st.LastContent = st.PendingAnswer; st.PendingAnswer = -1; continue; }
            double u = rng.NextDouble();
            bool canQuery = (queryAtEnd || i < dest.Length - 1) && AnyStored(memory, excludedKey);
            if (u < StoreRate)
            {
                int j, v;
                do { j = rng.Next(Keys); v = rng.Next(Values); } while (j == excludedKey);
                memory[j] = v;
                dest[i] = Store(j, v);
            }
            else if (u < StoreRate + QueryRate && canQuery)
            {
                int j;
                do j = rng.Next(Keys); while (memory[j] < 0 || j == excludedKey);
                dest[i] = Query(j);
                st.PendingAnswer = memory[j] % Symbols;   // the answer is content symbol v
            }
            else
            {
                int s = rng.NextDouble() < 0.9 ? _next[st.LastContent] : rng.Next(Symbols);
                dest[i] = Content(s);
                st.LastContent = s;
            }
        }
    }
}

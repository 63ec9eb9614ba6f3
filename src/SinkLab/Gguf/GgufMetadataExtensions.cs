namespace SinkLab.Gguf;

/// <summary>Typed, validated access to GGUF metadata; every failure names the file and key.</summary>
public static class GgufMetadataExtensions
{
    /// <summary>A required string value.</summary>
    /// <exception cref="GgufFormatException">Missing, or not a string.</exception>
    public static string GetString(this GgufFile f, string key)
    {
        GgufValue v = Required(f, key);
        return v.Value as string ?? throw Wrong(f, key, "a string", v);
    }

    /// <summary>An optional string value.</summary>
    public static string? GetStringOrNull(this GgufFile f, string key)
        => f.TryGetValue(key, out GgufValue v) ? v.Value as string ?? throw Wrong(f, key, "a string", v) : null;

    /// <summary>A required integer (any GGUF integer type) within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="GgufFormatException">Missing, not an integer, or out of range.</exception>
    public static int GetInt(this GgufFile f, string key, int min = 1, int max = int.MaxValue)
        => CheckInt(f, key, Required(f, key), min, max);

    /// <summary>An optional integer within range, or <paramref name="fallback"/> when absent.</summary>
    public static int GetInt(this GgufFile f, string key, int fallback, int min, int max)
        => f.TryGetValue(key, out GgufValue v) ? CheckInt(f, key, v, min, max) : fallback;

    /// <summary>An optional token id: -1 when absent or when stored as all ones (llama.cpp's "none").</summary>
    public static int GetTokenId(this GgufFile f, string key, int vocabSize)
    {
        if (!f.TryGetValue(key, out GgufValue v)) return -1;
        long? id = v.AsInt64();
        if (v.Value is uint u && u == uint.MaxValue || id == -1) return -1;
        if (id is null || id < 0 || id >= vocabSize)
            throw Wrong(f, key, $"a token id below the vocabulary size {vocabSize}", v);
        return (int)id.Value;
    }

    /// <summary>An optional finite float (float32 or float64 stored), or <paramref name="fallback"/>.</summary>
    public static float GetFloat(this GgufFile f, string key, float fallback)
    {
        if (!f.TryGetValue(key, out GgufValue v)) return fallback;
        double? d = v.Value is float or double ? v.AsDouble() : null;
        if (d is null || !double.IsFinite(d.Value)) throw Wrong(f, key, "a finite float", v);
        return (float)d.Value;
    }

    /// <summary>An optional boolean, or <paramref name="fallback"/>.</summary>
    public static bool GetBool(this GgufFile f, string key, bool fallback)
        => f.TryGetValue(key, out GgufValue v) ? v.Value as bool? ?? throw Wrong(f, key, "a bool", v) : fallback;

    /// <summary>A required array whose elements are of .NET type <typeparamref name="T"/>.</summary>
    /// <exception cref="GgufFormatException">Missing, not an array, or of another element type.</exception>
    public static T[] GetArray<T>(this GgufFile f, string key)
    {
        GgufValue v = Required(f, key);
        if (v.Value is GgufArray { Items: T[] items }) return items;
        throw Wrong(f, key, $"an array of {typeof(T).Name}", v);
    }

    /// <summary>An optional array of <typeparamref name="T"/>, or null when absent.</summary>
    public static T[]? GetArrayOrNull<T>(this GgufFile f, string key)
        => f.TryGetValue(key, out _) ? f.GetArray<T>(key) : null;

    private static GgufValue Required(GgufFile f, string key)
        => f.TryGetValue(key, out GgufValue v) ? v : throw new GgufFormatException(f.FilePath, -1, $"metadata key '{key}'", "present", "missing");

    private static int CheckInt(GgufFile f, string key, GgufValue v, int min, int max)
    {
        long? x = v.AsInt64();
        if (x is null || x < min || x > max) throw Wrong(f, key, $"an integer in [{min}, {max}]", v);
        return (int)x.Value;
    }

    private static GgufFormatException Wrong(GgufFile f, string key, string expected, GgufValue v)
        => new(f.FilePath, -1, $"metadata key '{key}'", expected, $"{v.Type} {Shorten(v.ToString())}");

    private static string Shorten(string s) => s.Length > 60 ? s[..60] + "…" : s;
}

using System.Globalization;
using System.Text.Json;

namespace SinkLab.Formats.HuggingFace;

/// <summary>
/// A JSON file of a checkpoint (config.json, tokenizer.json, …) read with bounds: the file's size is capped, the
/// nesting depth limited, and every access names the file and the key path when the value is missing or of the
/// wrong kind (<see cref="HuggingFaceFormatException"/>).
/// </summary>
internal sealed class JsonFile : IDisposable
{
    /// <summary>Largest JSON file read (tokenizer.json of 256k-token vocabularies is ~35 MB).</summary>
    public const long MaxBytes = 256L << 20;

    private readonly JsonDocument _doc;

    private JsonFile(string path, JsonDocument doc)
    {
        Path = path;
        _doc = doc;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }
    /// <summary>The root object.</summary>
    public JsonElement Root => _doc.RootElement;

    /// <summary>Opens and parses <paramref name="path"/>, whose root must be an object.</summary>
    /// <exception cref="HuggingFaceFormatException">Missing, too large, not JSON, or not an object.</exception>
    public static JsonFile Open(string path)
    {
        if (!File.Exists(path)) throw new HuggingFaceFormatException(path, "file", "present", "missing");
        long size = new FileInfo(path).Length;
        if (size > MaxBytes) throw new HuggingFaceFormatException(path, "file size", $"at most {MaxBytes} bytes", $"{size} bytes");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses JSON bytes labelled <paramref name="path"/>.</summary>
    public static JsonFile Parse(byte[] bytes, string path)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new HuggingFaceFormatException(path, "text", "UTF-8", "invalid bytes");
        try
        {
            var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new HuggingFaceFormatException(path, "root", "a JSON object", doc.RootElement.ValueKind.ToString());
            }
            try { CheckStrings(doc.RootElement); }
            catch (InvalidOperationException)
            {
                doc.Dispose();
                throw new HuggingFaceFormatException(path, "string", "valid UTF-16 escapes", "a lone surrogate");
            }
            return new JsonFile(path, doc);
        }
        catch (JsonException e)
        {
            throw new HuggingFaceFormatException(path, $"JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine}", "valid JSON", Short(e.Message));
        }
    }

    /// <summary>Decodes every string and property name once, so that a lone surrogate escape fails here, typed,
    /// rather than wherever the value is first read.</summary>
    private static void CheckStrings(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String: e.GetString(); break;
            case JsonValueKind.Array: foreach (JsonElement x in e.EnumerateArray()) CheckStrings(x); break;
            case JsonValueKind.Object: foreach (JsonProperty p in e.EnumerateObject()) { _ = p.Name; CheckStrings(p.Value); } break;
        }
    }

    /// <summary>The value at <paramref name="key"/> of <paramref name="o"/> (null when absent or JSON null).</summary>
    public static JsonElement? Get(JsonElement o, string key)
        => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(key, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;

    /// <summary>A wrong-kind error for <paramref name="key"/>.</summary>
    public HuggingFaceFormatException Wrong(string key, string expected, JsonElement? actual)
        => new(Path, $"key '{key}'", expected, actual is { } a ? $"{a.ValueKind} {Short(a.GetRawText())}" : "missing");

    /// <summary>An integer within [min, max] at <paramref name="key"/> of <paramref name="o"/>.</summary>
    public int Int(JsonElement o, string key, int min = 0, int max = int.MaxValue)
        => Get(o, key) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt64(out long x) && x >= min && x <= max ? (int)x
            : throw Wrong(key, $"an integer in [{min}, {max}]", Get(o, key));

    /// <summary>An optional integer (<paramref name="fallback"/> when absent).</summary>
    public int Int(JsonElement o, string key, int fallback, int min, int max) => Get(o, key) is null ? fallback : Int(o, key, min, max);

    /// <summary>A finite number at <paramref name="key"/>.</summary>
    public double Number(JsonElement o, string key)
        => Get(o, key) is { ValueKind: JsonValueKind.Number } v && v.TryGetDouble(out double x) && double.IsFinite(x) ? x
            : throw Wrong(key, "a finite number", Get(o, key));

    /// <summary>An optional finite number.</summary>
    public double Number(JsonElement o, string key, double fallback) => Get(o, key) is null ? fallback : Number(o, key);

    /// <summary>A boolean at <paramref name="key"/>.</summary>
    public bool Bool(JsonElement o, string key, bool fallback)
        => Get(o, key) switch
        {
            null => fallback,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            var v => throw Wrong(key, "true or false", v),
        };

    /// <summary>A string at <paramref name="key"/>, or null when absent.</summary>
    public string? String(JsonElement o, string key)
        => Get(o, key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString()!,
            var v => throw Wrong(key, "a string", v),
        };

    /// <summary>An object at <paramref name="key"/>, or null when absent.</summary>
    public JsonElement? Object(JsonElement o, string key)
        => Get(o, key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.Object } v => v,
            var v => throw Wrong(key, "an object", v),
        };

    /// <summary>An array at <paramref name="key"/>, or null when absent.</summary>
    public JsonElement? Array(JsonElement o, string key)
        => Get(o, key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.Array } v => v,
            var v => throw Wrong(key, "an array", v),
        };

    /// <summary>At most 80 characters of <paramref name="s"/> on one line (control characters escaped).</summary>
    internal static string Short(string s)
        => System.Text.RegularExpressions.Regex.Replace(s.Length > 80 ? s[..80] + "…" : s, @"\p{Cc}", m => $"\\u{(int)m.Value[0]:x4}");

    /// <summary>Invariant text of a number (for messages).</summary>
    internal static string Text(double v) => v.ToString(CultureInfo.InvariantCulture);

    public void Dispose() => _doc.Dispose();
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using SinkLab.Tokenization;

namespace SinkLab.Inference;

/// <summary>A saved prefix (<c>sinklab cushion</c>'s result, or one written by hand): the token ids, their text, and
/// what the search measured. Serialised as JSON (<c>"format": "sinklab-prefix"</c>).</summary>
/// <param name="Tokens">Token ids, BOS first when the model uses one.</param>
/// <param name="Text">The ids decoded (for reading only; the ids are what is used).</param>
/// <param name="Model">File name of the model the prefix was searched on.</param>
/// <param name="Steps">The search's largest activation after each step (index 0: BOS alone), when searched.</param>
public sealed record PrefixFile(int[] Tokens, string Text, string? Model = null, double[]? Steps = null)
{
    /// <summary>Format tag.</summary>
    public string Format { get; init; } = "sinklab-prefix";
}

/// <summary>Reading, writing and applying prefixes (<see cref="SessionOptions.Prefix"/>).</summary>
public static class Prefix
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Reads a prefix from <paramref name="path"/>: a prefix JSON file (<see cref="PrefixFile"/>), a text file of
    /// whitespace-separated token ids, or any other text, which is encoded with BOS first.
    /// </summary>
    /// <exception cref="ArgumentException">An empty prefix, ids outside the vocabulary, or malformed JSON, naming the file.</exception>
    public static int[] Load(string path, ITokenizer tokenizer, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (!File.Exists(path)) throw new FileNotFoundException($"prefix file not found: {path}", path);
        string text = File.ReadAllText(path);
        int[] ids;
        if (text.TrimStart().StartsWith('{'))
        {
            PrefixFile? f;
            try { f = JsonSerializer.Deserialize<PrefixFile>(text, Json); }
            catch (JsonException e) { throw new ArgumentException($"{path}: not a prefix file ({e.Message})", "--prefix"); }
            ids = f?.Tokens ?? throw new ArgumentException($"{path}: a prefix file needs \"tokens\"", "--prefix");
        }
        else
        {
            string[] words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            ids = words.Length > 0 && words.All(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                ? words.Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray()
                : tokenizer.Encode(text, addSpecial: true);
        }
        if (ids.Length == 0) throw new ArgumentException($"{path}: the prefix is empty", "--prefix");
        foreach (int id in ids)
            if ((uint)id >= (uint)vocabSize) throw new ArgumentException($"{path}: token id {id} is outside the vocabulary of {vocabSize}", "--prefix");
        return ids;
    }

    /// <summary>Writes <paramref name="file"/> as JSON to <paramref name="path"/> (through a temporary file, so a failed
    /// write leaves no half file).</summary>
    public static void Save(string path, PrefixFile file)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(file);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(file, Json));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The tokens that follow a prefix: <paramref name="ids"/> without its leading BOS when the prefix
    /// (already in the cache) starts with BOS; <paramref name="ids"/> unchanged without a prefix.</summary>
    public static int[] Continue(int[] ids, IReadOnlyList<int>? prefix, int bos)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (prefix is not { Count: > 0 } || ids.Length == 0 || bos < 0 || ids[0] != bos || prefix[0] != bos) return ids;
        return ids[1..];
    }
}

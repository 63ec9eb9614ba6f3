using System.Runtime.InteropServices;
using SinkLab.Gguf;

namespace SinkLab.Models;

/// <summary>
/// An importance matrix in the GGUF format <c>llama-imatrix</c> writes: per weight tensor <c>NAME.in_sum2</c> (the sum
/// over calibration tokens of each input column's squared activation, one row per expert) and <c>NAME.counts</c> (how
/// many tokens each row saw). As <c>llama-quantize</c> does, each column's importance is in_sum2 / count (1 where the
/// count is 0). The legacy <c>.dat</c> format is refused.
/// </summary>
public sealed class ImportanceMatrix
{
    private readonly Dictionary<string, float[]> _values;

    private ImportanceMatrix(string path, Dictionary<string, float[]> values) { Path = path; _values = values; }

    /// <summary>The file it was read from.</summary>
    public string Path { get; }
    /// <summary>Tensor names it has values for.</summary>
    public IReadOnlyCollection<string> Names => _values.Keys;

    /// <summary>The importance of each input column of <paramref name="tensor"/>, or null when the matrix has none.</summary>
    public float[]? For(string tensor) => _values.GetValueOrDefault(tensor);

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="GgufFormatException">Not GGUF (e.g. the legacy .dat format), no entries, a sum without counts,
    /// a non-F32 entry, or sums that are not a whole number of rows per count.</exception>
    public static ImportanceMatrix Load(string path)
    {
        using GgufFile f = GgufFile.Open(path);
        var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (GgufTensorInfo sums in f.Tensors.Where(t => t.Name.EndsWith(".in_sum2", StringComparison.Ordinal)))
        {
            string name = sums.Name[..^".in_sum2".Length];
            if (!f.TryGetTensor(name + ".counts", out GgufTensorInfo counts))
                throw new GgufFormatException(path, f.DataOffset + sums.Offset, $"importance entry '{name}'", $"a tensor '{name}.counts' beside '{sums.Name}'", "none");
            foreach (GgufTensorInfo t in new[] { sums, counts })
                if (t.Type != GgmlType.F32)
                    throw new GgufFormatException(path, f.DataOffset + t.Offset, $"tensor '{t.Name}' type", "F32", GgmlTypeInfo.Describe(t.Type));
            float[] s = MemoryMarshal.Cast<byte, float>(f.GetTensorData(sums)).ToArray(), c = MemoryMarshal.Cast<byte, float>(f.GetTensorData(counts)).ToArray();
            if (c.Length == 0 || s.Length % c.Length != 0)
                throw new GgufFormatException(path, f.DataOffset + counts.Offset, $"tensor '{counts.Name}' length", $"a divisor of {s.Length} (the sums of '{name}')", c.Length.ToString());
            int ne0 = s.Length / c.Length;
            var v = new float[s.Length];
            for (int j = 0; j < c.Length; j++)
                for (int i = 0; i < ne0; i++) v[j * ne0 + i] = c[j] > 0 ? s[j * ne0 + i] / c[j] : 1f;
            values[name] = v;
        }
        if (values.Count == 0)
            throw new GgufFormatException(path, 0, "importance matrix", "tensors named NAME.in_sum2 and NAME.counts (llama-imatrix's GGUF output)", "none");
        return new ImportanceMatrix(path, values);
    }
}

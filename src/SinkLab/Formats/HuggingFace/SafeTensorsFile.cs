using System.Buffers.Binary;
using System.Text.Json;

namespace SinkLab.Formats.HuggingFace;

/// <summary>One tensor of a safetensors file: element type, shape (row-major, outermost first) and byte range.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">safetensors dtype (F32, F16, BF16, …).</param>
/// <param name="Shape">Dimensions, outermost first (PyTorch order).</param>
/// <param name="Begin">First byte, relative to the data section.</param>
/// <param name="End">One past the last byte.</param>
public sealed record SafeTensor(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Elements.</summary>
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// A <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header naming every tensor's dtype, shape and
/// byte range, then the data. The header is checked whole when the file is opened — length within the file, valid
/// JSON, each range inside the data section, each range's size equal to its shape times its element size — so a
/// corrupt header is one <see cref="HuggingFaceFormatException"/> and never a large allocation. Tensor data is read on
/// demand.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Largest header read (real checkpoints stay well under a megabyte).</summary>
    public const long MaxHeader = 100L << 20;

    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
        ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
    };

    private readonly FileStream _stream;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensor> _tensors;

    private SafeTensorsFile(string path, FileStream stream, long dataStart, Dictionary<string, SafeTensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _stream = stream;
        _dataStart = dataStart;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file.</summary>
    public string Path { get; }
    /// <summary>Tensors by name, in header order.</summary>
    public IReadOnlyDictionary<string, SafeTensor> Tensors => _tensors;
    /// <summary>The header's <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header.</summary>
    /// <exception cref="HuggingFaceFormatException">Missing file or malformed header (naming the field).</exception>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new HuggingFaceFormatException(path, "file", "present", "missing");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        try
        {
            long length = stream.Length;
            Span<byte> head = stackalloc byte[8];
            if (stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) != 8)
                throw new HuggingFaceFormatException(path, "header length", "8 bytes", $"a file of {length} bytes");
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(head);
            if (n < 2 || n > (ulong)Math.Min(MaxHeader, length - 8))
                throw new HuggingFaceFormatException(path, "header length", $"2 to {Math.Min(MaxHeader, length - 8)} bytes", $"{n}");
            var json = new byte[n];
            stream.ReadExactly(json);
            long dataLength = length - 8 - (long)n;
            var (tensors, metadata) = ParseHeader(path, json, dataLength);
            return new SafeTensorsFile(path, stream, 8 + (long)n, tensors, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafeTensor>, Dictionary<string, string>) ParseHeader(string path, byte[] json, long dataLength)
    {
        var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonFile header;
        try { header = JsonFile.Parse(json, path + " (safetensors header)"); }
        catch (HuggingFaceFormatException e) { throw new HuggingFaceFormatException(path, "header", "a JSON object", e.Actual); }
        using (header)
        {
            foreach (JsonProperty p in header.Root.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw header.Wrong("__metadata__", "an object of strings", p.Value);
                    foreach (JsonProperty m in p.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw header.Wrong($"__metadata__.{m.Name}", "a string", m.Value);
                    continue;
                }
                string subject = $"tensor '{p.Name}'";
                if (p.Value.ValueKind != JsonValueKind.Object) throw new HuggingFaceFormatException(path, subject, "an object with dtype, shape, data_offsets", p.Value.ValueKind.ToString());
                string dtype = header.String(p.Value, "dtype") ?? throw new HuggingFaceFormatException(path, $"{subject} dtype", "a dtype", "missing");
                if (!ElementSizes.TryGetValue(dtype, out int size)) throw new HuggingFaceFormatException(path, $"{subject} dtype", "a safetensors dtype", $"'{JsonFile.Short(dtype)}'");
                JsonElement shape = header.Array(p.Value, "shape") ?? throw new HuggingFaceFormatException(path, $"{subject} shape", "an array", "missing");
                var dims = new long[shape.GetArrayLength()];
                if (dims.Length > 8) throw new HuggingFaceFormatException(path, $"{subject} shape", "at most 8 dimensions", $"{dims.Length}");
                long count = 1;
                int i = 0;
                foreach (JsonElement d in shape.EnumerateArray())
                {
                    if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0 || v > dataLength)
                        throw new HuggingFaceFormatException(path, $"{subject} shape", "non-negative sizes within the file", JsonFile.Short(shape.GetRawText()));
                    dims[i++] = v;
                    count = v == 0 ? 0 : count > dataLength / v ? dataLength + 1 : count * v;
                }
                JsonElement offsets = header.Array(p.Value, "data_offsets") ?? throw new HuggingFaceFormatException(path, $"{subject} data_offsets", "an array", "missing");
                long[] range = offsets.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) ? v : -1).ToArray();
                if (range.Length != 2 || range[0] < 0 || range[1] < range[0] || range[1] > dataLength)
                    throw new HuggingFaceFormatException(path, $"{subject} data_offsets", $"[begin, end] within the {dataLength} data bytes", JsonFile.Short(offsets.GetRawText()));
                if (count > dataLength || count * size != range[1] - range[0])
                    throw new HuggingFaceFormatException(path, $"{subject} size", $"{(count > dataLength ? "more bytes than the file has" : $"{count * size} bytes ({dtype} × [{string.Join(", ", dims)}])")}", $"{range[1] - range[0]} bytes");
                tensors[p.Name] = new SafeTensor(p.Name, dtype, dims, range[0], range[1]);
            }
        }
        return (tensors, metadata);
    }

    /// <summary>Reads a floating-point tensor (F32, F16, BF16; F64 narrowed) as float32, row-major.</summary>
    /// <exception cref="Gguf.ModelNotSupportedException">Another dtype (integer, fp8).</exception>
    public float[] ReadFloats(SafeTensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.DType is not ("F32" or "F16" or "BF16" or "F64"))
            throw new Gguf.ModelNotSupportedException(t.DType, $"{Path}: tensor '{t.Name}' has dtype {t.DType}; supported: F32, F16, BF16");
        var bytes = new byte[t.End - t.Begin];
        RandomAccess.Read(_stream.SafeFileHandle, bytes, _dataStart + t.Begin);
        var result = new float[t.Count];
        switch (t.DType)
        {
            case "F32": Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length); break;
            case "F64": for (int i = 0; i < result.Length; i++) result[i] = (float)BitConverter.ToDouble(bytes, i * 8); break;
            case "F16": for (int i = 0; i < result.Length; i++) result[i] = (float)BitConverter.ToHalf(bytes, i * 2); break;
            default: for (int i = 0; i < result.Length; i++) result[i] = BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(bytes, i * 2) << 16); break;
        }
        return result;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();
}

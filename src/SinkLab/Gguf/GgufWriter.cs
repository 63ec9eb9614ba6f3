using System.Buffers.Binary;
using System.Text;

namespace SinkLab.Gguf;

/// <summary>Supplies a tensor's bytes when the writer reaches it (so large tensors need not be copied first).</summary>
public delegate ReadOnlySpan<byte> GgufTensorSource();

/// <summary>
/// Writes GGUF v3 files: metadata in the order added, tensor descriptors, then the data section with every tensor
/// aligned, laid out exactly as ggml's own writer does. Files are written to a temporary name and renamed, so a
/// failed write never leaves a partial file behind.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<(string Name, GgmlType Type, long[] Dims, long Bytes, GgufTensorSource Data)> _tensors = [];

    /// <summary>Alignment of the data section (taken from <c>general.alignment</c> when that key is added).</summary>
    public int Alignment { get; private set; } = GgufFile.DefaultAlignment;

    /// <summary>Version written in the header (2 or 3).</summary>
    public uint Version { get; init; } = 3;

    /// <summary>Adds a metadata pair (keys must be unique).</summary>
    /// <exception cref="ArgumentException">Duplicate key or invalid alignment.</exception>
    public GgufWriter Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (_metadata.Exists(kv => kv.Key == key)) throw new ArgumentException($"metadata key '{key}' added twice", nameof(key));
        if (key == "general.alignment")
        {
            if (value.Value is not uint a || a == 0 || (a & (a - 1)) != 0)
                throw new ArgumentException("general.alignment must be a uint32 power of two", nameof(value));
            Alignment = (int)a;
        }
        _metadata.Add(new(key, value));
        return this;
    }

    /// <summary>Replaces the value of a metadata key already added, keeping its place (e.g. to edit a copied file).</summary>
    /// <exception cref="KeyNotFoundException">The key was never added.</exception>
    public GgufWriter Set(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int i = _metadata.FindIndex(kv => kv.Key == key);
        if (i < 0) throw new KeyNotFoundException($"metadata key '{key}' not present");
        _metadata.RemoveAt(i);
        int count = _metadata.Count;
        Add(key, value);
        var added = _metadata[count];
        _metadata.RemoveAt(count);
        _metadata.Insert(i, added);
        return this;
    }

    /// <summary>The value of a metadata key added so far, or null.</summary>
    public GgufValue? Get(string key) => _metadata.FirstOrDefault(kv => kv.Key == key).Value;

    /// <summary>Removes a tensor added so far; false when there was none of that name.</summary>
    public bool RemoveTensor(string name) => _tensors.RemoveAll(t => t.Name == name) > 0;

    /// <summary>Removes a metadata key (e.g. to edit a copied file); false when it was not there.</summary>
    public bool Remove(string key)
    {
        if (key == "general.alignment") Alignment = GgufFile.DefaultAlignment;
        return _metadata.RemoveAll(kv => kv.Key == key) > 0;
    }

    /// <summary>Adds a tensor; <paramref name="dims"/> in ggml order (row length first).</summary>
    /// <exception cref="ArgumentException">Duplicate name, bad shape, or data of the wrong size.</exception>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dims, GgufTensorSource data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        ArgumentNullException.ThrowIfNull(data);
        if (dims.Length is < 1 or > 4) throw new ArgumentException($"tensor '{name}' must have 1 to 4 dimensions", nameof(dims));
        if (_tensors.Exists(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        long elements = 1;
        foreach (long d in dims) { ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(dims)); elements *= d; }
        _tensors.Add((name, type, (long[])dims.Clone(), GgmlTypeInfo.ByteSize(type, elements), data));
        return this;
    }

    /// <summary>Adds a tensor from an array of bytes.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dims, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return AddTensor(name, type, dims, () => data);
    }

    /// <summary>Adds an F32 tensor.</summary>
    public GgufWriter AddTensor(string name, long[] dims, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return AddTensor(name, GgmlType.F32, dims, () => System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
    }

    /// <summary>Writes the file atomically: to <c>path.tmp-*</c>, then renamed over <paramref name="path"/>.</summary>
    public void Write(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes the whole file to a stream.</summary>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value.Type, value.Value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Align(offset + t.Bytes);
        }
        w.Flush();
        long pos = stream.Position;
        if (_tensors.Count > 0) Pad(stream, Align(pos) - pos);   // ggml pads the header only when data follows
        foreach (var t in _tensors)
        {
            ReadOnlySpan<byte> data = t.Data();
            if (data.Length != t.Bytes)
                throw new ArgumentException($"tensor '{t.Name}' has {data.Length} bytes of data; its type and shape need {t.Bytes}");
            stream.Write(data);
            Pad(stream, Align(t.Bytes) - t.Bytes);
        }
    }

    private long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream s, long n)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (n > 0) { int k = (int)Math.Min(n, zeros.Length); s.Write(zeros[..k]); n -= k; }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)v); break;
            case GgufValueType.Int8: w.Write((sbyte)v); break;
            case GgufValueType.UInt16: w.Write((ushort)v); break;
            case GgufValueType.Int16: w.Write((short)v); break;
            case GgufValueType.UInt32: w.Write((uint)v); break;
            case GgufValueType.Int32: w.Write((int)v); break;
            case GgufValueType.Float32: w.Write((float)v); break;
            case GgufValueType.Bool: w.Write((bool)v ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)v); break;
            case GgufValueType.UInt64: w.Write((ulong)v); break;
            case GgufValueType.Int64: w.Write((long)v); break;
            case GgufValueType.Float64: w.Write((double)v); break;
            case GgufValueType.Array:
                var a = (GgufArray)v;
                w.Write((uint)a.ElementType);
                w.Write((ulong)a.Count);
                foreach (object item in a.Items) WriteValue(w, a.ElementType, item);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a GGUF value type");
        }
    }

    /// <summary>A writer holding every key and tensor of <paramref name="source"/>, in the same order.</summary>
    public static GgufWriter From(GgufFile source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var w = new GgufWriter { Version = source.Version };
        foreach (var (k, v) in source.Metadata) w.Add(k, v);
        foreach (GgufTensorInfo t in source.Tensors)
        {
            GgufTensorInfo info = t;
            w.AddTensor(t.Name, t.Type, t.Dimensions, () => source.GetTensorData(info));
        }
        return w;
    }
}

using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace SinkLab.Gguf;

/// <summary>
/// A parsed GGUF file (versions 2 and 3): ordered metadata, tensor descriptors, and tensor data served as spans
/// over a memory-mapped view (or a pinned in-memory copy). Every structural fault is reported as a
/// <see cref="GgufFormatException"/> naming the offset, the key or tensor, expected and actual; nothing is allocated
/// beyond what the file's size justifies.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>The magic number "GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;
    /// <summary>Alignment of the data section when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;
    /// <summary>Deepest nesting of arrays accepted.</summary>
    public const int MaxArrayDepth = 8;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private GCHandle _pin;
    private byte* _base;
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly Dictionary<string, GgufValue> _byKey = new(StringComparer.Ordinal);
    private readonly List<GgufTensorInfo> _tensors = [];
    private readonly Dictionary<string, GgufTensorInfo> _tensorByName = new(StringComparer.Ordinal);

    private GgufFile(string label, byte* basePtr, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, GCHandle pin)
    {
        FilePath = label;
        _base = basePtr;
        Length = length;
        _map = map;
        _view = view;
        _pin = pin;
        try
        {
            Parse();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Maps and parses a file.</summary>
    /// <exception cref="GgufFormatException">The file is not a valid GGUF v2/v3 file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        long length = new FileInfo(path).Length;
        if (length == 0) return new GgufFile(path, null, 0, null, null, default);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new GgufFile(path, p + view.PointerOffset, length, map, view, default);
        }
        catch
        {
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Parses a GGUF image held in memory (the array is pinned, not copied, and must not change).</summary>
    /// <exception cref="GgufFormatException">The bytes are not a valid GGUF v2/v3 file.</exception>
    public static GgufFile Parse(byte[] bytes, string label = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var pin = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        return new GgufFile(label, (byte*)pin.AddrOfPinnedObject(), bytes.Length, null, null, pin);
    }

    /// <summary>Whether the tensors are a read-only mapping of a file (<see cref="Open"/>), so pages of it a process no
    /// longer needs can be given back and re-read on demand.</summary>
    internal bool IsFileMapped => _map != null;

    /// <summary>Path of the file (or the label given to <see cref="Parse(byte[], string)"/>).</summary>
    public string FilePath { get; }
    /// <summary>Size of the file in bytes.</summary>
    public long Length { get; }
    /// <summary>GGUF version (2 or 3).</summary>
    public uint Version { get; private set; }
    /// <summary>Alignment of tensor data (from <c>general.alignment</c>, default 32).</summary>
    public int Alignment { get; private set; } = DefaultAlignment;
    /// <summary>Absolute offset of the data section.</summary>
    public long DataOffset { get; private set; }
    /// <summary>Metadata in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata => _metadata;
    /// <summary>Tensor descriptors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors => _tensors;

    /// <summary>Looks up a metadata value.</summary>
    public bool TryGetValue(string key, out GgufValue value) => _byKey.TryGetValue(key, out value!);

    /// <summary>Looks up a tensor descriptor.</summary>
    public bool TryGetTensor(string name, out GgufTensorInfo info) => _tensorByName.TryGetValue(name, out info!);

    /// <summary>The raw bytes of a tensor, valid until the file is disposed.</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new ReadOnlySpan<byte>(TensorPointer(tensor), checked((int)tensor.ByteSize));
    }

    /// <summary>Pointer to a tensor's first byte (engine use; valid while the file is open).</summary>
    internal byte* TensorPointer(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null && Length != 0, this);
        return _base + DataOffset + tensor.Offset;
    }

    /// <summary>Unmaps the file. Spans obtained earlier must no longer be used.</summary>
    public void Dispose()
    {
        if (_view != null && _base != null) _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _map?.Dispose();
        if (_pin.IsAllocated) _pin.Free();
        _base = null;
    }

    private void Parse()
    {
        var c = new GgufCursor(_base, Length, FilePath);
        uint magic = c.U32("magic");
        if (magic != Magic)
            throw c.Error("magic", "\"GGUF\" (0x46554747)", $"0x{magic:X8}", 0);
        uint version = c.U32("version");
        if (version is not (2 or 3))
            throw c.Error("version", "2 or 3 (little-endian)", version == 1 ? "1 (GGUF v1 is obsolete)" : version.ToString(), 4);
        Version = version;
        long tensorCount = c.Count("tensor_count", 24);
        long kvCount = c.Count("metadata_kv_count", 13);

        for (long i = 0; i < kvCount; i++)
        {
            long at = c.Position;
            string key = c.String($"metadata key #{i}");
            var type = (GgufValueType)c.U32($"type of '{key}'");
            GgufValue value = ReadValue(ref c, type, key, 0);
            if (!_byKey.TryAdd(key, value))
                throw c.Error($"metadata key '{key}'", "each key once", "a duplicate", at);
            _metadata.Add(new(key, value));
        }

        if (_byKey.TryGetValue("general.alignment", out GgufValue? alignValue))
        {
            if (alignValue.Value is not uint a || a == 0 || (a & (a - 1)) != 0 || a > 1 << 20)
                throw c.Error("general.alignment", "a uint32 power of two", $"{alignValue.Type} {alignValue}", -1);
            Alignment = (int)a;
        }

        for (long i = 0; i < tensorCount; i++)
        {
            long at = c.Position;
            string name = c.String($"tensor #{i} name");
            uint nDims = c.U32($"tensor '{name}' n_dims");
            if (nDims > 4) throw c.Error($"tensor '{name}' n_dims", "at most 4", nDims.ToString(), c.Position - 4);
            var dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                ulong ne = c.U64($"tensor '{name}' dimension {d}");
                if (ne > int.MaxValue * 16UL || (elements > 0 && ne > 0 && (long)ne > long.MaxValue / 64 / elements))
                    throw c.Error($"tensor '{name}' dimension {d}", "a size whose product fits in 63 bits", ne.ToString(), c.Position - 8);
                dims[d] = (long)ne;
                elements *= (long)ne;
            }
            uint typeId = c.U32($"tensor '{name}' type");
            var type = (GgmlType)typeId;
            if (!GgmlTypeInfo.TryGetBlock(type, out int be, out int bb))
                throw c.Error($"tensor '{name}' type", "a ggml type id", typeId.ToString(), c.Position - 4);
            long rowLen = nDims > 0 ? dims[0] : 1;
            if (rowLen % be != 0)
                throw c.Error($"tensor '{name}' row length", $"a multiple of the {type} block size {be}", rowLen.ToString(), at);
            ulong offset = c.U64($"tensor '{name}' offset");
            if (offset % (ulong)Alignment != 0)
                throw c.Error($"tensor '{name}' offset", $"a multiple of the alignment {Alignment}", offset.ToString(), c.Position - 8);
            var info = new GgufTensorInfo(name, type, dims, (long)Math.Min(offset, long.MaxValue), elements / be * bb);
            if (!_tensorByName.TryAdd(name, info))
                throw c.Error($"tensor '{name}'", "each tensor name once", "a duplicate", at);
            _tensors.Add(info);
        }

        long headerEnd = c.Position;
        DataOffset = (headerEnd + Alignment - 1) / Alignment * Alignment;
        if (_tensors.Count > 0 && DataOffset > Length)
            throw c.Error("data section", $"to start at byte {DataOffset}", $"end of file at {Length}", headerEnd);
        long dataLength = Math.Max(0, Length - DataOffset);
        foreach (GgufTensorInfo t in _tensors)
        {
            if (t.Offset > dataLength || t.ByteSize > dataLength - t.Offset)
                throw new GgufFormatException(FilePath, DataOffset + t.Offset, $"tensor '{t.Name}' data",
                    $"{t.ByteSize} bytes ({t.Type} {t.ShapeText}) inside the {dataLength}-byte data section",
                    $"data running to byte {DataOffset + t.Offset + t.ByteSize} of a {Length}-byte file (truncated?)");
        }
    }

    private static GgufValue ReadValue(ref GgufCursor c, GgufValueType type, string key, int depth)
    {
        long at = c.Position;
        string s = $"value of '{key}'";
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.Create(type, c.U8(s));
            case GgufValueType.Int8: return GgufValue.Create(type, (sbyte)c.U8(s));
            case GgufValueType.UInt16: return GgufValue.Create(type, c.U16(s));
            case GgufValueType.Int16: return GgufValue.Create(type, (short)c.U16(s));
            case GgufValueType.UInt32: return GgufValue.Create(type, c.U32(s));
            case GgufValueType.Int32: return GgufValue.Create(type, (int)c.U32(s));
            case GgufValueType.Float32: return GgufValue.Create(type, c.F32(s));
            case GgufValueType.UInt64: return GgufValue.Create(type, c.U64(s));
            case GgufValueType.Int64: return GgufValue.Create(type, (long)c.U64(s));
            case GgufValueType.Float64: return GgufValue.Create(type, c.F64(s));
            case GgufValueType.Bool:
                byte b = c.U8(s);
                if (b > 1) throw c.Error(s, "a bool (0 or 1)", b.ToString(), at);
                return GgufValue.Create(type, b == 1);
            case GgufValueType.String: return GgufValue.Of(c.String(s));
            case GgufValueType.Array:
                if (depth >= MaxArrayDepth) throw c.Error(s, $"arrays nested at most {MaxArrayDepth} deep", "deeper nesting", at);
                var elementType = (GgufValueType)c.U32($"element type of '{key}'");
                long minSize = MinSize(elementType);
                if (minSize == 0) throw c.Error($"element type of '{key}'", "a GGUF value type (0-12)", ((uint)elementType).ToString(), at);
                int count = (int)c.Count($"element count of '{key}'", minSize);
                Array items = Array.CreateInstance(GgufValue.ClrType(elementType), count);
                for (int i = 0; i < count; i++)
                    items.SetValue(ReadValue(ref c, elementType, key, depth + 1).Value, i);
                return GgufValue.Of(new GgufArray(elementType, items));
            default:
                throw c.Error($"type of '{key}'", "a GGUF value type (0-12)", ((uint)type).ToString(), at - 4);
        }
    }

    private static long MinSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => 0,
    };
}

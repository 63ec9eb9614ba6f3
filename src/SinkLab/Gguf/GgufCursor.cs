using System.Buffers.Binary;
using System.Text;

namespace SinkLab.Gguf;

/// <summary>Bounds-checked little-endian reader over the header bytes of a GGUF file.</summary>
internal unsafe struct GgufCursor
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly byte* _base;
    private readonly long _length;
    private readonly string _file;

    public GgufCursor(byte* basePtr, long length, string file)
    {
        _base = basePtr;
        _length = length;
        _file = file;
        Position = 0;
    }

    public long Position { get; set; }
    public readonly long Remaining => _length - Position;
    public readonly string File => _file;

    public readonly GgufFormatException Error(string subject, string expected, string actual, long? at = null)
        => new(_file, at ?? Position, subject, expected, actual);

    private ReadOnlySpan<byte> Take(int n, string subject)
    {
        if (n > Remaining)
            throw Error(subject, $"{n} more bytes", $"end of file after {Math.Max(0, Remaining)} (file is {_length} bytes, truncated?)");
        var span = new ReadOnlySpan<byte>(_base + Position, n);
        Position += n;
        return span;
    }

    public byte U8(string s) => Take(1, s)[0];
    public ushort U16(string s) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, s));
    public uint U32(string s) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, s));
    public ulong U64(string s) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, s));
    public float F32(string s) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, s));
    public double F64(string s) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, s));

    /// <summary>Reads a count and checks that <paramref name="minBytesEach"/> × count bytes can still follow.</summary>
    public long Count(string subject, long minBytesEach)
    {
        long at = Position;
        ulong n = U64(subject);
        if (n > (ulong)long.MaxValue || (minBytesEach > 0 && (long)n > Remaining / minBytesEach))
            throw Error(subject, $"a count the remaining {Remaining} bytes can hold (≥ {minBytesEach} bytes each)", $"{n} (truncated or corrupt file?)", at);
        return (long)n;
    }

    public string String(string subject)
    {
        long at = Position;
        ulong n = U64(subject + " (string length)");
        if (n > (ulong)Remaining || n > int.MaxValue)
            throw Error(subject, $"a string length within the {Remaining} remaining bytes", n.ToString(), at);
        ReadOnlySpan<byte> bytes = Take((int)n, subject);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Error(subject, "valid UTF-8", $"invalid byte sequence at string index {e.Index}", at + 8);
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SinkLab.Gguf;

/// <summary>ggml <c>block_q8_0</c>: 32 weights = <c>d · qs[i]</c>, d stored as IEEE half. 34 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ8_0
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Signed 8-bit quants.</summary>
    public Quants32 Qs;

    /// <summary>32 signed bytes.</summary>
    [InlineArray(32)]
    public struct Quants32 { private sbyte _e0; }
}

/// <summary>ggml <c>block_q4_0</c>: 32 weights = <c>d · (nibble − 8)</c>; byte j holds element j (low nibble) and
/// element j + 16 (high nibble). 18 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_0
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Packed 4-bit quants.</summary>
    public Nibbles16 Qs;

    /// <summary>16 bytes of packed nibbles.</summary>
    [InlineArray(16)]
    public struct Nibbles16 { private byte _e0; }
}

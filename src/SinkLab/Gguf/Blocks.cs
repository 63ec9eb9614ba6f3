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

/// <summary>ggml <c>block_q4_1</c>: 32 weights = <c>d · nibble + m</c>, nibbles packed as in <see cref="BlockQ4_0"/>. 20 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_1
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Minimum (added to every weight).</summary>
    public Half M;
    /// <summary>Packed 4-bit quants.</summary>
    public BlockQ4_0.Nibbles16 Qs;
}

/// <summary>ggml <c>block_q5_0</c>: 32 weights = <c>d · (q − 16)</c> with q = nibble | bit j of qh shifted to 16;
/// nibbles packed as in <see cref="BlockQ4_0"/>, bit j of qh belongs to element j. 22 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ5_0
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Fifth bits, element j at bit j (little-endian).</summary>
    public uint Qh;
    /// <summary>Packed low 4 bits.</summary>
    public BlockQ4_0.Nibbles16 Qs;
}

/// <summary>ggml <c>block_q5_1</c>: 32 weights = <c>d · q + m</c>, q as in <see cref="BlockQ5_0"/>. 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ5_1
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Minimum (added to every weight).</summary>
    public Half M;
    /// <summary>Fifth bits, element j at bit j (little-endian).</summary>
    public uint Qh;
    /// <summary>Packed low 4 bits.</summary>
    public BlockQ4_0.Nibbles16 Qs;
}

/// <summary>ggml <c>block_q4_K</c>: 256 weights in eight sub-blocks of 32, each <c>d·sc·q − dmin·m</c> with 6-bit sc and m
/// packed in 12 bytes; 64 weights share 32 bytes of <see cref="Qs"/> (low nibbles first). 144 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_K
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 256;
    /// <summary>Super-block scale of the sub-block scales.</summary>
    public Half D;
    /// <summary>Super-block scale of the sub-block mins.</summary>
    public Half DMin;
    /// <summary>Eight 6-bit scales and eight 6-bit mins.</summary>
    public Bytes12 Scales;
    /// <summary>Packed 4-bit quants.</summary>
    public Bytes128 Qs;
}

/// <summary>ggml <c>block_q5_K</c>: as <see cref="BlockQ4_K"/> with a fifth bit per weight: bit j of qh[l] belongs to
/// element l of sub-block j. 176 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ5_K
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 256;
    /// <summary>Super-block scale of the sub-block scales.</summary>
    public Half D;
    /// <summary>Super-block scale of the sub-block mins.</summary>
    public Half DMin;
    /// <summary>Eight 6-bit scales and eight 6-bit mins.</summary>
    public Bytes12 Scales;
    /// <summary>Fifth bits.</summary>
    public Bytes32 Qh;
    /// <summary>Packed low 4 bits.</summary>
    public Bytes128 Qs;
}

/// <summary>ggml <c>block_q6_K</c>: 256 weights <c>d·scale[e/16]·(q − 32)</c>, q = 4 low bits (ql) | 2 high bits (qh). 210 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ6_K
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 256;
    /// <summary>Low 4 bits.</summary>
    public Bytes128 Ql;
    /// <summary>High 2 bits.</summary>
    public Bytes64 Qh;
    /// <summary>Sixteen signed 8-bit scales, one per 16 weights.</summary>
    public Bytes16 Scales;
    /// <summary>Super-block scale.</summary>
    public Half D;
}

#pragma warning disable CS1591 // fixed-size byte runs of the K-quant blocks
[InlineArray(12)] public struct Bytes12 { private byte _e0; }
[InlineArray(16)] public struct Bytes16 { private byte _e0; }
[InlineArray(32)] public struct Bytes32 { private byte _e0; }
[InlineArray(64)] public struct Bytes64 { private byte _e0; }
[InlineArray(128)] public struct Bytes128 { private byte _e0; }
#pragma warning restore CS1591

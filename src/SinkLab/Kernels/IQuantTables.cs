using System.Runtime.InteropServices;

namespace SinkLab.Kernels;

/// <summary>
/// ggml's lattice tables for the i-quants, embedded once (<c>Kernels/Data/iq-tables.bin</c>, written from ggml's
/// <c>ggml-common.h</c> by <c>tools/ggml-tables.py</c>; <c>IQuantTablesTests</c> pins each table's SHA-256):
/// each grid entry is 8 (or 4, for the 3-bit grids) unsigned magnitudes, one per byte, little-endian.
/// </summary>
internal static class IQuantTables
{
    /// <summary>IQ2_XXS: 256 points of 8 magnitudes in {8, 25, 43}.</summary>
    public static readonly ulong[] Iq2Xxs;
    /// <summary>IQ2_XS: 512 points.</summary>
    public static readonly ulong[] Iq2Xs;
    /// <summary>IQ2_S: 1024 points.</summary>
    public static readonly ulong[] Iq2S;
    /// <summary>IQ3_XXS: 256 points of 4 magnitudes.</summary>
    public static readonly uint[] Iq3Xxs;
    /// <summary>IQ3_S: 512 points of 4 magnitudes.</summary>
    public static readonly uint[] Iq3S;
    /// <summary>IQ1_S / IQ1_M: 2048 points of 8 signed values in {−1, 0, 1}.</summary>
    public static readonly ulong[] Iq1S;
    /// <summary>Sign patterns: 7 stored bits plus an eighth that makes the count of minus signs even.</summary>
    public static readonly byte[] KSigns;
    /// <summary>IQ4_NL / IQ4_XS: the 16 non-linear 4-bit values.</summary>
    public static readonly sbyte[] Iq4Values;
    /// <summary>MXFP4: the 16 E2M1 values, doubled (ggml's convention; the scale is halved to match).</summary>
    public static readonly sbyte[] Fp4Values;

    static IQuantTables()
    {
        using Stream s = typeof(IQuantTables).Assembly.GetManifestResourceStream("SinkLab.iq-tables.bin")
            ?? throw new InvalidOperationException("the embedded i-quant tables (SinkLab.iq-tables.bin) are missing from the assembly");
        var all = new byte[s.Length];
        s.ReadExactly(all);
        int at = 0;
        T[] Take<T>(int n) where T : unmanaged
        {
            T[] t = MemoryMarshal.Cast<byte, T>(all.AsSpan(at, n * Marshal.SizeOf<T>())).ToArray();
            at += n * Marshal.SizeOf<T>();
            return t;
        }
        Iq2Xxs = Take<ulong>(256);
        Iq2Xs = Take<ulong>(512);
        Iq2S = Take<ulong>(1024);
        Iq3Xxs = Take<uint>(256);
        Iq3S = Take<uint>(512);
        Iq1S = Take<ulong>(2048);
        KSigns = Take<byte>(128);
        Iq4Values = Take<sbyte>(16);
        Fp4Values = Take<sbyte>(16);
        if (at != all.Length) throw new InvalidOperationException($"the embedded i-quant tables hold {all.Length} bytes, expected {at}");
    }

    /// <summary>ggml's <c>GGML_E8M0_TO_FP32_HALF</c>: 2^(e − 128), the MXFP4 scale halved for the doubled values.</summary>
    public static float E8M0Half(byte e) => BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);
}

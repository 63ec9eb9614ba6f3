namespace SinkLab.Kernels;

/// <summary>
/// ggml's lattice tables for the i-quants, embedded once as constant data (<see cref="IQuantTableData"/>, written from
/// ggml's <c>ggml-common.h</c> by <c>tools/ggml-tables.py</c>; <c>LowBitKernelTests</c> pins each table's SHA-256) and
/// held here as arrays for the kernels: each grid entry is 8 (or 4, for the 3-bit grids) unsigned magnitudes, one per
/// byte, little-endian.
/// </summary>
internal static class IQuantTables
{
    /// <summary>IQ2_XXS: 256 points of 8 magnitudes in {8, 25, 43}.</summary>
    public static readonly ulong[] Iq2Xxs = IQuantTableData.Iq2Xxs.ToArray();
    /// <summary>IQ2_XS: 512 points.</summary>
    public static readonly ulong[] Iq2Xs = IQuantTableData.Iq2Xs.ToArray();
    /// <summary>IQ2_S: 1024 points.</summary>
    public static readonly ulong[] Iq2S = IQuantTableData.Iq2S.ToArray();
    /// <summary>IQ3_XXS: 256 points of 4 magnitudes.</summary>
    public static readonly uint[] Iq3Xxs = IQuantTableData.Iq3Xxs.ToArray();
    /// <summary>IQ3_S: 512 points of 4 magnitudes.</summary>
    public static readonly uint[] Iq3S = IQuantTableData.Iq3S.ToArray();
    /// <summary>IQ1_S / IQ1_M: 2048 points of 8 signed values in {−1, 0, 1}.</summary>
    public static readonly ulong[] Iq1S = IQuantTableData.Iq1S.ToArray();
    /// <summary>Sign patterns: 7 stored bits plus an eighth that makes the count of minus signs even.</summary>
    public static readonly byte[] KSigns = IQuantTableData.KSigns.ToArray();
    /// <summary>IQ4_NL / IQ4_XS: the 16 non-linear 4-bit values.</summary>
    public static readonly sbyte[] Iq4Values = IQuantTableData.Iq4Values.ToArray();
    /// <summary>MXFP4: the 16 E2M1 values, doubled (ggml's convention; the scale is halved to match).</summary>
    public static readonly sbyte[] Fp4Values = IQuantTableData.Fp4Values.ToArray();

    /// <summary>ggml's <c>GGML_E8M0_TO_FP32_HALF</c>: 2^(e − 128), the MXFP4 scale halved for the doubled values.</summary>
    public static float E8M0Half(byte e) => BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);
}

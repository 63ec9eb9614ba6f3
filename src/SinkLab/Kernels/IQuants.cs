using System.Buffers.Binary;

namespace SinkLab.Kernels;

/// <summary>
/// Decoding of ggml's lattice ("i-") quants, with ggml's formulas (<c>dequantize_row_iq*</c>): groups of 8 (or 4)
/// weights are one point of a fixed grid (<see cref="IQuantTables"/>) with signs, scaled per 16 or 32 weights.
/// <list type="bullet">
/// <item><b>IQ2_XXS</b>, 66 bytes: half d; per 32 weights 8 bytes = four grid indices and a word of four 7-bit sign
/// patterns plus a 4-bit scale s: weight = d·(0.5 + s)/4·grid·sign.</item>
/// <item><b>IQ2_XS</b>, 74 bytes: per 8 weights a 16-bit word (9-bit index, 7-bit signs); a 4-bit scale per 16.</item>
/// <item><b>IQ2_S</b>, 82 bytes: 10-bit indices (8 low bits + 2 from qh), explicit sign bytes, scales per 16.</item>
/// <item><b>IQ3_XXS</b>, 98 bytes: 4-weight grid points; per 32 weights a word of signs and scale: d·(0.5 + s)/2.</item>
/// <item><b>IQ3_S</b>, 110 bytes: 9-bit indices, sign bytes, a 4-bit scale per 32: d·(1 + 2s).</item>
/// <item><b>IQ1_S</b>, 50 bytes: 11-bit indices into a grid of {−1, 0, 1}; per 32 weights a 3-bit scale and the sign
/// of a ±1/8 shift: d·(2s + 1)·(grid ± 0.125). <b>IQ1_M</b>, 56 bytes: a shift per 8 weights, a 3-bit scale per 16
/// and the half-precision d spread over the top nibbles of the four scale words.</item>
/// </list>
/// </summary>
public static class IQuants
{
    /// <summary>ggml's IQ1_S / IQ1_M shift.</summary>
    public const float Iq1Delta = 0.125f;

    private static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));
    private static int Grid8(ulong point, int j) => (int)(point >> (8 * j)) & 0xFF;
    private static int Grid4(uint point, int j) => (int)(point >> (8 * j)) & 0xFF;
    private static float Sign(int signs, int j) => (signs >> j & 1) != 0 ? -1f : 1f;

    /// <summary>Decodes IQ2_XXS blocks.</summary>
    public static void DequantizeIq2Xxs(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 66, 66);
            float d = Half(blk, 0);
            for (int ib = 0; ib < 8; ib++)
            {
                ReadOnlySpan<byte> g = blk.Slice(2 + 8 * ib, 8);
                uint aux = BinaryPrimitives.ReadUInt32LittleEndian(g[4..]);
                float db = d * (0.5f + (aux >> 28)) * 0.25f;
                for (int l = 0; l < 4; l++)
                {
                    ulong point = IQuantTables.Iq2Xxs[g[l]];
                    int signs = IQuantTables.KSigns[(aux >> (7 * l)) & 127];
                    for (int j = 0; j < 8; j++) dst[b * 256 + 32 * ib + 8 * l + j] = db * Grid8(point, j) * Sign(signs, j);
                }
            }
        }
    }

    /// <summary>Decodes IQ2_XS blocks.</summary>
    public static void DequantizeIq2Xs(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 74, 74);
            float d = Half(blk, 0);
            for (int ib = 0; ib < 8; ib++)
            {
                byte s = blk[66 + ib];
                float db0 = d * (0.5f + (s & 0xF)) * 0.25f, db1 = d * (0.5f + (s >> 4)) * 0.25f;
                for (int l = 0; l < 4; l++)
                {
                    int q = BinaryPrimitives.ReadUInt16LittleEndian(blk[(2 + 8 * ib + 2 * l)..]);
                    ulong point = IQuantTables.Iq2Xs[q & 511];
                    int signs = IQuantTables.KSigns[q >> 9];
                    for (int j = 0; j < 8; j++) dst[b * 256 + 32 * ib + 8 * l + j] = (l < 2 ? db0 : db1) * Grid8(point, j) * Sign(signs, j);
                }
            }
        }
    }

    /// <summary>Decodes IQ2_S blocks.</summary>
    public static void DequantizeIq2S(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 82, 82), qs = blk.Slice(2, 32), signs = blk.Slice(34, 32), qh = blk.Slice(66, 8), scales = blk.Slice(74, 8);
            float d = Half(blk, 0);
            for (int ib = 0; ib < 8; ib++)
            {
                float db0 = d * (0.5f + (scales[ib] & 0xF)) * 0.25f, db1 = d * (0.5f + (scales[ib] >> 4)) * 0.25f;
                for (int l = 0; l < 4; l++)
                {
                    ulong point = IQuantTables.Iq2S[qs[4 * ib + l] | ((qh[ib] << (8 - 2 * l)) & 0x300)];
                    for (int j = 0; j < 8; j++) dst[b * 256 + 32 * ib + 8 * l + j] = (l < 2 ? db0 : db1) * Grid8(point, j) * Sign(signs[4 * ib + l], j);
                }
            }
        }
    }

    /// <summary>Decodes IQ3_XXS blocks.</summary>
    public static void DequantizeIq3Xxs(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 98, 98), qs = blk.Slice(2, 64), ss = blk.Slice(66, 32);
            float d = Half(blk, 0);
            for (int ib = 0; ib < 8; ib++)
            {
                uint aux = BinaryPrimitives.ReadUInt32LittleEndian(ss[(4 * ib)..]);
                float db = d * (0.5f + (aux >> 28)) * 0.5f;
                for (int l = 0; l < 4; l++)
                {
                    int signs = IQuantTables.KSigns[(aux >> (7 * l)) & 127];
                    uint p1 = IQuantTables.Iq3Xxs[qs[8 * ib + 2 * l]], p2 = IQuantTables.Iq3Xxs[qs[8 * ib + 2 * l + 1]];
                    for (int j = 0; j < 4; j++)
                    {
                        dst[b * 256 + 32 * ib + 8 * l + j] = db * Grid4(p1, j) * Sign(signs, j);
                        dst[b * 256 + 32 * ib + 8 * l + j + 4] = db * Grid4(p2, j) * Sign(signs, j + 4);
                    }
                }
            }
        }
    }

    /// <summary>Decodes IQ3_S blocks.</summary>
    public static void DequantizeIq3S(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 110, 110), qs = blk.Slice(2, 64), qh = blk.Slice(66, 8), signs = blk.Slice(74, 32), scales = blk.Slice(106, 4);
            float d = Half(blk, 0);
            for (int ib = 0; ib < 8; ib++)
            {
                float db = d * (1 + 2 * ((scales[ib / 2] >> (4 * (ib % 2))) & 0xF));
                for (int l = 0; l < 4; l++)
                {
                    uint p1 = IQuantTables.Iq3S[qs[8 * ib + 2 * l] | ((qh[ib] << (8 - 2 * l)) & 256)];
                    uint p2 = IQuantTables.Iq3S[qs[8 * ib + 2 * l + 1] | ((qh[ib] << (7 - 2 * l)) & 256)];
                    int s = signs[4 * ib + l];
                    for (int j = 0; j < 4; j++)
                    {
                        dst[b * 256 + 32 * ib + 8 * l + j] = db * Grid4(p1, j) * Sign(s, j);
                        dst[b * 256 + 32 * ib + 8 * l + j + 4] = db * Grid4(p2, j) * Sign(s, j + 4);
                    }
                }
            }
        }
    }

    /// <summary>Decodes IQ1_S blocks.</summary>
    public static void DequantizeIq1S(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 50, 50), qs = blk.Slice(2, 32);
            float d = Half(blk, 0);
            for (int ib = 0; ib < 8; ib++)
            {
                int qh = BinaryPrimitives.ReadUInt16LittleEndian(blk[(34 + 2 * ib)..]);
                float dl = d * (2 * ((qh >> 12) & 7) + 1), delta = (qh & 0x8000) != 0 ? -Iq1Delta : Iq1Delta;
                for (int l = 0; l < 4; l++)
                {
                    ulong point = IQuantTables.Iq1S[qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
                    for (int j = 0; j < 8; j++) dst[b * 256 + 32 * ib + 8 * l + j] = dl * ((sbyte)Grid8(point, j) + delta);
                }
            }
        }
    }

    /// <summary>IQ1_M's block scale: the top nibbles of its four 16-bit scale words, as a half.</summary>
    public static float Iq1MScale(ReadOnlySpan<byte> scales)
    {
        int s0 = BinaryPrimitives.ReadUInt16LittleEndian(scales), s1 = BinaryPrimitives.ReadUInt16LittleEndian(scales[2..]);
        int s2 = BinaryPrimitives.ReadUInt16LittleEndian(scales[4..]), s3 = BinaryPrimitives.ReadUInt16LittleEndian(scales[6..]);
        return (float)BitConverter.UInt16BitsToHalf((ushort)((s0 >> 12) | ((s1 >> 8) & 0xF0) | ((s2 >> 4) & 0xF00) | (s3 & 0xF000)));
    }

    /// <summary>Decodes IQ1_M blocks.</summary>
    public static void DequantizeIq1M(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 56, 56), qs = blk[..32], qh = blk.Slice(32, 16), scales = blk.Slice(48, 8);
            float d = Iq1MScale(scales);
            for (int ib = 0; ib < 8; ib++)
            {
                int sc = BinaryPrimitives.ReadUInt16LittleEndian(scales[(2 * (ib / 2))..]);
                float dl1 = d * (2 * ((sc >> (6 * (ib % 2))) & 7) + 1), dl2 = d * (2 * ((sc >> (6 * (ib % 2) + 3)) & 7) + 1);
                for (int l = 0; l < 4; l++)
                {
                    int h = qh[2 * ib + l / 2] >> (4 * (l % 2));   // this group's 3 index bits and shift sign
                    ulong point = IQuantTables.Iq1S[qs[4 * ib + l] | ((h & 7) << 8)];
                    float delta = (h & 8) != 0 ? -Iq1Delta : Iq1Delta, dl = l < 2 ? dl1 : dl2;
                    for (int j = 0; j < 8; j++) dst[b * 256 + 32 * ib + 8 * l + j] = dl * ((sbyte)Grid8(point, j) + delta);
                }
            }
        }
    }
}

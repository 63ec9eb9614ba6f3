using System.Buffers.Binary;

namespace SinkLab.Kernels;

/// <summary>
/// Decoding of the 2- and 3-bit K-quants, the ternary types, IQ4_NL/IQ4_XS and MXFP4, byte by byte in ggml's layouts
/// (<c>ggml-common.h</c>) with ggml's formulas (<c>dequantize_row_*</c>). These are the scalar references the SIMD
/// kernels are tested against:
/// <list type="bullet">
/// <item><b>Q2_K</b>, 84 bytes: 16 bytes of 4-bit scale | 4-bit min per 16 weights, 64 bytes of 2-bit quants, half d,
/// half dmin. Weight = d·sc·q − dmin·m. Within each 128 weights, 32 bytes hold four 2-bit planes: plane j (bits 2j)
/// of byte l is weight 32j + l.</item>
/// <item><b>Q3_K</b>, 110 bytes: 32 bytes of high bits (hmask), 64 bytes of low 2-bit planes as Q2_K, 12 bytes of
/// sixteen 6-bit scales, half d. Weight = d·(sc − 32)·(q − 4·[high bit clear]).</item>
/// <item><b>TQ1_0</b>, 54 bytes: 48 bytes of five trits each, 4 bytes of four trits each, half d; a trit t is
/// read as ⌊3·(byte·3ⁿ mod 256)/256⌋ and weighs d·(t − 1). <b>TQ2_0</b>, 66 bytes: 2-bit planes, weight d·(q − 1).</item>
/// <item><b>IQ4_NL</b>, 18 bytes per 32: half d and nibbles (low = elements 0-15) indexing 16 non-linear values.
/// <b>IQ4_XS</b>, 136 bytes per 256: half d, 16 high scale bits, 4 bytes of low scale nibbles, 128 bytes of nibbles;
/// sub-block j of 32 weighs d·(ls_j − 32)·value.</item>
/// <item><b>MXFP4</b>, 17 bytes per 32: an E8M0 exponent and nibbles indexing E2M1 values.</item>
/// </list>
/// </summary>
public static class LowBitQuants
{
    private static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary>Decodes Q2_K blocks.</summary>
    public static void DequantizeQ2K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 84, 84), scales = blk[..16], qs = blk.Slice(16, 64);
            float d = Half(blk, 80), dmin = Half(blk, 82);
            Span<float> y = dst.Slice(b * 256, 256);
            for (int e = 0; e < 256; e++)
            {
                int half = e / 128, j = e % 128 / 32, l = e % 32;
                int q = (qs[32 * half + l] >> (2 * j)) & 3;
                byte sc = scales[e / 16];
                y[e] = d * (sc & 0xF) * q - dmin * (sc >> 4);
            }
        }
    }

    /// <summary>Q3_K's 6-bit scale <paramref name="j"/> (still offset by 32) from its 12 packed bytes: low nibbles of
    /// bytes 0-7 then their high nibbles, two high bits each from bytes 8-11.</summary>
    public static int Q3Scale(ReadOnlySpan<byte> packed, int j) =>
        (j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4) | (((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);

    /// <summary>Q3_K's sixteen 6-bit scales (still offset by 32) from their 12 packed bytes.</summary>
    public static void Q3Scales(ReadOnlySpan<byte> packed, Span<int> scales)
    {
        for (int j = 0; j < 16; j++) scales[j] = Q3Scale(packed, j);
    }

    /// <summary>Decodes Q3_K blocks.</summary>
    public static void DequantizeQ3K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        Span<int> sc = stackalloc int[16];
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 110, 110), hmask = blk[..32], qs = blk.Slice(32, 64);
            Q3Scales(blk.Slice(96, 12), sc);
            float d = Half(blk, 108);
            Span<float> y = dst.Slice(b * 256, 256);
            for (int e = 0; e < 256; e++)
            {
                int half = e / 128, j = e % 128 / 32, l = e % 32;
                int q = ((qs[32 * half + l] >> (2 * j)) & 3) - ((hmask[l] >> (4 * half + j) & 1) != 0 ? 0 : 4);
                y[e] = d * (sc[e / 16] - 32) * q;
            }
        }
    }

    /// <summary>The trit at digit <paramref name="n"/> of a base-3 packed byte (ggml's fixed-point read).</summary>
    public static int Trit(byte packed, int n)
    {
        byte q = (byte)(packed * (n switch { 0 => 1, 1 => 3, 2 => 9, 3 => 27, _ => 81 }));
        return (q * 3) >> 8;
    }

    /// <summary>Weight <paramref name="e"/> (−1, 0 or 1) of a TQ1_0 block: weights 0-159 are the five digits of bytes
    /// 0-31 (32 weights per digit), 160-239 the five digits of bytes 32-47 (16 per digit), 240-255 the four digits of
    /// the qh bytes 48-51 (4 per digit).</summary>
    public static sbyte Tq1Weight(ReadOnlySpan<byte> blk, int e)
    {
        (int at, int n) = e < 160 ? (e % 32, e / 32) : e < 240 ? (32 + (e - 160) % 16, (e - 160) / 16) : (48 + (e - 240) % 4, (e - 240) / 4);
        return (sbyte)(Trit(blk[at], n) - 1);
    }

    /// <summary>Decodes TQ1_0 blocks.</summary>
    public static void DequantizeTq1(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 54, 54);
            float d = Half(blk, 52);
            for (int e = 0; e < 256; e++) dst[b * 256 + e] = Tq1Weight(blk, e) * d;
        }
    }

    /// <summary>Decodes TQ2_0 blocks.</summary>
    public static void DequantizeTq2(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 66, 66);
            float d = Half(blk, 64);
            for (int e = 0; e < 256; e++)
            {
                int half = e / 128, l = e % 128 / 32, m = e % 32;
                dst[b * 256 + e] = (((blk[32 * half + m] >> (2 * l)) & 3) - 1) * d;
            }
        }
    }

    /// <summary>Decodes IQ4_NL blocks.</summary>
    public static void DequantizeIq4Nl(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 32; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 18, 18);
            float d = Half(blk, 0);
            for (int j = 0; j < 16; j++)
            {
                dst[32 * b + j] = d * IQuantTables.Iq4Values[blk[2 + j] & 0xF];
                dst[32 * b + j + 16] = d * IQuantTables.Iq4Values[blk[2 + j] >> 4];
            }
        }
    }

    /// <summary>IQ4_XS's 6-bit scale of sub-block <paramref name="j"/> (still offset by 32).</summary>
    public static int Iq4XsScale(ReadOnlySpan<byte> blk, int j) =>
        ((blk[4 + j / 2] >> (4 * (j % 2))) & 0xF) | (((BinaryPrimitives.ReadUInt16LittleEndian(blk[2..]) >> (2 * j)) & 3) << 4);

    /// <summary>Decodes IQ4_XS blocks.</summary>
    public static void DequantizeIq4Xs(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 256; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 136, 136);
            float d = Half(blk, 0);
            for (int j = 0; j < 8; j++)
            {
                float dl = d * (Iq4XsScale(blk, j) - 32);
                for (int l = 0; l < 16; l++)
                {
                    byte q = blk[8 + 16 * j + l];
                    dst[b * 256 + 32 * j + l] = dl * IQuantTables.Iq4Values[q & 0xF];
                    dst[b * 256 + 32 * j + l + 16] = dl * IQuantTables.Iq4Values[q >> 4];
                }
            }
        }
    }

    /// <summary>Decodes MXFP4 blocks.</summary>
    public static void DequantizeMxfp4(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / 32; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * 17, 17);
            float d = IQuantTables.E8M0Half(blk[0]);
            for (int j = 0; j < 16; j++)
            {
                dst[32 * b + j] = IQuantTables.Fp4Values[blk[1 + j] & 0xF] * d;
                dst[32 * b + j + 16] = IQuantTables.Fp4Values[blk[1 + j] >> 4] * d;
            }
        }
    }

    /// <summary>ggml's <c>quantize_row_mxfp4_ref</c>: e = ⌊log2 max|x|⌋ − 2 + 127 (log2f as the C library computes
    /// it), each weight the nearest of the 16 values at that scale (the first of equals).</summary>
    public static void QuantizeMxfp4(ReadOnlySpan<float> x, Span<byte> dst)
    {
        Span<float> grid = stackalloc float[16];   // the 16 values at a block's scale, each product rounded as ggml's
        for (int b = 0; b < x.Length / 32; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(32 * b, 32);
            Span<byte> y = dst.Slice(17 * b, 17);
            float amax = 0;
            foreach (float v in xs) if (amax < MathF.Abs(v)) amax = MathF.Abs(v);
            byte e = amax > 0 ? (byte)(MathF.Floor(MathF.Log2(amax)) - 2 + 127) : (byte)0;
            float d = IQuantTables.E8M0Half(e);
            y[0] = e;
            for (int i = 0; i < 16; i++) grid[i] = IQuantTables.Fp4Values[i] * d;
            for (int j = 0; j < 16; j++) y[1 + j] = (byte)(NearestFp4(xs[j], grid) | (NearestFp4(xs[j + 16], grid) << 4));
        }
    }

    private static int NearestFp4(float x, ReadOnlySpan<float> grid)
    {
        int best = 0;
        float bestErr = MathF.Abs(grid[0] - x);
        for (int i = 1; i < 16; i++)
        {
            float err = MathF.Abs(grid[i] - x);
            if (err < bestErr) { best = i; bestErr = err; }
        }
        return best;
    }
}

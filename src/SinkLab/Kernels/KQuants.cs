using System.Buffers.Binary;
using System.Numerics.Tensors;

namespace SinkLab.Kernels;

/// <summary>
/// ggml's K-quant super-blocks of 256 weights, read byte by byte in ggml's layout (<c>ggml-common.h</c>):
/// <list type="bullet">
/// <item><b>Q4_K</b>, 144 bytes: half d, half dmin, 12 bytes of eight 6-bit scales and eight 6-bit mins, 128 bytes of
/// nibbles. Sub-block j (32 weights) is <c>d·sc_j·q − dmin·m_j</c>; 64 weights share 32 bytes, low nibbles first.</item>
/// <item><b>Q5_K</b>, 176 bytes: as Q4_K plus 32 bytes of fifth bits between the scales and the nibbles; bit j of
/// qh[l] belongs to element l of sub-block j.</item>
/// <item><b>Q6_K</b>, 210 bytes: 128 bytes of low nibbles (ql), 64 bytes of high 2-bit pairs (qh), sixteen int8
/// scales, half d. Weight e is <c>d·scale[e/16]·(q − 32)</c> with q = 4 low bits | 2 high bits.</item>
/// </list>
/// Dequantization follows ggml's <c>dequantize_row_q4_K</c> / <c>_q5_K</c> / <c>_q6_K</c>; the encoders are in
/// <see cref="KQuantEncoders"/> (ggml's reference searches, byte-identical to llama-quantize's).
/// </summary>
public static class KQuants
{
    /// <summary>Weights per super-block.</summary>
    public const int BlockElements = 256;
    /// <summary>Bytes of a Q4_K block.</summary>
    public const int Q4KBytes = 144;
    /// <summary>Bytes of a Q5_K block.</summary>
    public const int Q5KBytes = 176;
    /// <summary>Bytes of a Q6_K block.</summary>
    public const int Q6KBytes = 210;

    private static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary>ggml's <c>get_scale_min_k4</c>: the 6-bit scale and min of sub-block j from the 12 packed bytes.</summary>
    internal static (int Scale, int Min) ScaleMin(ReadOnlySpan<byte> q, int j) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    /// <summary>Decodes Q4_K blocks.</summary>
    public static void DequantizeQ4K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / BlockElements; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * Q4KBytes, Q4KBytes);
            float d = Half(blk, 0), dmin = Half(blk, 2);
            ReadOnlySpan<byte> scales = blk.Slice(4, 12), qs = blk.Slice(16, 128);
            Span<float> y = dst.Slice(b * BlockElements, BlockElements);
            for (int g = 0; g < 4; g++)
            {
                var (s1, m1) = ScaleMin(scales, 2 * g);
                var (s2, m2) = ScaleMin(scales, 2 * g + 1);
                float d1 = d * s1, o1 = dmin * m1, d2 = d * s2, o2 = dmin * m2;
                for (int l = 0; l < 32; l++)
                {
                    byte q = qs[32 * g + l];
                    y[64 * g + l] = d1 * (q & 0xF) - o1;
                    y[64 * g + 32 + l] = d2 * (q >> 4) - o2;
                }
            }
        }
    }

    /// <summary>Decodes Q5_K blocks (ggml's <c>dequantize_row_q5_K</c>).</summary>
    public static void DequantizeQ5K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / BlockElements; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * Q5KBytes, Q5KBytes);
            float d = Half(blk, 0), dmin = Half(blk, 2);
            ReadOnlySpan<byte> scales = blk.Slice(4, 12), qh = blk.Slice(16, 32), qs = blk.Slice(48, 128);
            Span<float> y = dst.Slice(b * BlockElements, BlockElements);
            for (int g = 0; g < 4; g++)
            {
                var (s1, m1) = ScaleMin(scales, 2 * g);
                var (s2, m2) = ScaleMin(scales, 2 * g + 1);
                for (int l = 0; l < 32; l++)
                {
                    byte q = qs[32 * g + l];
                    y[64 * g + l] = d * s1 * ((q & 0xF) | (((qh[l] >> (2 * g)) & 1) << 4)) - dmin * m1;
                    y[64 * g + 32 + l] = d * s2 * ((q >> 4) | (((qh[l] >> (2 * g + 1)) & 1) << 4)) - dmin * m2;
                }
            }
        }
    }

    /// <summary>Decodes Q6_K blocks.</summary>
    public static void DequantizeQ6K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int b = 0; b < dst.Length / BlockElements; b++)
        {
            ReadOnlySpan<byte> blk = src.Slice(b * Q6KBytes, Q6KBytes);
            float d = Half(blk, 208);
            Span<float> y = dst.Slice(b * BlockElements, BlockElements);
            for (int n = 0; n < 2; n++)
            {
                ReadOnlySpan<byte> ql = blk.Slice(64 * n, 64), qh = blk.Slice(128 + 32 * n, 32);
                ReadOnlySpan<byte> sc = blk.Slice(192 + 8 * n, 8);
                Span<float> yy = y.Slice(128 * n, 128);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    yy[l] = d * (sbyte)sc[s] * (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                    yy[l + 32] = d * (sbyte)sc[s + 2] * (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                    yy[l + 64] = d * (sbyte)sc[s + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                    yy[l + 96] = d * (sbyte)sc[s + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                }
            }
        }
    }
}

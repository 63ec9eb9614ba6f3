using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// The encoders <c>llama-quantize</c> runs when it is given an importance matrix (ggml's <c>quantize_row_*_impl</c>):
/// each weight's rounding error is weighted by imatrix·√(σ² + x²) (σ² the mean square of the super-block, or of the row
/// for the 32-element types), the sub-block searches are <c>make_qkx3_quants</c> / <c>make_qx_quants</c> with those
/// weights, and the sub-block scales themselves are fitted by <c>make_qp_quants</c> (Q2_K, Q4_K, Q5_K) or
/// <c>make_qx_quants</c> (Q3_K) weighted by each sub-block's total weight. Q6_K takes the importance directly as its
/// weights; Q8_0 ignores it, as ggml does.
/// </summary>
public static class ImportanceEncoders
{
    private const float GroupMaxEps = 1e-15f;
    private static int Near(float f) => KQuantEncoders.NearestInt(f);
    private static void WriteHalf(Span<byte> b, int at, float v) => BinaryPrimitives.WriteUInt16LittleEndian(b[at..], BitConverter.HalfToUInt16Bits((Half)v));
    private static float ReadHalf(Span<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary>Encodes one row of <paramref name="type"/> with <paramref name="importance"/> (one value per column).</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, ReadOnlySpan<float> importance, Span<byte> dst)
    {
        if (importance.Length != x.Length) throw new ArgumentException($"{importance.Length} importance values for a row of {x.Length}", nameof(importance));
        switch (type)
        {
            case GgmlType.Q2_K: Q2K(x, importance, dst); break;
            case GgmlType.Q3_K: Q3K(x, importance, dst); break;
            case GgmlType.Q4_K: Q4KOrQ5K(x, importance, dst, five: false); break;
            case GgmlType.Q5_K: Q4KOrQ5K(x, importance, dst, five: true); break;
            case GgmlType.Q6_K: Q6K(x, importance, dst); break;
            case GgmlType.Q4_0 or GgmlType.Q5_0: Symmetric32(x, importance, dst, type == GgmlType.Q5_0); break;
            case GgmlType.Q4_1 or GgmlType.Q5_1: WithMin32(x, importance, dst, type == GgmlType.Q5_1); break;
            case GgmlType.IQ4_NL: Iq4Encoder.Quantize(x, dst, xs: false, importance); break;
            case GgmlType.IQ4_XS: Iq4Encoder.Quantize(x, dst, xs: true, importance); break;
            default: Quantizer.Quantize(type, x, dst); break;   // Q8_0 and the float types do not use it
        }
    }

    /// <summary><c>make_qkx3_quants</c> with weights given and no absolute-error mode: the same search as
    /// <c>make_qkx2_quants</c> (whose degenerate test max == min is max ≤ min once min is clamped to ≤ 0).</summary>
    internal static float MakeQkx3(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> L, out float theMin,
        Span<byte> laux, float rmin, float rdelta, int nstep) =>
        KQuantEncoders.MakeQkx2(n, nmax, x, weights, L, out theMin, laux, rmin, rdelta, nstep, useMad: false);

    /// <summary><c>make_qp_quants</c>: non-negative values (sub-block scales or mins) on [0, nmax] levels, weighted.</summary>
    internal static float MakeQp(int n, int nmax, ReadOnlySpan<float> x, Span<byte> L, ReadOnlySpan<float> qw)
    {
        float max = 0;
        for (int i = 0; i < n; i++) max = Math.Max(max, x[i]);
        if (max < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }
        float iscale = nmax / max;
        for (int i = 0; i < n; i++) L[i] = (byte)Near(iscale * x[i]);
        float scale = 1 / iscale, bestMse = 0;
        for (int i = 0; i < n; i++)
        {
            float diff = x[i] - scale * L[i];
            bestMse += qw[i] * diff * diff;
        }
        for (int s = -4; s <= 4; s++)
        {
            if (s == 0) continue;
            float iscaleS = (0.1f * s + nmax) / max, scaleS = 1 / iscaleS, mse = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Min(nmax, Near(iscaleS * x[i]));
                float diff = x[i] - scaleS * l;
                mse += qw[i] * diff * diff;
            }
            if (mse < bestMse)
            {
                bestMse = mse;
                iscale = iscaleS;
            }
        }
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Min(nmax, Near(iscale * x[i]));
            L[i] = (byte)l;
            float w = qw[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int t = 0; t < 5; t++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = qw[i];
                float slx = sumlx - w * x[i] * L[i], sl2 = suml2 - w * L[i] * L[i];
                if (slx > 0 && sl2 > 0)
                {
                    int newL = Math.Min(nmax, Near(x[i] * sl2 / slx));
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (byte)newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }

    /// <summary>weight[l] = importance[l]·√(σ² + x[l]²), the weighting of every _impl encoder; returns Σ weight.</summary>
    private static float Weigh(ReadOnlySpan<float> x, ReadOnlySpan<float> importance, float sigma2, Span<float> weight)
    {
        float sum = 0;
        for (int l = 0; l < x.Length; l++) weight[l] = importance[l] * MathF.Sqrt(sigma2 + x[l] * x[l]);
        for (int l = 0; l < x.Length; l++) sum += weight[l];
        return sum;
    }

    private static float SumSquares(ReadOnlySpan<float> x)
    {
        float s = 0;
        foreach (float v in x) s += v * v;
        return s;
    }

    /// <summary><c>quantize_row_q2_K_impl</c>.</summary>
    private static void Q2K(ReadOnlySpan<float> x, ReadOnlySpan<float> qwRow, Span<byte> dst)
    {
        Span<byte> L = stackalloc byte[256], laux = stackalloc byte[16], ls = stackalloc byte[16], lm = stackalloc byte[16];
        Span<float> weight = stackalloc float[16], mins = stackalloc float[16], scales = stackalloc float[16], sw = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256), qw = qwRow.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(84 * b, 84);
            sw.Clear();
            float sigma2 = SumSquares(xb) / 256;
            for (int j = 0; j < 16; j++)
            {
                sw[j] += Weigh(xb.Slice(16 * j, 16), qw.Slice(16 * j, 16), sigma2, weight);
                scales[j] = MakeQkx3(16, 3, xb.Slice(16 * j, 16), weight, L.Slice(16 * j, 16), out mins[j], laux, -0.9f, 0.05f, 36);
            }
            float dm = MakeQp(16, 15, scales, ls, sw), mm = MakeQp(16, 15, mins, lm, sw);
            WriteHalf(y, 80, dm);
            WriteHalf(y, 82, mm);
            dm = ReadHalf(y, 80);
            mm = ReadHalf(y, 82);
            for (int j = 0; j < 16; j++) y[j] = (byte)(ls[j] | (lm[j] << 4));
            for (int j = 0; j < 16; j++)
            {
                float d = dm * (y[j] & 0xF);
                if (d == 0) continue;
                float m = mm * (y[j] >> 4);
                for (int i = 0; i < 16; i++) L[16 * j + i] = (byte)Math.Max(0, Math.Min(3, Near((xb[16 * j + i] + m) / d)));
            }
            for (int j = 0; j < 256; j += 128)
                for (int l = 0; l < 32; l++)
                    y[16 + j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }

    /// <summary><c>quantize_row_q3_K_impl</c>.</summary>
    private static void Q3K(ReadOnlySpan<float> x, ReadOnlySpan<float> qwRow, Span<byte> dst)
    {
        Span<sbyte> L = stackalloc sbyte[256], ls = stackalloc sbyte[16];
        Span<float> weight = stackalloc float[16], scales = stackalloc float[16], sw = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256), qw = qwRow.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(110 * b, 110);
            float sigma2 = 2 * SumSquares(xb) / 256;
            for (int j = 0; j < 16; j++)
            {
                sw[j] = Weigh(xb.Slice(16 * j, 16), qw.Slice(16 * j, 16), sigma2, weight);
                scales[j] = KQuantEncoders.MakeQx(16, 4, xb.Slice(16 * j, 16), L.Slice(16 * j, 16), weight);
            }
            Span<byte> packed = y.Slice(96, 12);
            packed.Clear();
            float dBlock = KQuantEncoders.MakeQx(16, 32, scales, ls, sw);
            for (int j = 0; j < 16; j++)
            {
                int l = ls[j];
                if (j < 8) packed[j] = (byte)(l & 0xF);
                else packed[j - 8] |= (byte)((l & 0xF) << 4);
                packed[j % 4 + 8] |= (byte)((l >> 4) << (2 * (j / 4)));
            }
            WriteHalf(y, 108, dBlock);
            KQuantEncoders.FinishQ3K(xb, y, L);
        }
    }

    /// <summary><c>quantize_row_q4_K_impl</c> / <c>quantize_row_q5_K_impl</c>.</summary>
    private static void Q4KOrQ5K(ReadOnlySpan<float> x, ReadOnlySpan<float> qwRow, Span<byte> dst, bool five)
    {
        int nmax = five ? 31 : 15, size = five ? 176 : 144;
        Span<byte> L = stackalloc byte[256], laux = stackalloc byte[32], ls = stackalloc byte[8], lm = stackalloc byte[8];
        Span<float> weights = stackalloc float[32], mins = stackalloc float[8], scales = stackalloc float[8], sw = stackalloc float[8];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256), qw = qwRow.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(size * b, size);
            float sigma2 = 2 * SumSquares(xb) / 256;
            for (int j = 0; j < 8; j++)
            {
                sw[j] = Weigh(xb.Slice(32 * j, 32), qw.Slice(32 * j, 32), sigma2, weights);
                scales[j] = MakeQkx3(32, nmax, xb.Slice(32 * j, 32), weights, L.Slice(32 * j, 32), out mins[j], laux, -0.9f, 0.05f, 36);
            }
            float dBlock = MakeQp(8, 63, scales, ls, sw), mBlock = MakeQp(8, 63, mins, lm, sw);
            KQuantEncoders.FinishQ4KOrQ5K(xb, y, L, ls, lm, dBlock, mBlock, five);
        }
    }

    /// <summary><c>quantize_row_q6_K_impl</c>: the importance is the weight of make_qx_quants itself.</summary>
    private static void Q6K(ReadOnlySpan<float> x, ReadOnlySpan<float> qwRow, Span<byte> dst)
    {
        Span<sbyte> L = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256), qw = qwRow.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(210 * b, 210);
            float maxScale = 0, maxAbs = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                scales[ib] = KQuantEncoders.MakeQx(16, 32, xb.Slice(16 * ib, 16), L.Slice(16 * ib, 16), qw.Slice(16 * ib, 16));
                float a = MathF.Abs(scales[ib]);
                if (a > maxAbs) { maxAbs = a; maxScale = scales[ib]; }
            }
            KQuantEncoders.FinishQ6K(xb, y, L, scales, maxScale, maxAbs);
        }
    }

    /// <summary><c>quantize_row_q4_0_impl</c> / <c>_q5_0_impl</c>: make_qx_quants per 32 with σ² of the whole row.</summary>
    private static void Symmetric32(ReadOnlySpan<float> x, ReadOnlySpan<float> qw, Span<byte> dst, bool five)
    {
        Span<sbyte> L = stackalloc sbyte[32];
        Span<float> weight = stackalloc float[32];
        float sigma2 = SumSquares(x) / x.Length;
        int size = five ? 22 : 18;
        for (int b = 0; b < x.Length / 32; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * b, 32);
            Weigh(xb, qw.Slice(32 * b, 32), sigma2, weight);
            float d = KQuantEncoders.MakeQx(32, five ? 16 : 8, xb, L, weight);
            Span<byte> y = dst.Slice(size * b, size);
            WriteHalf(y, 0, d);
            PackNibbles(L, y, five ? 6 : 2, five ? 2 : -1);
        }
    }

    /// <summary><c>quantize_row_q4_1_impl</c> / <c>_q5_1_impl</c>: make_qkx3_quants per 32 with σ² of the whole row.</summary>
    private static void WithMin32(ReadOnlySpan<float> x, ReadOnlySpan<float> qw, Span<byte> dst, bool five)
    {
        Span<byte> L = stackalloc byte[32], laux = stackalloc byte[32];
        Span<float> weight = stackalloc float[32];
        float sigma2 = SumSquares(x) / x.Length;
        int size = five ? 24 : 20;
        for (int b = 0; b < x.Length / 32; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * b, 32);
            Weigh(xb, qw.Slice(32 * b, 32), sigma2, weight);
            float d = MakeQkx3(32, five ? 31 : 15, xb, weight, L, out float min, laux, -0.9f, 0.05f, 36);
            Span<byte> y = dst.Slice(size * b, size);
            WriteHalf(y, 0, d);
            WriteHalf(y, 2, -min);
            PackNibbles(MemoryMarshal.Cast<byte, sbyte>(L), y, five ? 8 : 4, five ? 4 : -1);
        }
    }

    /// <summary>32 levels into nibbles at <paramref name="qsAt"/> (element j low, j + 16 high) and, when
    /// <paramref name="qhAt"/> ≥ 0, their fifth bits as a little-endian word there.</summary>
    private static void PackNibbles(ReadOnlySpan<sbyte> L, Span<byte> y, int qsAt, int qhAt)
    {
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int x0 = (byte)L[j], x1 = (byte)L[j + 16];
            y[qsAt + j] = (byte)((x0 & 0xF) | ((x1 & 0xF) << 4));
            qh |= (uint)((x0 & 0x10) >> 4) << j;
            qh |= (uint)((x1 & 0x10) >> 4) << (j + 16);
        }
        if (qhAt >= 0) BinaryPrimitives.WriteUInt32LittleEndian(y[qhAt..], qh);
    }
}

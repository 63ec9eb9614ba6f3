using System.Buffers.Binary;

namespace SinkLab.Kernels;

/// <summary>
/// The K-quant encoders llama.cpp's <c>llama-quantize</c> runs without an importance matrix (ggml's
/// <c>quantize_row_q{2..6}_K_ref</c>), step for step in single precision so the bytes are the same: per sub-block a
/// scale (and min) search — <c>make_qkx2_quants</c> (weighted least squares over a sweep of candidate scales, Q2_K,
/// Q4_K, Q5_K), <c>make_q3_quants</c> (coordinate descent, Q3_K), <c>make_qx_quants</c> (Q6_K) — then the sub-block
/// scales quantized against the block's largest, and every weight re-rounded against its decoded scale.
/// Rounding is ggml's <c>nearest_int</c> (to nearest, ties to even); halves are rounded to nearest even.
/// </summary>
public static class KQuantEncoders
{
    private const float GroupMaxEps = 1e-15f;

    /// <summary>ggml's <c>nearest_int</c>: the magic-number round.</summary>
    internal static int NearestInt(float f)
    {
        float v = f + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007fffff) - 0x00400000;
    }

    private static void WriteHalf(Span<byte> b, int at, float v) => BinaryPrimitives.WriteUInt16LittleEndian(b[at..], BitConverter.HalfToUInt16Bits((Half)v));
    private static float ReadHalf(Span<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary><c>make_qkx2_quants</c>: scale and min (returned as −min) of n values in [0, nmax] levels, weighted.</summary>
    internal static float MakeQkx2(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> L, out float theMin,
        Span<byte> laux, float rmin, float rdelta, int nstep, bool useMad)
    {
        float min = x[0], max = x[0], sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            L[..n].Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min), scale = 1 / iscale, bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }
        for (int s = 0; s <= nstep; s++)
        {
            iscale = (rmin + rdelta * s + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXl - sumX * sumL) / det, thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError)
                {
                    laux[..n].CopyTo(L);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>The signed value of largest magnitude (first of equals) and its magnitude.</summary>
    private static float LargestMagnitude(ReadOnlySpan<float> x, out float amax)
    {
        float max = 0;
        amax = 0;
        foreach (float v in x)
        {
            float ax = MathF.Abs(v);
            if (ax > amax) { amax = ax; max = v; }
        }
        return max;
    }

    /// <summary><c>make_qx_quants</c> with rmse_type 1: symmetric levels in [−nmax, nmax), weighted by
    /// <paramref name="qw"/> or, when it is empty, by x².</summary>
    internal static float MakeQx(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> L, ReadOnlySpan<float> qw = default)
    {
        float max = LargestMagnitude(x[..n], out float amax);
        if (amax < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        (float sumlx, float suml2) = SymmetricLevels(n, nmax, x, iscale, qw, L, nmax);
        float scale = suml2 != 0 ? sumlx / suml2 : 0f, best = scale * sumlx;
        for (int s = -9; s <= 9; s++)
        {
            if (s == 0) continue;
            iscale = -(nmax + 0.1f * s) / max;
            (sumlx, suml2) = SymmetricLevels(n, nmax, x, iscale, qw, default, 0);
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++) L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>The levels round(iscale·x) clamped to [−nmax, nmax) and their weighted sums Σw·x·l and Σw·l² (w from
    /// <paramref name="qw"/>, or x² when it is empty), in ggml's order; writes l + <paramref name="offset"/> to
    /// <paramref name="L"/> unless it is empty.</summary>
    private static (float Sumlx, float Suml2) SymmetricLevels(int n, int nmax, ReadOnlySpan<float> x, float iscale, ReadOnlySpan<float> qw,
        Span<sbyte> L, int offset)
    {
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            if (!L.IsEmpty) L[i] = (sbyte)(l + offset);
            float w = qw.IsEmpty ? x[i] * x[i] : qw[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        return (sumlx, suml2);
    }

    /// <summary><c>make_q3_quants</c> with do_rmse: levels in [−nmax, nmax) improved one weight at a time (five passes).</summary>
    internal static float MakeQ3(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> L)
    {
        float max = LargestMagnitude(x[..n], out float amax);
        if (amax < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }
        (float sumlx, float suml2) = SymmetricLevels(n, nmax, x, -nmax / max, default, L, 0);
        for (int t = 0; t < 5; t++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * L[i];
                if (slx > 0)
                {
                    float sl2 = suml2 - w * L[i] * L[i];
                    int newL = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(x[i] * sl2 / slx)));
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (sbyte)newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) L[i] += (sbyte)nmax;
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }

    /// <summary><c>quantize_row_q2_K_ref</c>: 84-byte blocks.</summary>
    public static void Q2K(ReadOnlySpan<float> x, Span<byte> dst)
    {
        Span<byte> L = stackalloc byte[256], laux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16], mins = stackalloc float[16], scales = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(84 * b, 84);
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 16; j++)
            {
                for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(xb[16 * j + l]);
                scales[j] = MakeQkx2(16, 3, xb.Slice(16 * j, 16), weights, L.Slice(16 * j, 16), out mins[j], laux, -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            if (maxScale > 0)
            {
                float iscale = 15f / maxScale;
                for (int j = 0; j < 16; j++) y[j] = (byte)NearestInt(iscale * scales[j]);
                WriteHalf(y, 80, maxScale / 15f);
            }
            else
            {
                y[..16].Clear();
                WriteHalf(y, 80, 0f);
            }
            if (maxMin > 0)
            {
                float iscale = 15f / maxMin;
                for (int j = 0; j < 16; j++) y[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
                WriteHalf(y, 82, maxMin / 15f);
            }
            else WriteHalf(y, 82, 0f);
            float d0 = ReadHalf(y, 80), dmin0 = ReadHalf(y, 82);
            for (int j = 0; j < 16; j++)
            {
                float d = d0 * (y[j] & 0xF);
                if (d == 0) continue;
                float dm = dmin0 * (y[j] >> 4);
                for (int i = 0; i < 16; i++) L[16 * j + i] = (byte)Math.Max(0, Math.Min(3, NearestInt((xb[16 * j + i] + dm) / d)));
            }
            for (int j = 0; j < 256; j += 128)
                for (int l = 0; l < 32; l++)
                    y[16 + j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }

    /// <summary>The sixteen per-16 scales of a symmetric super-block (Q3_K: <c>make_q3_quants</c> with 4 levels each
    /// side; Q6_K: <c>make_qx_quants</c> with 32) and the signed one of largest magnitude (first of equals).</summary>
    private static float SubBlockScales(ReadOnlySpan<float> xb, Span<sbyte> L, Span<float> scales, bool q3, out float maxAbs)
    {
        float maxScale = 0;
        maxAbs = 0;
        for (int j = 0; j < 16; j++)
        {
            scales[j] = q3 ? MakeQ3(16, 4, xb.Slice(16 * j, 16), L.Slice(16 * j, 16)) : MakeQx(16, 32, xb.Slice(16 * j, 16), L.Slice(16 * j, 16));
            float a = MathF.Abs(scales[j]);
            if (a > maxAbs) { maxAbs = a; maxScale = scales[j]; }
        }
        return maxScale;
    }

    /// <summary><c>quantize_row_q3_K_ref</c>: 110-byte blocks.</summary>
    public static void Q3K(ReadOnlySpan<float> x, Span<byte> dst)
    {
        Span<sbyte> L = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(110 * b, 110);
            float maxScale = SubBlockScales(xb, L, scales, q3: true, out _);
            Span<byte> packed = y.Slice(96, 12);
            packed.Clear();
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int j = 0; j < 16; j++)
                {
                    int l = (sbyte)NearestInt(iscale * scales[j]);
                    l = Math.Max(-32, Math.Min(31, l)) + 32;
                    if (j < 8) packed[j] = (byte)(l & 0xF);
                    else packed[j - 8] |= (byte)((l & 0xF) << 4);
                    packed[j % 4 + 8] |= (byte)((l >> 4) << (2 * (j / 4)));
                }
                WriteHalf(y, 108, 1 / iscale);
            }
            else WriteHalf(y, 108, 0f);
            FinishQ3K(xb, y, L);
        }
    }

    /// <summary><c>quantize_row_q4_K_ref</c> (nmax 15, 144-byte blocks) and <c>quantize_row_q5_K_ref</c> (nmax 31,
    /// 176-byte blocks with the fifth bits).</summary>
    public static void Q4KOrQ5K(ReadOnlySpan<float> x, Span<byte> dst, bool five)
    {
        int nmax = five ? 31 : 15, size = five ? 176 : 144;
        Span<byte> L = stackalloc byte[256], laux = stackalloc byte[32], ls = stackalloc byte[8], lm = stackalloc byte[8];
        Span<float> weights = stackalloc float[32], mins = stackalloc float[8], scales = stackalloc float[8];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(size * b, size);
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += xb[32 * j + l] * xb[32 * j + l];
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(xb[32 * j + l]);
                scales[j] = five
                    ? MakeQkx2(32, 31, xb.Slice(32 * j, 32), weights, L.Slice(32 * j, 32), out mins[j], laux, -0.5f, 0.1f, 15, false)
                    : MakeQkx2(32, 15, xb.Slice(32 * j, 32), weights, L.Slice(32 * j, 32), out mins[j], laux, -1f, 0.1f, 20, false);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            float invScale = maxScale > 0 ? 63f / maxScale : 0f, invMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < 8; j++)
            {
                ls[j] = (byte)NearestInt(invScale * scales[j]);
                lm[j] = (byte)NearestInt(invMin * mins[j]);
            }
            FinishQ4KOrQ5K(xb, y, L, ls, lm, maxScale / 63f, maxMin / 63f, five);
        }
    }

    /// <summary>The rest of Q4_K's and Q5_K's encoders once the eight 6-bit scales and mins and the two block factors
    /// are chosen (shared with the importance-weighted encoder): packing, every weight re-rounded against its decoded
    /// scale and min, nibbles and fifth bits.</summary>
    internal static void FinishQ4KOrQ5K(ReadOnlySpan<float> xb, Span<byte> y, Span<byte> L, ReadOnlySpan<byte> ls, ReadOnlySpan<byte> lm,
        float d, float dmin, bool five)
    {
        int nmax = five ? 31 : 15, qsAt = five ? 48 : 16;
        Span<byte> s = y.Slice(4, 12);
        for (int j = 0; j < 8; j++)
        {
            byte a = Math.Min((byte)63, ls[j]), m = Math.Min((byte)63, lm[j]);
            if (j < 4)
            {
                s[j] = a;
                s[j + 4] = m;
            }
            else
            {
                s[j + 4] = (byte)((a & 0xF) | ((m & 0xF) << 4));
                s[j - 4] |= (byte)((a >> 4) << 6);
                s[j] |= (byte)((m >> 4) << 6);
            }
        }
        WriteHalf(y, 0, d);
        WriteHalf(y, 2, dmin);
        float d0 = ReadHalf(y, 0), dmin0 = ReadHalf(y, 2);
        for (int j = 0; j < 8; j++)
        {
            (int sc, int m) = j < 4 ? (s[j] & 63, s[j + 4] & 63) : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));
            float dj = d0 * sc;
            if (dj == 0) continue;
            float dm = dmin0 * m;
            for (int i = 0; i < 32; i++) L[32 * j + i] = (byte)Math.Max(0, Math.Min(nmax, NearestInt((xb[32 * j + i] + dm) / dj)));
        }
        if (five) y.Slice(16, 32).Clear();
        for (int n = 0, g = 0; n < 256; n += 64, g++)
            for (int j = 0; j < 32; j++)
            {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) { l1 -= 16; y[16 + j] |= (byte)(1 << (2 * g)); }
                if (l2 > 15) { l2 -= 16; y[16 + j] |= (byte)(2 << (2 * g)); }
                y[qsAt + 32 * g + j] = (byte)(l1 | (l2 << 4));
            }
    }

    /// <summary><c>quantize_row_q6_K_ref</c>: 210-byte blocks.</summary>
    public static void Q6K(ReadOnlySpan<float> x, Span<byte> dst)
    {
        Span<sbyte> L = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> xb = x.Slice(256 * b, 256);
            Span<byte> y = dst.Slice(210 * b, 210);
            float maxScale = SubBlockScales(xb, L, scales, q3: false, out float maxAbs);
            FinishQ6K(xb, y, L, scales, maxScale, maxAbs);
        }
    }

    /// <summary>The rest of Q6_K's encoder once the per-16 scales are known (shared with the importance-weighted
    /// encoder): the scales quantized to int8 against the largest, every weight re-rounded against its decoded scale.</summary>
    internal static void FinishQ6K(ReadOnlySpan<float> xb, Span<byte> y, Span<sbyte> L, ReadOnlySpan<float> scales, float maxScale, float maxAbs)
    {
        if (maxAbs < GroupMaxEps)
        {
            y.Clear();
            return;
        }
        float iscale = -128f / maxScale;
        WriteHalf(y, 208, 1 / iscale);
        for (int ib = 0; ib < 16; ib++) y[192 + ib] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
        float d0 = ReadHalf(y, 208);
        for (int j = 0; j < 16; j++)
        {
            float d = d0 * (sbyte)y[192 + j];
            if (d == 0) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (sbyte)(Math.Max(-32, Math.Min(31, NearestInt(xb[16 * j + i] / d))) + 32);
        }
        for (int j = 0, h = 0; j < 256; j += 128, h++)
            for (int l = 0; l < 32; l++)
            {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                y[64 * h + l] = (byte)(q1 | (q3 << 4));
                y[64 * h + l + 32] = (byte)(q2 | (q4 << 4));
                y[128 + 32 * h + l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
    }

    /// <summary>The rest of Q3_K's encoders once d and the packed scales are written (shared with the
    /// importance-weighted encoder): every weight re-rounded against its decoded scale, high bits, low 2-bit planes.</summary>
    internal static void FinishQ3K(ReadOnlySpan<float> xb, Span<byte> y, Span<sbyte> L)
    {
        Span<int> sc = stackalloc int[16];
        LowBitQuants.Q3Scales(y.Slice(96, 12), sc);
        float d0 = ReadHalf(y, 108);
        for (int j = 0; j < 16; j++)
        {
            float d = d0 * (sc[j] - 32);
            if (d == 0) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (sbyte)(Math.Max(-4, Math.Min(3, NearestInt(xb[16 * j + i] / d))) + 4);
        }
        Span<byte> hmask = y[..32];
        hmask.Clear();
        for (int j = 0; j < 256; j++)
        {
            if (L[j] > 3)
            {
                hmask[j % 32] |= (byte)(1 << (j / 32));
                L[j] -= 4;
            }
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                y[32 + j / 4 + l] = (byte)((byte)L[j + l] | ((byte)L[j + l + 32] << 2) | ((byte)L[j + l + 64] << 4) | ((byte)L[j + l + 96] << 6));
    }
}

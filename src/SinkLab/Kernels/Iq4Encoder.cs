using System.Buffers.Binary;

namespace SinkLab.Kernels;

/// <summary>
/// ggml's <c>quantize_row_iq4_nl_impl</c> as <c>llama-quantize</c> runs it (<c>quantize_iq4_nl</c> /
/// <c>quantize_iq4_xs</c>, ntry = 7): per 32 weights the nearest non-linear value for each of 15 trial scales
/// (max/(values[0] + t)), keeping the weighted least-squares scale that explains most; IQ4_XS then quantizes the eight
/// sub-block scales to 6 bits against the block's largest and re-picks every value against its decoded scale.
/// Without an importance matrix the weights are x²; with one, imatrix·√(σ² + x²) as ggml does.
/// </summary>
public static class Iq4Encoder
{
    private const float GroupMaxEps = 1e-15f;

    /// <summary>ggml's <c>best_index_int8</c>: the index of the value nearest x (the upper one on a tie).</summary>
    internal static int BestIndex(ReadOnlySpan<sbyte> values, float x)
    {
        if (x <= values[0]) return 0;
        if (x >= values[15]) return 15;
        int ml = 0, mu = 15;
        while (mu - ml > 1)
        {
            int mav = (ml + mu) / 2;
            if (x < values[mav]) mu = mav; else ml = mav;
        }
        return x - values[mu - 1] < values[mu] - x ? mu - 1 : mu;
    }

    /// <summary>One block of <paramref name="x"/> (32 weights for IQ4_NL, 256 for IQ4_XS) into its bytes;
    /// <paramref name="importance"/> (same length) or empty.</summary>
    internal static void Encode(ReadOnlySpan<float> x, Span<byte> y, ReadOnlySpan<float> importance, bool xs)
    {
        const int ntry = 7;
        ReadOnlySpan<sbyte> values = IQuantTables.Iq4Values;
        int n = x.Length, nb = n / 32;
        Span<byte> L = stackalloc byte[256];
        Span<float> scales = stackalloc float[8], weight = stackalloc float[32];
        float sigma2 = 0;
        for (int j = 0; j < n; j++) sigma2 += x[j] * x[j];
        sigma2 *= 2f / n;
        int qsAt = xs ? 8 : 2;
        y.Slice(qsAt, n / 2).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(y, 0);
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < nb; ib++)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * ib, 32);
            Span<byte> lb = L.Slice(32 * ib, 32);
            for (int j = 0; j < 32; j++)
                weight[j] = importance.IsEmpty ? xb[j] * xb[j] : importance[32 * ib + j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax) { amax = ax; max = xb[j]; }
            }
            if (amax < GroupMaxEps)
            {
                scales[ib] = 0;
                continue;
            }
            float d = -max / values[0], id = 1 / d, sumqx = 0, sumq2 = 0;
            for (int j = 0; j < 32; j++)
            {
                int l = BestIndex(values, id * xb[j]);
                lb[j] = (byte)l;
                float q = values[l], w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0f;
            float best = d * sumqx;
            for (int t = -ntry; t <= ntry; t++)
            {
                id = (t + values[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < 32; j++)
                {
                    float q = values[BestIndex(values, id * xb[j])], w = weight[j];
                    sumqx += w * q * xb[j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = MathF.Abs(d);
            if (absD > amaxScale) { amaxScale = absD; maxScale = d; }
        }
        if (xs)
        {
            ushort scalesH = 0;
            Span<byte> scalesL = y.Slice(4, 4);
            scalesL.Clear();
            float d = -maxScale / 32;
            BinaryPrimitives.WriteUInt16LittleEndian(y, BitConverter.HalfToUInt16Bits((Half)d));
            float id = d != 0 ? 1 / d : 0f;
            for (int ib = 0; ib < nb; ib++)
            {
                int l = Math.Max(-32, Math.Min(31, KQuantEncoders.NearestInt(id * scales[ib])));
                float dl = d * l, idl = dl != 0 ? 1 / dl : 0f;
                for (int j = 0; j < 32; j++) L[32 * ib + j] = (byte)BestIndex(values, idl * x[32 * ib + j]);
                l += 32;
                if (ib % 2 == 0) scalesL[ib / 2] = (byte)(l & 0xF);
                else scalesL[ib / 2] |= (byte)((l & 0xF) << 4);
                scalesH |= (ushort)((l >> 4) << (2 * (ib % 8)));
            }
            BinaryPrimitives.WriteUInt16LittleEndian(y[2..], scalesH);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(y, BitConverter.HalfToUInt16Bits((Half)scales[0]));
            float id = scales[0] != 0 ? 1 / scales[0] : 0;
            for (int j = 0; j < 32; j++) L[j] = (byte)BestIndex(values, id * x[j]);
        }
        for (int i = 0; i < n / 32; i++)
            for (int j = 0; j < 16; j++) y[qsAt + 16 * i + j] = (byte)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }

    /// <summary>IQ4_NL (18 bytes per 32) or IQ4_XS (136 bytes per 256) of a whole row.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> dst, bool xs, ReadOnlySpan<float> importance = default)
    {
        int n = xs ? 256 : 32, size = xs ? 136 : 18;
        for (int b = 0; b < x.Length / n; b++)
            Encode(x.Slice(n * b, n), dst.Slice(size * b, size), importance.IsEmpty ? default : importance.Slice(n * b, n), xs);
    }
}

using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// ggml's 32-weight types with a min or a fifth bit — Q4_1, Q5_0, Q5_1 — encoded and decoded with the rounding of
/// ggml's reference quantizers (<c>quantize_row_q4_1_ref</c>, <c>_q5_0_ref</c>, <c>_q5_1_ref</c>) and decoders
/// (<c>dequantize_row_q4_1</c> …). Element j of a block sits in the low nibble of byte j (j &lt; 16) or the high
/// nibble of byte j − 16; the fifth bit of element j is bit j of qh.
/// </summary>
public static class LegacyQuants
{
    /// <summary>Q4_1: d = (max − min)/15, m = min, q = min(15, ⌊(x − min)/d + ½⌋).</summary>
    public static void QuantizeQ4_1(ReadOnlySpan<float> x, Span<BlockQ4_1> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * 32, 32);
            (float min, float max) = MinMax(xs);
            float d = (max - min) / 15f, id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            y[b].M = (Half)min;
            for (int j = 0; j < 16; j++)
            {
                int x0 = Math.Min(15, (int)((xs[j] - min) * id + 0.5f));
                int x1 = Math.Min(15, (int)((xs[j + 16] - min) * id + 0.5f));
                y[b].Qs[j] = (byte)(x0 | (x1 << 4));
            }
        }
    }

    /// <summary>Q5_0: d = (signed value of largest magnitude) / −16, q = min(31, ⌊x/d + 16.5⌋).</summary>
    public static void QuantizeQ5_0(ReadOnlySpan<float> x, Span<BlockQ5_0> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * 32, 32);
            float d = LargestMagnitude(xs) / -16f, id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                Pack5(ref y[b].Qs, ref qh, j, Math.Min(31, (int)(sbyte)(xs[j] * id + 16.5f)), Math.Min(31, (int)(sbyte)(xs[j + 16] * id + 16.5f)));
            }
            y[b].Qh = qh;
        }
    }

    /// <summary>Q5_1: d = (max − min)/31, m = min, q = ⌊(x − min)/d + ½⌋.</summary>
    public static void QuantizeQ5_1(ReadOnlySpan<float> x, Span<BlockQ5_1> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * 32, 32);
            (float min, float max) = MinMax(xs);
            float d = (max - min) / 31f, id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            y[b].M = (Half)min;
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                Pack5(ref y[b].Qs, ref qh, j, Math.Min(31, (int)((xs[j] - min) * id + 0.5f)), Math.Min(31, (int)((xs[j + 16] - min) * id + 0.5f)));
            }
            y[b].Qh = qh;
        }
    }

    /// <summary>Decodes Q4_1 blocks.</summary>
    public static void Dequantize(ReadOnlySpan<BlockQ4_1> x, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            BlockQ4_1 b = x[i / 32];
            dst[i] = (float)b.D * Nibble(b.Qs, i % 32) + (float)b.M;
        }
    }

    /// <summary>Decodes Q5_0 blocks.</summary>
    public static void Dequantize(ReadOnlySpan<BlockQ5_0> x, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            BlockQ5_0 b = x[i / 32];
            int j = i % 32;
            dst[i] = (float)b.D * ((Nibble(b.Qs, j) | (int)((b.Qh >> j) & 1) << 4) - 16);
        }
    }

    /// <summary>Decodes Q5_1 blocks.</summary>
    public static void Dequantize(ReadOnlySpan<BlockQ5_1> x, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            BlockQ5_1 b = x[i / 32];
            int j = i % 32;
            dst[i] = (float)b.D * (Nibble(b.Qs, j) | (int)((b.Qh >> j) & 1) << 4) + (float)b.M;
        }
    }

    /// <summary>Stores 5-bit quants of elements j and j + 16: low bits in byte j, fifth bits in qh.</summary>
    private static void Pack5(ref BlockQ4_0.Nibbles16 qs, ref uint qh, int j, int x0, int x1)
    {
        qs[j] = (byte)((x0 & 0xF) | ((x1 & 0xF) << 4));
        qh |= (uint)((x0 & 0x10) >> 4) << j;
        qh |= (uint)((x1 & 0x10) >> 4) << (j + 16);
    }

    private static int Nibble(BlockQ4_0.Nibbles16 qs, int j) => j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4;

    /// <summary>The value of largest magnitude, with its sign (the first of equals), as ggml's Q4_0/Q5_0 quantizers
    /// pick it.</summary>
    internal static float LargestMagnitude(ReadOnlySpan<float> xs)
    {
        float amax = 0, max = 0;
        foreach (float v in xs)
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        return max;
    }

    private static (float Min, float Max) MinMax(ReadOnlySpan<float> xs)
    {
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in xs) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
        return (min, max);
    }
}

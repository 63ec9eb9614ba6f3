using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// 32 activations quantized to signed bytes for the integer dot products of every quantized weight type
/// (ggml's Q8_0 / Q8_1 roles in one): <c>x ≈ D · q</c>, with the sums of the two 16-element halves kept so that
/// types with an offset (Q4_0's −8, Q4_1's min, K-quant mins, Q6_K's −32) subtract it once per block instead of per weight.
/// D is rounded to half precision as ggml's Q8_0 stores it, so Q8_0 and Q4_0 products equal llama.cpp's bit for bit.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct ActivationBlock
{
    public const int Elements = 32;
    public float D;
    public short Sum0;   // Σ q over elements 0-15
    public short Sum1;   // Σ q over elements 16-31
    public BlockQ8_0.Quants32 Qs;

    public readonly int Sum => Sum0 + Sum1;

    /// <summary>ggml's <c>quantize_row_q8_0</c> rounding: d = max|x| / 127, q = round-half-away(x / d).</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<ActivationBlock> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * Elements, Elements);
            float amax = 0;
            foreach (float v in xs) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            ref ActivationBlock blk = ref y[b];
            blk.D = (float)(Half)d;
            int s0 = 0, s1 = 0;
            for (int j = 0; j < Elements; j++)
            {
                int q = (int)MathF.Round(xs[j] * id, MidpointRounding.AwayFromZero);
                blk.Qs[j] = (sbyte)q;
                if (j < 16) s0 += q; else s1 += q;
            }
            blk.Sum0 = (short)s0;
            blk.Sum1 = (short)s1;
        }
    }

    /// <summary>The activations these blocks stand for (D · q).</summary>
    public static void Dequantize(ReadOnlySpan<ActivationBlock> x, Span<double> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (double)x[i / Elements].D * x[i / Elements].Qs[i % Elements];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe sbyte* QsOf(ActivationBlock* b) => (sbyte*)b + 8;
}

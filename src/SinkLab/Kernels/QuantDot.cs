using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Row · activations for every quantized weight type, in integers: each 32-weight (sub-)block is dotted with one
/// <see cref="ActivationBlock"/> by <see cref="Int8Dot"/>, converted to float once and scaled with a fused
/// multiply-add into eight float lanes; constant offsets (Q4_0's −8, Q5_0's −16, Q6_K's −32, Q4_1/Q5_1/K-quant mins)
/// are applied once per block through the activation block's precomputed sums. The lanes are summed once per row.
/// <see cref="DotScalar"/> is the reference: weights and activations decoded to double, one product at a time.
/// </summary>
internal static unsafe class QuantDot
{
    /// <summary>The kernel for a type: row pointer, activation blocks, number of 32-element blocks → dot product.</summary>
    public static delegate*<byte*, ActivationBlock*, int, float> For(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => &Q8_0,
        GgmlType.Q4_0 => &Q4_0,
        GgmlType.Q4_1 => &Q4_1,
        GgmlType.Q5_0 => &Q5_0,
        GgmlType.Q5_1 => &Q5_1,
        GgmlType.Q4_K => &Q4_K,
        GgmlType.Q5_K => &Q5_K,
        GgmlType.Q6_K => &Q6_K,
        _ => null,
    };

    /// <summary>Types with an integer kernel.</summary>
    public static bool Supports(GgmlType type) => For(type) != null;

    /// <summary>Runs the kernel of <paramref name="type"/> on one encoded row.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<ActivationBlock> x)
    {
        fixed (byte* w = row)
        fixed (ActivationBlock* a = x)
            return For(type)(w, a, x.Length);
    }

    /// <summary>Reference: the row decoded by <see cref="Quantizer.Dequantize"/>, the activations by
    /// <see cref="ActivationBlock.Dequantize"/>, multiplied and summed in double.</summary>
    public static float DotScalar(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<ActivationBlock> x)
    {
        int n = x.Length * ActivationBlock.Elements;
        var w = new float[n];
        var a = new double[n];
        Quantizer.Dequantize(type, row, w);
        ActivationBlock.Dequantize(x, a);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += w[i] * a[i];
        return (float)sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> dot, float scale, Vector256<float> acc) =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(dot), Vector256.Create(scale), acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Qs(ActivationBlock* x) => Vector256.Load(ActivationBlock.QsOf(x));

    private static float Q8_0(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ8_0*)row;
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++, w++, x++)
            acc = Fma(Int8Dot.DotSigned(Vector256.Load((sbyte*)w + 2), Qs(x)), Fp16.ToFloat(w->D) * x->D, acc);
        return Vector256.Sum(acc);
    }

    private static float Q4_0(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ4_0*)row;
        Vector256<float> acc = default;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w++, x++)
        {
            float s = Fp16.ToFloat(w->D) * x->D;
            acc = Fma(Int8Dot.DotUnsigned(Int8Dot.UnpackNibbles(ref w->Qs[0]), Qs(x)), s, acc);
            offset += s * x->Sum;
        }
        return Vector256.Sum(acc) - 8 * offset;
    }

    private static float Q4_1(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ4_1*)row;
        Vector256<float> acc = default;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w++, x++)
        {
            acc = Fma(Int8Dot.DotUnsigned(Int8Dot.UnpackNibbles(ref w->Qs[0]), Qs(x)), Fp16.ToFloat(w->D) * x->D, acc);
            offset += Fp16.ToFloat(w->M) * x->D * x->Sum;
        }
        return Vector256.Sum(acc) + offset;
    }

    private static float Q5_0(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ5_0*)row;
        Vector256<float> acc = default;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w++, x++)
        {
            float s = Fp16.ToFloat(w->D) * x->D;
            Vector256<byte> q = Int8Dot.UnpackNibbles(ref w->Qs[0]) | Int8Dot.FifthBits(w->Qh);
            acc = Fma(Int8Dot.DotUnsigned(q, Qs(x)), s, acc);
            offset += s * x->Sum;
        }
        return Vector256.Sum(acc) - 16 * offset;
    }

    private static float Q5_1(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ5_1*)row;
        Vector256<float> acc = default;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w++, x++)
        {
            Vector256<byte> q = Int8Dot.UnpackNibbles(ref w->Qs[0]) | Int8Dot.FifthBits(w->Qh);
            acc = Fma(Int8Dot.DotUnsigned(q, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc);
            offset += Fp16.ToFloat(w->M) * x->D * x->Sum;
        }
        return Vector256.Sum(acc) + offset;
    }

    /// <summary>ggml's <c>get_scale_min_k4</c> for all eight sub-blocks at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalesMins(byte* q, int* sc, int* m)
    {
        for (int j = 0; j < 4; j++)
        {
            sc[j] = q[j] & 63;
            m[j] = q[j + 4] & 63;
            sc[j + 4] = (q[j + 8] & 0xF) | ((q[j] >> 6) << 4);
            m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
        }
    }

    private static float Q4_K(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ4_K*)row;
        int* sc = stackalloc int[8], m = stackalloc int[8];
        Vector256<float> acc = default;
        float offset = 0;
        for (int sb = 0; sb < blocks / 8; sb++, w++)
        {
            float d = Fp16.ToFloat(w->D), dmin = Fp16.ToFloat(w->DMin);
            ScalesMins((byte*)&w->Scales, sc, m);
            byte* qs = (byte*)&w->Qs;
            for (int j = 0; j < 8; j += 2, qs += 32, x += 2)
            {
                Vector256<byte> q = Vector256.Load(qs);
                acc = Fma(Int8Dot.DotUnsigned(q & Vector256.Create((byte)0x0F), Qs(x)), d * sc[j] * x->D, acc);
                acc = Fma(Int8Dot.DotUnsigned(Vector256.ShiftRightLogical(q, 4), Qs(x + 1)), d * sc[j + 1] * x[1].D, acc);
                offset += dmin * (m[j] * x->D * x->Sum + m[j + 1] * x[1].D * x[1].Sum);
            }
        }
        return Vector256.Sum(acc) - offset;
    }

    private static float Q5_K(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ5_K*)row;
        int* sc = stackalloc int[8], m = stackalloc int[8];
        Vector256<float> acc = default;
        float offset = 0;
        for (int sb = 0; sb < blocks / 8; sb++, w++)
        {
            float d = Fp16.ToFloat(w->D), dmin = Fp16.ToFloat(w->DMin);
            ScalesMins((byte*)&w->Scales, sc, m);
            byte* qs = (byte*)&w->Qs;
            Vector256<byte> qh = Vector256.Load((byte*)&w->Qh), bit = Vector256.Create((byte)0x10);
            for (int j = 0; j < 8; j += 2, qs += 32, x += 2)
            {
                Vector256<byte> q = Vector256.Load(qs);
                Vector256<byte> lo = (q & Vector256.Create((byte)0x0F)) | (Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, j), 4) & bit);
                Vector256<byte> hi = Vector256.ShiftRightLogical(q, 4) | (Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, j + 1), 4) & bit);
                acc = Fma(Int8Dot.DotUnsigned(lo, Qs(x)), d * sc[j] * x->D, acc);
                acc = Fma(Int8Dot.DotUnsigned(hi, Qs(x + 1)), d * sc[j + 1] * x[1].D, acc);
                offset += dmin * (m[j] * x->D * x->Sum + m[j + 1] * x[1].D * x[1].Sum);
            }
        }
        return Vector256.Sum(acc) - offset;
    }

    private static float Q6_K(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ6_K*)row;
        Vector256<float> acc = default;
        float offset = 0;
        for (int sb = 0; sb < blocks / 8; sb++, w++)
        {
            float d = Fp16.ToFloat(w->D);
            sbyte* scales = (sbyte*)&w->Scales;
            for (int half = 0; half < 2; half++)
            {
                byte* ql = (byte*)&w->Ql + 64 * half;
                Vector256<byte> qh = Vector256.Load((byte*)&w->Qh + 32 * half);
                Vector256<byte> ql0 = Vector256.Load(ql), ql1 = Vector256.Load(ql + 32);
                for (int c = 0; c < 4; c++, x++)
                {
                    Vector256<byte> low = c switch
                    {
                        0 => ql0 & Vector256.Create((byte)0x0F),
                        1 => ql1 & Vector256.Create((byte)0x0F),
                        2 => Vector256.ShiftRightLogical(ql0, 4),
                        _ => Vector256.ShiftRightLogical(ql1, 4),
                    };
                    Vector256<byte> q = low | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2 * c) & Vector256.Create((byte)3), 4);
                    float s = d * x->D, s0 = s * scales[8 * half + 2 * c], s1 = s * scales[8 * half + 2 * c + 1];
                    Vector256<float> scale = Vector256.Create(Vector128.Create(s0), Vector128.Create(s1));
                    acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Int8Dot.DotUnsigned(q, Qs(x))), scale, acc);
                    offset += s0 * x->Sum0 + s1 * x->Sum1;
                }
            }
        }
        return Vector256.Sum(acc) - 32 * offset;
    }
}

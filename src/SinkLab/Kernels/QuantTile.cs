using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Prefill kernels: one weight row against four tokens' activations. Everything that depends on the weights alone —
/// loading and unpacking the quants, |w| for the sign trick, the half-precision scales, Q4_K's 6-bit scales and
/// mins — is done once per block and reused for the four tokens, which is what makes a quantized matrix × matrix
/// cheaper per token than four row · vector products. Results equal the single-token kernels' up to float summation
/// order (tested). Types without a tile kernel run token by token.
/// </summary>
internal static unsafe class QuantTile
{
    public const int Tokens = 4;

    public static delegate*<byte*, ActivationBlock*, int, int, float*, void> For(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => &Q8_0,
        GgmlType.Q4_0 => &Q4_0,
        _ => null,
    };

    public static delegate*<byte*, ActivationSuperBlock*, int, int, float*, void> ForSuperBlocks(GgmlType type) => type switch
    {
        GgmlType.Q4_K => &Q4_K,
        GgmlType.Q6_K => &Q6_K,
        _ => null,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> dot, float scale, Vector256<float> acc) =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(dot), Vector256.Create(scale), acc);

    /// <summary>Q8_0 row × 4 tokens; token k's blocks start at x + k·stride; writes result[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8_0(byte* row, ActivationBlock* x, int stride, int blocks, float* result)
    {
        var w = (BlockQ8_0*)row;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, w++, x++)
            Four(Vector256.Load((sbyte*)w + 2), Fp16.ToFloat(w->D), x, stride, ref a0, ref a1, ref a2, ref a3);
        Store(result, a0, a1, a2, a3);
    }

    /// <summary>Q4_0 row × 4 tokens: nibbles − 8 unpacked once per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4_0(byte* row, ActivationBlock* x, int stride, int blocks, float* result)
    {
        var w = (BlockQ4_0*)row;
        Vector256<sbyte> eight = Vector256.Create((sbyte)8);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, w++, x++)
            Four(Int8Dot.UnpackNibbles(ref w->Qs[0]).AsSByte() - eight, Fp16.ToFloat(w->D), x, stride, ref a0, ref a1, ref a2, ref a3);
        Store(result, a0, a1, a2, a3);
    }

    /// <summary>One signed weight block (scale d) into the four tokens' accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four(Vector256<sbyte> q, float d, ActivationBlock* x, int stride,
        ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3)
    {
        Vector256<byte> abs = Int8Dot.Abs(q);
        ActivationBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        a0 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x))), d * x->D, a0);
        a1 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x1))), d * x1->D, a1);
        a2 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x2))), d * x2->D, a2);
        a3 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x3))), d * x3->D, a3);
    }

    private static void Store(float* result, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        result[0] = Vector256.Sum(a0);
        result[1] = Vector256.Sum(a1);
        result[2] = Vector256.Sum(a2);
        result[3] = Vector256.Sum(a3);
    }

    /// <summary>Q4_K row × 4 tokens: nibbles and 6-bit scales unpacked once per super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4_K(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result)
    {
        var w = (BlockQ4_K*)row;
        int* sc = stackalloc int[8];
        Vector256<float>* acc = stackalloc Vector256<float>[Tokens];
        float* mins = stackalloc float[Tokens];
        for (int k = 0; k < Tokens; k++) { acc[k] = default; mins[k] = 0; }
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Vector256<int> minsV = KQuantDot.Scales((byte*)&w->Scales, sc);
            byte* qs = (byte*)&w->Qs;
            Vector256<byte> p0 = Vector256.Load(qs), p1 = Vector256.Load(qs + 32), p2 = Vector256.Load(qs + 64), p3 = Vector256.Load(qs + 96);
            Vector256<byte> u0 = p0 & low4, u1 = Vector256.ShiftRightLogical(p0, 4), u2 = p1 & low4, u3 = Vector256.ShiftRightLogical(p1, 4);
            Vector256<byte> u4 = p2 & low4, u5 = Vector256.ShiftRightLogical(p2, 4), u6 = p3 & low4, u7 = Vector256.ShiftRightLogical(p3, 4);
            float d = Fp16.ToFloat(w->D), dmin = Fp16.ToFloat(w->DMin);
            for (int k = 0; k < Tokens; k++)
            {
                ActivationSuperBlock* xk = x + k * stride;
                sbyte* xq = ActivationSuperBlock.QsOf(xk);
                Vector256<int> isum = Int8Dot.DotUnsigned(u0, Vector256.Load(xq)) * Vector256.Create(sc[0])
                                    + Int8Dot.DotUnsigned(u1, Vector256.Load(xq + 32)) * Vector256.Create(sc[1])
                                    + Int8Dot.DotUnsigned(u2, Vector256.Load(xq + 64)) * Vector256.Create(sc[2])
                                    + Int8Dot.DotUnsigned(u3, Vector256.Load(xq + 96)) * Vector256.Create(sc[3])
                                    + Int8Dot.DotUnsigned(u4, Vector256.Load(xq + 128)) * Vector256.Create(sc[4])
                                    + Int8Dot.DotUnsigned(u5, Vector256.Load(xq + 160)) * Vector256.Create(sc[5])
                                    + Int8Dot.DotUnsigned(u6, Vector256.Load(xq + 192)) * Vector256.Create(sc[6])
                                    + Int8Dot.DotUnsigned(u7, Vector256.Load(xq + 224)) * Vector256.Create(sc[7]);
                acc[k] = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(isum), Vector256.Create(d * xk->D), acc[k]);
                mins[k] += dmin * xk->D * Vector256.Sum(minsV * Vector256.Load((int*)&xk->Sums));
            }
        }
        for (int k = 0; k < Tokens; k++) result[k] = Vector256.Sum(acc[k]) - mins[k];
    }

    /// <summary>Q6_K row × 4 tokens: each half super-block unpacked once, in registers, for the four tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6_K(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result)
    {
        var w = (BlockQ6_K*)row;
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int sb = 0; sb < superBlocks; sb++, w++, x++, x1++, x2++, x3++)
        {
            KQuantDot.Q6Scales(w, out Vector256<int> s0, out Vector256<int> s1);
            KQuantDot.Q6Unpack(w, 0, out Vector256<byte> q0, out Vector256<byte> q1, out Vector256<byte> q2, out Vector256<byte> q3);
            Vector256<int> i0 = KQuantDot.Q6Dot(q0, q1, q2, q3, s0, ActivationSuperBlock.QsOf(x)) - KQuantDot.Q6Bias(s0, s1, x);
            Vector256<int> i1 = KQuantDot.Q6Dot(q0, q1, q2, q3, s0, ActivationSuperBlock.QsOf(x1)) - KQuantDot.Q6Bias(s0, s1, x1);
            Vector256<int> i2 = KQuantDot.Q6Dot(q0, q1, q2, q3, s0, ActivationSuperBlock.QsOf(x2)) - KQuantDot.Q6Bias(s0, s1, x2);
            Vector256<int> i3 = KQuantDot.Q6Dot(q0, q1, q2, q3, s0, ActivationSuperBlock.QsOf(x3)) - KQuantDot.Q6Bias(s0, s1, x3);
            KQuantDot.Q6Unpack(w, 1, out q0, out q1, out q2, out q3);
            i0 += KQuantDot.Q6Dot(q0, q1, q2, q3, s1, ActivationSuperBlock.QsOf(x) + 128);
            i1 += KQuantDot.Q6Dot(q0, q1, q2, q3, s1, ActivationSuperBlock.QsOf(x1) + 128);
            i2 += KQuantDot.Q6Dot(q0, q1, q2, q3, s1, ActivationSuperBlock.QsOf(x2) + 128);
            i3 += KQuantDot.Q6Dot(q0, q1, q2, q3, s1, ActivationSuperBlock.QsOf(x3) + 128);
            float d = Fp16.ToFloat(w->D);
            a0 = Fma(i0, d * x->D, a0);
            a1 = Fma(i1, d * x1->D, a1);
            a2 = Fma(i2, d * x2->D, a2);
            a3 = Fma(i3, d * x3->D, a3);
        }
        Store(result, a0, a1, a2, a3);
    }
}

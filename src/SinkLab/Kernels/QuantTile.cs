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
        GgmlType.Q8_0 => &Symmetric<Q8_0Reader>,
        GgmlType.Q4_0 => &Symmetric<Q4_0Reader>,
        GgmlType.Q5_0 => &Symmetric<Q5_0Reader>,
        GgmlType.IQ4_NL => &Symmetric<Iq4NlReader>,
        GgmlType.MXFP4 => &Symmetric<Mxfp4Reader>,
        _ => null,
    };

    public static delegate*<byte*, ActivationSuperBlock*, int, int, float*, void> ForSuperBlocks(GgmlType type) => type switch
    {
        GgmlType.Q4_K => &Q4_K,
        GgmlType.Q5_K => &Q5_K,
        GgmlType.Q6_K => &Q6_K,
        GgmlType.Q2_K => &SuperBlockKernels.Tile<Q2KReader>,
        GgmlType.Q3_K => &SuperBlockKernels.Tile<Q3KReader>,
        GgmlType.IQ4_XS => &SuperBlockKernels.Tile<Iq4XsReader>,
        GgmlType.IQ2_XXS => &SuperBlockKernels.Tile<Iq2XxsReader>,
        GgmlType.IQ2_XS => &SuperBlockKernels.Tile<Iq2XsReader>,
        GgmlType.IQ2_S => &SuperBlockKernels.Tile<Iq2SReader>,
        GgmlType.IQ3_XXS => &SuperBlockKernels.Tile<Iq3XxsReader>,
        GgmlType.IQ3_S => &SuperBlockKernels.Tile<Iq3SReader>,
        GgmlType.IQ1_S => &SuperBlockKernels.Tile<Iq1SReader>,
        GgmlType.IQ1_M => &SuperBlockKernels.Tile<Iq1MReader>,
        GgmlType.TQ1_0 => &SuperBlockKernels.Tile<Tq1Reader>,
        GgmlType.TQ2_0 => &SuperBlockKernels.Tile<Tq2Reader>,
        _ => null,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> dot, float scale, Vector256<float> acc) =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(dot), Vector256.Create(scale), acc);

    /// <summary>Q8_0, Q4_0, Q5_0 row × 4 tokens: each block's signed quants, |q| and scale read once; token k's blocks
    /// start at x + k·stride; writes result[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Symmetric<T>(byte* w, ActivationBlock* x, int stride, int blocks, float* result) where T : ISymmetricBlock
    {
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
        {
            SymmetricOffset<T>(w, x, stride, blocks, result);
            return;
        }
        ActivationBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, w += T.Size, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(w, T.Size);
            Vector256<sbyte> q = T.Quants(w);
            Vector256<byte> abs = Int8Dot.Abs(q);
            float d = T.D(w);
            a0 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x))), d * x->D, a0);
            a1 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x1))), d * x1->D, a1);
            a2 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x2))), d * x2->D, a2);
            a3 = Fma(Int8Dot.DotSigned(q, abs, Vector256.Load(ActivationBlock.QsOf(x3))), d * x3->D, a3);
        }
        Store(result, a0, a1, a2, a3);
    }

    /// <summary>AVX-VNNI form of <see cref="Symmetric{T}"/>: the block's weights offset by +128 once (w ^ 0x80, an
    /// unsigned byte for <c>vpdpbusd</c>) instead of the sign trick per token, and each token's dot started from
    /// eight lanes of −16·Σq (<see cref="ActivationBlock.Offset"/>), which cancel the 128·Σq the offset adds: one vector
    /// operation fewer per block and token on the ports the dot, convert and multiply-add compete for. Exact, also
    /// for weights of −128.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SymmetricOffset<T>(byte* w, ActivationBlock* x, int stride, int blocks, float* result) where T : ISymmetricBlock
    {
        ActivationBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<byte> bias = Vector256.Create((byte)0x80);
        for (int b = 0; b < blocks; b++, w += T.Size, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(w, T.Size);
            Vector256<byte> u = T.Quants(w).AsByte() ^ bias;
            float d = T.D(w);
            a0 = Fma(OffsetDot(u, x), d * x->D, a0);
            a1 = Fma(OffsetDot(u, x1), d * x1->D, a1);
            a2 = Fma(OffsetDot(u, x2), d * x2->D, a2);
            a3 = Fma(OffsetDot(u, x3), d * x3->D, a3);
        }
        Store(result, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> OffsetDot(Vector256<byte> u, ActivationBlock* x) =>
        System.Runtime.Intrinsics.X86.AvxVnni.MultiplyWideningAndAdd(Vector256.Create(x->Offset), u, Vector256.Load(ActivationBlock.QsOf(x)));

    private static void Store(float* result, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        result[0] = Vector256.Sum(a0);
        result[1] = Vector256.Sum(a1);
        result[2] = Vector256.Sum(a2);
        result[3] = Vector256.Sum(a3);
    }

    /// <summary>Q4_K row × 4 tokens: nibbles and 6-bit scales unpacked once per super-block, in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4_K(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result) =>
        KTile(row, x, stride, superBlocks, result, fifthBits: false);

    /// <summary>Q5_K row × 4 tokens: as Q4_K with the fifth bits or-ed in once per super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q5_K(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result) =>
        KTile(row, x, stride, superBlocks, result, fifthBits: true);

    /// <summary>Q4_K (144-byte blocks) or Q5_K (176-byte, with fifth bits) × 4 tokens; the two blocks share their
    /// d, dmin and scale layout, and only Q5_K has qh between the scales and the nibbles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KTile(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result, bool fifthBits)
    {
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
        {
            KTileVnni(row, x, stride, superBlocks, result, fifthBits);
            return;
        }
        int* sc = stackalloc int[8];
        int blockBytes = fifthBits ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K), qsAt = fifthBits ? 48 : 16;
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, m0 = default, m1 = default, m2 = default, m3 = default;
        for (int sb = 0; sb < superBlocks; sb++, row += blockBytes, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(row, blockBytes);
            var w = (BlockQ4_K*)row;   // d, dmin and the scales sit where Q4_K has them in both layouts
            Vector256<int> m = KQuantDot.Scales((byte*)&w->Scales, sc);
            KQuantDot.Unpack4(row + qsAt, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5, out var u6, out var u7);
            if (fifthBits) KQuantDot.FifthBits((ushort*)(row + 16), ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
            float d = Fp16.ToFloat(w->D), dmin = Fp16.ToFloat(w->DMin);
            a0 = Fma(KQuantDot.Dot8(u0, u1, u2, u3, u4, u5, u6, u7, sc, x), d * x->D, a0);
            a1 = Fma(KQuantDot.Dot8(u0, u1, u2, u3, u4, u5, u6, u7, sc, x1), d * x1->D, a1);
            a2 = Fma(KQuantDot.Dot8(u0, u1, u2, u3, u4, u5, u6, u7, sc, x2), d * x2->D, a2);
            a3 = Fma(KQuantDot.Dot8(u0, u1, u2, u3, u4, u5, u6, u7, sc, x3), d * x3->D, a3);
            m0 = Fma(m * Vector256.Load((int*)&x->Sums), dmin * x->D, m0);
            m1 = Fma(m * Vector256.Load((int*)&x1->Sums), dmin * x1->D, m1);
            m2 = Fma(m * Vector256.Load((int*)&x2->Sums), dmin * x2->D, m2);
            m3 = Fma(m * Vector256.Load((int*)&x3->Sums), dmin * x3->D, m3);
        }
        Store(result, a0 - m0, a1 - m1, a2 - m2, a3 - m3);
    }

    /// <summary>AVX-VNNI form of <see cref="KTile"/>: a sub-block's dot (<c>vpdpbusd</c>, |lane| ≤ 4·31·127 = 15,748)
    /// fits int16, so two sub-blocks' dots are packed into one int16 vector (<c>vpackssdw</c>, exact) and multiplied by
    /// their scales and accumulated in one <c>vpdpwssd</c>, instead of an int32 multiply (two µops) and an add per
    /// sub-block: three µops per two sub-blocks on the ports the dots use, not eight. The scale pairs are built once per
    /// super-block for the four tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KTileVnni(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result, bool fifthBits)
    {
        int blockBytes = fifthBits ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K), qsAt = fifthBits ? 48 : 16;
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, m0 = default, m1 = default, m2 = default, m3 = default;
        for (int sb = 0; sb < superBlocks; sb++, row += blockBytes, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(row, blockBytes);
            var w = (BlockQ4_K*)row;
            Vector256<int> m = KQuantDot.ScalePairs((byte*)&w->Scales, out var s01, out var s23, out var s45, out var s67);
            KQuantDot.Unpack4(row + qsAt, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5, out var u6, out var u7);
            if (fifthBits) KQuantDot.FifthBits((ushort*)(row + 16), ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
            float d = Fp16.ToFloat(w->D), dmin = Fp16.ToFloat(w->DMin);
            a0 = Fma(KQuantDot.Dot8Pairs(u0, u1, u2, u3, u4, u5, u6, u7, s01, s23, s45, s67, x), d * x->D, a0);
            a1 = Fma(KQuantDot.Dot8Pairs(u0, u1, u2, u3, u4, u5, u6, u7, s01, s23, s45, s67, x1), d * x1->D, a1);
            a2 = Fma(KQuantDot.Dot8Pairs(u0, u1, u2, u3, u4, u5, u6, u7, s01, s23, s45, s67, x2), d * x2->D, a2);
            a3 = Fma(KQuantDot.Dot8Pairs(u0, u1, u2, u3, u4, u5, u6, u7, s01, s23, s45, s67, x3), d * x3->D, a3);
            m0 = Fma(KQuantDot.MinDot(m, x), dmin * x->D, m0);
            m1 = Fma(KQuantDot.MinDot(m, x1), dmin * x1->D, m1);
            m2 = Fma(KQuantDot.MinDot(m, x2), dmin * x2->D, m2);
            m3 = Fma(KQuantDot.MinDot(m, x3), dmin * x3->D, m3);
        }
        Store(result, a0 - m0, a1 - m1, a2 - m2, a3 - m3);
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
            Prefetch.Block((byte*)w, sizeof(BlockQ6_K));
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

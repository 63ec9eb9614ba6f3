using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Row · activations for every quantized weight type, in integers. 32-element types (here): each block is dotted with
/// one <see cref="ActivationBlock"/> by <see cref="Int8Dot"/>, converted to float once and scaled with a fused
/// multiply-add into eight float lanes. Symmetric types (Q4_0, Q5_0) are made signed before the dot, as ggml does;
/// types with a min (Q4_1, Q5_1) add it once per block through the activation block's Σq. K-quants are in
/// <see cref="KQuantDot"/>, against <see cref="ActivationSuperBlock"/>s.
/// <see cref="DotScalar"/> is the reference: weights and quantized activations decoded to double, one product at a time.
/// </summary>
internal static unsafe class QuantDot
{
    /// <summary>The kernel of a 32-element type: row pointer, activation blocks, number of blocks → dot product.</summary>
    public static delegate*<byte*, ActivationBlock*, int, float> For(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => &Symmetric<Q8_0Reader>,
        GgmlType.Q4_0 => &Symmetric<Q4_0Reader>,
        GgmlType.Q5_0 => &Symmetric<Q5_0Reader>,
        GgmlType.Q4_1 => &WithMin<Q4_1Reader>,
        GgmlType.Q5_1 => &WithMin<Q5_1Reader>,
        GgmlType.IQ4_NL => &Symmetric<Iq4NlReader>,
        GgmlType.MXFP4 => &Symmetric<Mxfp4Reader>,
        _ => null,
    };

    /// <summary>The kernel of a 256-element type (K-, i- and ternary quants): row pointer, activation super-blocks, number of super-blocks → dot product.</summary>
    public static delegate*<byte*, ActivationSuperBlock*, int, float> ForSuperBlocks(GgmlType type) => type switch
    {
        GgmlType.Q4_K => &KQuantDot.Q4_K,
        GgmlType.Q5_K => &KQuantDot.Q5_K,
        GgmlType.Q6_K => &KQuantDot.Q6_K,
        GgmlType.Q2_K => &SuperBlockKernels.Dot<Q2KReader>,
        GgmlType.Q3_K => &SuperBlockKernels.Dot<Q3KReader>,
        GgmlType.IQ4_XS => &SuperBlockKernels.Dot<Iq4XsReader>,
        GgmlType.IQ2_XXS => &SuperBlockKernels.Dot<Iq2XxsReader>,
        GgmlType.IQ2_XS => &SuperBlockKernels.Dot<Iq2XsReader>,
        GgmlType.IQ2_S => &SuperBlockKernels.Dot<Iq2SReader>,
        GgmlType.IQ3_XXS => &SuperBlockKernels.Dot<Iq3XxsReader>,
        GgmlType.IQ3_S => &SuperBlockKernels.Dot<Iq3SReader>,
        GgmlType.IQ1_S => &SuperBlockKernels.Dot<Iq1SReader>,
        GgmlType.IQ1_M => &SuperBlockKernels.Dot<Iq1MReader>,
        GgmlType.TQ1_0 => &SuperBlockKernels.Dot<Tq1Reader>,
        GgmlType.TQ2_0 => &SuperBlockKernels.Dot<Tq2Reader>,
        _ => null,
    };

    /// <summary>Types with an integer kernel.</summary>
    public static bool Supports(GgmlType type) => For(type) != null || ForSuperBlocks(type) != null;

    /// <summary>K-quants take their activations in 256-element super-blocks, the others in 32-element blocks.</summary>
    public static bool UsesSuperBlocks(GgmlType type) => ForSuperBlocks(type) != null;

    /// <summary>Runs the kernel of a 32-element type on one encoded row.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<ActivationBlock> x)
    {
        fixed (byte* w = row)
        fixed (ActivationBlock* a = x)
            return For(type)(w, a, x.Length);
    }

    /// <summary>Runs the kernel of a K-quant on one encoded row.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<ActivationSuperBlock> x)
    {
        fixed (byte* w = row)
        fixed (ActivationSuperBlock* a = x)
            return ForSuperBlocks(type)(w, a, x.Length);
    }

    /// <summary>Row · x with x quantized as the type's kernel takes it.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<float> x) =>
        UsesSuperBlocks(type) ? Dot(type, row, SuperBlocks(x)) : Dot(type, row, Blocks(x));

    /// <summary>Reference of <see cref="Dot(GgmlType, ReadOnlySpan{byte}, ReadOnlySpan{float})"/>: the row decoded by
    /// <see cref="Quantizer.Dequantize"/>, the quantized activations decoded, multiplied and summed in double.</summary>
    public static float DotScalar(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<float> x)
    {
        var w = new float[x.Length];
        var a = new double[x.Length];
        Quantizer.Dequantize(type, row, w);
        if (UsesSuperBlocks(type)) ActivationSuperBlock.Dequantize(SuperBlocks(x), a);
        else ActivationBlock.Dequantize(Blocks(x), a);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += w[i] * a[i];
        return (float)sum;
    }

    /// <summary>x quantized to 32-element activation blocks.</summary>
    public static ActivationBlock[] Blocks(ReadOnlySpan<float> x)
    {
        var a = new ActivationBlock[x.Length / ActivationBlock.Elements];
        ActivationBlock.Quantize(x, a);
        return a;
    }

    /// <summary>x quantized to 256-element activation super-blocks.</summary>
    public static ActivationSuperBlock[] SuperBlocks(ReadOnlySpan<float> x)
    {
        var a = new ActivationSuperBlock[x.Length / ActivationSuperBlock.Elements];
        ActivationSuperBlock.Quantize(x, a);
        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> dot, float scale, Vector256<float> acc) =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(dot), Vector256.Create(scale), acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Qs(ActivationBlock* x) => Vector256.Load(ActivationBlock.QsOf(x));

    // Each kernel keeps two accumulators (and two min sums) fed by alternate blocks: a single fused multiply-add chain
    // waits the FMA's 4-cycle latency per block, which made the Q8_0 dot latency-bound at ~1.25 ns per block.

    /// <summary>Q8_0, Q4_0, Q5_0: signed quants (Q4_0/Q5_0 made signed as ggml does), no offset term.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Symmetric<T>(byte* w, ActivationBlock* x, int blocks) where T : ISymmetricBlock
    {
        Vector256<float> acc0 = default, acc1 = default;
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2 * T.Size, x += 2)
        {
            Prefetch.Block(w, 2 * T.Size);
            acc0 = Fma(Int8Dot.DotSigned(T.Quants(w), Qs(x)), T.D(w) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotSigned(T.Quants(w + T.Size), Qs(x + 1)), T.D(w + T.Size) * x[1].D, acc1);
        }
        if (b < blocks) acc0 = Fma(Int8Dot.DotSigned(T.Quants(w), Qs(x)), T.D(w) * x->D, acc0);
        return Vector256.Sum(acc0 + acc1);
    }

    /// <summary>Q4_1, Q5_1: unsigned quants, the min added once per block through the activation block's Σq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float WithMin<T>(byte* w, ActivationBlock* x, int blocks) where T : IMinBlock
    {
        Vector256<float> acc0 = default, acc1 = default;
        float min0 = 0, min1 = 0;
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2 * T.Size, x += 2)
        {
            Prefetch.Block(w, 2 * T.Size);
            acc0 = Fma(Int8Dot.DotUnsigned(T.Quants(w), Qs(x)), T.D(w) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotUnsigned(T.Quants(w + T.Size), Qs(x + 1)), T.D(w + T.Size) * x[1].D, acc1);
            min0 += T.M(w) * x->D * x->Sum;
            min1 += T.M(w + T.Size) * x[1].D * x[1].Sum;
        }
        if (b < blocks)
        {
            acc0 = Fma(Int8Dot.DotUnsigned(T.Quants(w), Qs(x)), T.D(w) * x->D, acc0);
            min0 += T.M(w) * x->D * x->Sum;
        }
        return Vector256.Sum(acc0 + acc1) + min0 + min1;
    }
}

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
        GgmlType.Q8_0 => &Q8_0,
        GgmlType.Q4_0 => &Q4_0,
        GgmlType.Q4_1 => &Q4_1,
        GgmlType.Q5_0 => &Q5_0,
        GgmlType.Q5_1 => &Q5_1,
        _ => null,
    };

    /// <summary>The kernel of a K-quant: row pointer, activation super-blocks, number of super-blocks → dot product.</summary>
    public static delegate*<byte*, ActivationSuperBlock*, int, float> ForSuperBlocks(GgmlType type) => type switch
    {
        GgmlType.Q4_K => &KQuantDot.Q4_K,
        GgmlType.Q5_K => &KQuantDot.Q5_K,
        GgmlType.Q6_K => &KQuantDot.Q6_K,
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

    // Each kernel keeps two accumulators (and two offset sums) fed by alternate blocks: a single fused multiply-add
    // chain waits the FMA's 4-cycle latency per block, which made the Q8_0 dot latency-bound at ~1.25 ns per block.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q8_0(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ8_0*)row;
        Vector256<float> acc0 = default, acc1 = default;
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2, x += 2)
        {
            acc0 = Fma(Int8Dot.DotSigned(Vector256.Load((sbyte*)w + 2), Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotSigned(Vector256.Load((sbyte*)(w + 1) + 2), Qs(x + 1)), Fp16.ToFloat(w[1].D) * x[1].D, acc1);
        }
        if (b < blocks) acc0 = Fma(Int8Dot.DotSigned(Vector256.Load((sbyte*)w + 2), Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
        return Vector256.Sum(acc0 + acc1);
    }

    /// <summary>Q4_0 as ggml does it: nibbles − 8 as signed bytes (no offset term to carry).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ4_0*)row;
        Vector256<float> acc0 = default, acc1 = default;
        Vector256<sbyte> eight = Vector256.Create((sbyte)8);
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2, x += 2)
        {
            acc0 = Fma(Int8Dot.DotSigned(Int8Dot.UnpackNibbles(ref w->Qs[0]).AsSByte() - eight, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotSigned(Int8Dot.UnpackNibbles(ref w[1].Qs[0]).AsSByte() - eight, Qs(x + 1)), Fp16.ToFloat(w[1].D) * x[1].D, acc1);
        }
        if (b < blocks) acc0 = Fma(Int8Dot.DotSigned(Int8Dot.UnpackNibbles(ref w->Qs[0]).AsSByte() - eight, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
        return Vector256.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_1(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ4_1*)row;
        Vector256<float> acc0 = default, acc1 = default;
        float offset0 = 0, offset1 = 0;
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2, x += 2)
        {
            acc0 = Fma(Int8Dot.DotUnsigned(Int8Dot.UnpackNibbles(ref w->Qs[0]), Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotUnsigned(Int8Dot.UnpackNibbles(ref w[1].Qs[0]), Qs(x + 1)), Fp16.ToFloat(w[1].D) * x[1].D, acc1);
            offset0 += Fp16.ToFloat(w->M) * x->D * x->Sum;
            offset1 += Fp16.ToFloat(w[1].M) * x[1].D * x[1].Sum;
        }
        if (b < blocks)
        {
            acc0 = Fma(Int8Dot.DotUnsigned(Int8Dot.UnpackNibbles(ref w->Qs[0]), Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            offset0 += Fp16.ToFloat(w->M) * x->D * x->Sum;
        }
        return Vector256.Sum(acc0 + acc1) + offset0 + offset1;
    }

    /// <summary>Q5_0 as signed bytes (5-bit value − 16), so no offset term is carried.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_0(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ5_0*)row;
        Vector256<float> acc0 = default, acc1 = default;
        Vector256<sbyte> sixteen = Vector256.Create((sbyte)16);
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2, x += 2)
        {
            Vector256<sbyte> q0 = (Int8Dot.UnpackNibbles(ref w->Qs[0]) | Int8Dot.FifthBits(w->Qh)).AsSByte() - sixteen;
            Vector256<sbyte> q1 = (Int8Dot.UnpackNibbles(ref w[1].Qs[0]) | Int8Dot.FifthBits(w[1].Qh)).AsSByte() - sixteen;
            acc0 = Fma(Int8Dot.DotSigned(q0, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotSigned(q1, Qs(x + 1)), Fp16.ToFloat(w[1].D) * x[1].D, acc1);
        }
        if (b < blocks)
        {
            Vector256<sbyte> q0 = (Int8Dot.UnpackNibbles(ref w->Qs[0]) | Int8Dot.FifthBits(w->Qh)).AsSByte() - sixteen;
            acc0 = Fma(Int8Dot.DotSigned(q0, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
        }
        return Vector256.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_1(byte* row, ActivationBlock* x, int blocks)
    {
        var w = (BlockQ5_1*)row;
        Vector256<float> acc0 = default, acc1 = default;
        float offset0 = 0, offset1 = 0;
        int b = 0;
        for (; b + 1 < blocks; b += 2, w += 2, x += 2)
        {
            Vector256<byte> q0 = Int8Dot.UnpackNibbles(ref w->Qs[0]) | Int8Dot.FifthBits(w->Qh);
            Vector256<byte> q1 = Int8Dot.UnpackNibbles(ref w[1].Qs[0]) | Int8Dot.FifthBits(w[1].Qh);
            acc0 = Fma(Int8Dot.DotUnsigned(q0, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            acc1 = Fma(Int8Dot.DotUnsigned(q1, Qs(x + 1)), Fp16.ToFloat(w[1].D) * x[1].D, acc1);
            offset0 += Fp16.ToFloat(w->M) * x->D * x->Sum;
            offset1 += Fp16.ToFloat(w[1].M) * x[1].D * x[1].Sum;
        }
        if (b < blocks)
        {
            Vector256<byte> q0 = Int8Dot.UnpackNibbles(ref w->Qs[0]) | Int8Dot.FifthBits(w->Qh);
            acc0 = Fma(Int8Dot.DotUnsigned(q0, Qs(x)), Fp16.ToFloat(w->D) * x->D, acc0);
            offset0 += Fp16.ToFloat(w->M) * x->D * x->Sum;
        }
        return Vector256.Sum(acc0 + acc1) + offset0 + offset1;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>A 32-element block type whose weights are d · (signed quant): Q8_0, Q4_0 (nibble − 8), Q5_0 (5 bits − 16).
/// The kernels in <see cref="QuantDot"/> and <see cref="QuantTile"/> are written once over this, and the JIT
/// specialises them per struct.</summary>
internal unsafe interface ISymmetricBlock
{
    static abstract int Size { get; }
    static abstract Vector256<sbyte> Quants(byte* block);
    static abstract float D(byte* block);
}

/// <summary>A 32-element block type whose weights are d · (unsigned quant) + m: Q4_1, Q5_1.</summary>
internal unsafe interface IMinBlock
{
    static abstract int Size { get; }
    static abstract Vector256<byte> Quants(byte* block);
    static abstract float D(byte* block);
    static abstract float M(byte* block);
}

internal unsafe struct Q8_0Reader : ISymmetricBlock
{
    public static int Size => sizeof(BlockQ8_0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<sbyte> Quants(byte* b) => Vector256.Load((sbyte*)b + sizeof(Half));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(((BlockQ8_0*)b)->D);
}

internal unsafe struct Q4_0Reader : ISymmetricBlock
{
    public static int Size => sizeof(BlockQ4_0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants(byte* b) => Int8Dot.UnpackNibbles(ref ((BlockQ4_0*)b)->Qs[0]).AsSByte() - Vector256.Create((sbyte)8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(((BlockQ4_0*)b)->D);
}

internal unsafe struct Q5_0Reader : ISymmetricBlock
{
    public static int Size => sizeof(BlockQ5_0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants(byte* b) =>
        (Int8Dot.UnpackNibbles(ref ((BlockQ5_0*)b)->Qs[0]) | Int8Dot.FifthBits(((BlockQ5_0*)b)->Qh)).AsSByte() - Vector256.Create((sbyte)16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(((BlockQ5_0*)b)->D);
}

internal unsafe struct Q4_1Reader : IMinBlock
{
    public static int Size => sizeof(BlockQ4_1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<byte> Quants(byte* b) => Int8Dot.UnpackNibbles(ref ((BlockQ4_1*)b)->Qs[0]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(((BlockQ4_1*)b)->D);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float M(byte* b) => Fp16.ToFloat(((BlockQ4_1*)b)->M);
}

internal unsafe struct Q5_1Reader : IMinBlock
{
    public static int Size => sizeof(BlockQ5_1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Quants(byte* b) => Int8Dot.UnpackNibbles(ref ((BlockQ5_1*)b)->Qs[0]) | Int8Dot.FifthBits(((BlockQ5_1*)b)->Qh);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(((BlockQ5_1*)b)->D);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float M(byte* b) => Fp16.ToFloat(((BlockQ5_1*)b)->M);
}

internal unsafe struct Iq4NlReader : ISymmetricBlock
{
    public static int Size => 18;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants(byte* b) => SuperBlockKernels.Lookup16(Int8Dot.UnpackNibbles(ref b[2]), SuperBlockKernels.Iq4Values());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b);
}

/// <summary>MXFP4: an E8M0 exponent byte, then nibbles indexing the doubled E2M1 values (the scale is halved).</summary>
internal unsafe struct Mxfp4Reader : ISymmetricBlock
{
    public static int Size => 17;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Quants(byte* b) =>
        SuperBlockKernels.Lookup16(Int8Dot.UnpackNibbles(ref b[1]), Vector128.Create(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, (sbyte)-12));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => IQuantTables.E8M0Half(*b);
}

using System.Runtime.CompilerServices;

namespace SinkLab.Kernels;

/// <summary>
/// IEEE half → float in a handful of integer operations. <c>(float)Half</c> is a software routine, and quantized
/// kernels convert one or two scales per 32 weights: replacing it took Q8_0 decode on the 100m synth from 48–50 to
/// 172–203 tok/s (<c>sinklab bench --bandwidth</c>, docs/benchmarks.md). Exact for every half: normals by one multiply
/// by 2^112, subnormals as mantissa × 2^−24 (never as a float32 denormal operand: Intel CPUs take a ~100-cycle microcode
/// assist on one, which made every block with a subnormal scale — IQ4_XS super-blocks of small weights — several
/// times slower), inf/NaN by a branch that valid files never take; a test checks all 65,536 values against
/// <c>(float)Half</c>.
/// </summary>
internal static class Fp16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(Half h) => ToFloat(BitConverter.HalfToUInt16Bits(h));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        uint mag = (uint)(h & 0x7FFF) << 13;
        bool normal = (h & 0x7C00) != 0;
        float f = normal
            ? BitConverter.UInt32BitsToSingle(mag) * 5.192296858534828e33f   // 2^112 re-biases the exponent 15 → 127
            : (h & 0x3FF) * 5.9604645e-8f;                                   // subnormal: mantissa × 2^−24, exact
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (mag >= 0x7C00u << 13) bits = 0x7F800000u | mag;                       // inf / NaN keep their payload
        return BitConverter.UInt32BitsToSingle(bits | ((uint)(h & 0x8000) << 16));
    }
}

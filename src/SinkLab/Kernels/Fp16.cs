using System.Runtime.CompilerServices;

namespace SinkLab.Kernels;

/// <summary>
/// IEEE half → float in a handful of integer operations. <c>(float)Half</c> is a software routine, and quantized
/// kernels convert one or two scales per 32 weights: replacing it took Q8_0 decode on the 100m synth from 48–50 to
/// 172–203 tok/s (<c>sinklab bench --bandwidth</c>, docs/benchmarks.md). Exact for every half (normals and subnormals by one multiply by 2^112, inf/NaN by a branch that
/// valid files never take); a test checks all 65,536 values against <c>(float)Half</c>.
/// </summary>
internal static class Fp16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(Half h) => ToFloat(BitConverter.HalfToUInt16Bits(h));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        uint mag = (uint)(h & 0x7FFF) << 13;
        float f = BitConverter.UInt32BitsToSingle(mag) * 5.192296858534828e33f;   // 2^112 re-biases the exponent 15 → 127
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (mag >= 0x7C00u << 13) bits = 0x7F800000u | mag;                       // inf / NaN keep their payload
        return BitConverter.UInt32BitsToSingle(bits | ((uint)(h & 0x8000) << 16));
    }
}

using System.Runtime.InteropServices;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Converts float rows to and from ggml's block formats, with the rounding of ggml's reference quantizers
/// (<c>quantize_row_q8_0_ref</c>, <c>quantize_row_q4_0_ref</c>). Used to build fixtures and quantized files.
/// </summary>
public static class Quantizer
{
    /// <summary>Types this class decodes (every type the engine runs).</summary>
    public static bool CanDecode(GgmlType t) => CanEncode(t) || t is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.IQ4_NL or GgmlType.IQ4_XS
        or GgmlType.IQ2_XXS or GgmlType.IQ2_XS or GgmlType.IQ2_S or GgmlType.IQ3_XXS or GgmlType.IQ3_S or GgmlType.IQ1_S or GgmlType.IQ1_M
        or GgmlType.TQ1_0 or GgmlType.TQ2_0 or GgmlType.MXFP4;

    /// <summary>Types this class encodes.</summary>
    public static bool CanEncode(GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0
        or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.IQ4_NL or GgmlType.IQ4_XS or GgmlType.MXFP4;

    /// <summary>Encodes <paramref name="x"/> (length a multiple of the block size) as <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentException">Unsupported type or a length that is not whole blocks.</exception>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> x)
    {
        var bytes = new byte[GgmlTypeInfo.ByteSize(type, x.Length)];
        Quantize(type, x, bytes);
        return bytes;
    }

    /// <summary>Encodes <paramref name="x"/> as <paramref name="type"/> into <paramref name="bytes"/>, which must hold
    /// exactly its encoded size (so a caller can re-encode row after row into one buffer).</summary>
    /// <exception cref="ArgumentException">Unsupported type, a length that is not whole blocks, or a wrong-sized buffer.</exception>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, Span<byte> bytes)
    {
        if (bytes.Length != GgmlTypeInfo.ByteSize(type, x.Length))
            throw new ArgumentException($"{x.Length} {type} elements take {GgmlTypeInfo.ByteSize(type, x.Length)} bytes, not {bytes.Length}", nameof(bytes));
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(x).CopyTo(bytes); break;
            case GgmlType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < x.Length; i++) h[i] = (Half)x[i];
                break;
            case GgmlType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < x.Length; i++) b[i] = FloatToBf16(x[i]);
                break;
            case GgmlType.Q8_0: QuantizeQ8_0(x, MemoryMarshal.Cast<byte, BlockQ8_0>(bytes)); break;
            case GgmlType.Q4_0: QuantizeQ4_0(x, MemoryMarshal.Cast<byte, BlockQ4_0>(bytes)); break;
            case GgmlType.Q4_1: LegacyQuants.QuantizeQ4_1(x, MemoryMarshal.Cast<byte, BlockQ4_1>(bytes)); break;
            case GgmlType.Q5_0: LegacyQuants.QuantizeQ5_0(x, MemoryMarshal.Cast<byte, BlockQ5_0>(bytes)); break;
            case GgmlType.Q5_1: LegacyQuants.QuantizeQ5_1(x, MemoryMarshal.Cast<byte, BlockQ5_1>(bytes)); break;
            case GgmlType.Q4_K: KQuantEncoders.Q4KOrQ5K(x, bytes, five: false); break;
            case GgmlType.Q5_K: KQuantEncoders.Q4KOrQ5K(x, bytes, five: true); break;
            case GgmlType.Q6_K: KQuantEncoders.Q6K(x, bytes); break;
            case GgmlType.Q2_K: KQuantEncoders.Q2K(x, bytes); break;
            case GgmlType.Q3_K: KQuantEncoders.Q3K(x, bytes); break;
            case GgmlType.IQ4_NL: Iq4Encoder.Quantize(x, bytes, xs: false); break;
            case GgmlType.IQ4_XS: Iq4Encoder.Quantize(x, bytes, xs: true); break;
            case GgmlType.MXFP4: LowBitQuants.QuantizeMxfp4(x, bytes); break;
            default: throw new ArgumentException($"quantizing to {type} is not supported", nameof(type));
        }
    }

    /// <summary>Decodes <paramref name="src"/> (whole blocks of <paramref name="type"/>) into <paramref name="dst"/>.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(src)[..dst.Length].CopyTo(dst); break;
            case GgmlType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)h[i];
                break;
            case GgmlType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = Bf16ToFloat(b[i]);
                break;
            case GgmlType.Q8_0:
                var q8 = MemoryMarshal.Cast<byte, BlockQ8_0>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)q8[i / 32].D * q8[i / 32].Qs[i % 32];
                break;
            case GgmlType.Q4_0:
                var q4 = MemoryMarshal.Cast<byte, BlockQ4_0>(src);
                for (int i = 0; i < dst.Length; i++)
                {
                    int j = i % 32;
                    byte packed = q4[i / 32].Qs[j & 15];
                    int nib = j < 16 ? packed & 0xF : packed >> 4;
                    dst[i] = (float)q4[i / 32].D * (nib - 8);
                }
                break;
            case GgmlType.Q4_1: LegacyQuants.Dequantize(MemoryMarshal.Cast<byte, BlockQ4_1>(src), dst); break;
            case GgmlType.Q5_0: LegacyQuants.Dequantize(MemoryMarshal.Cast<byte, BlockQ5_0>(src), dst); break;
            case GgmlType.Q5_1: LegacyQuants.Dequantize(MemoryMarshal.Cast<byte, BlockQ5_1>(src), dst); break;
            case GgmlType.Q4_K: KQuants.DequantizeQ4K(src, dst); break;
            case GgmlType.Q5_K: KQuants.DequantizeQ5K(src, dst); break;
            case GgmlType.Q6_K: KQuants.DequantizeQ6K(src, dst); break;
            case GgmlType.Q2_K: LowBitQuants.DequantizeQ2K(src, dst); break;
            case GgmlType.Q3_K: LowBitQuants.DequantizeQ3K(src, dst); break;
            case GgmlType.TQ1_0: LowBitQuants.DequantizeTq1(src, dst); break;
            case GgmlType.TQ2_0: LowBitQuants.DequantizeTq2(src, dst); break;
            case GgmlType.IQ4_NL: LowBitQuants.DequantizeIq4Nl(src, dst); break;
            case GgmlType.IQ4_XS: LowBitQuants.DequantizeIq4Xs(src, dst); break;
            case GgmlType.MXFP4: LowBitQuants.DequantizeMxfp4(src, dst); break;
            case GgmlType.IQ2_XXS: IQuants.DequantizeIq2Xxs(src, dst); break;
            case GgmlType.IQ2_XS: IQuants.DequantizeIq2Xs(src, dst); break;
            case GgmlType.IQ2_S: IQuants.DequantizeIq2S(src, dst); break;
            case GgmlType.IQ3_XXS: IQuants.DequantizeIq3Xxs(src, dst); break;
            case GgmlType.IQ3_S: IQuants.DequantizeIq3S(src, dst); break;
            case GgmlType.IQ1_S: IQuants.DequantizeIq1S(src, dst); break;
            case GgmlType.IQ1_M: IQuants.DequantizeIq1M(src, dst); break;
            default: throw new ArgumentException($"dequantizing {type} is not supported", nameof(type));
        }
    }

    /// <summary>Round-to-nearest-even float → bfloat16 (NaN kept quiet), as ggml's <c>ggml_compute_fp32_to_bf16</c>.</summary>
    public static ushort FloatToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    /// <summary>bfloat16 → float (exact).</summary>
    public static float Bf16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>ggml's <c>quantize_row_q8_0_ref</c>: d = max|x| / 127, q = round(x / d).</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * 32, 32);
            float amax = 0;
            foreach (float v in xs) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            for (int j = 0; j < 32; j++) y[b].Qs[j] = (sbyte)MathF.Round(xs[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>ggml's <c>quantize_row_q4_0_ref</c>: d = (signed value of largest magnitude) / −8, q = min(15, ⌊x/d + 8.5⌋).</summary>
    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<BlockQ4_0> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * 32, 32);
            float d = LegacyQuants.LargestMagnitude(xs) / -8f;
            float id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            for (int j = 0; j < 16; j++)
            {
                int x0 = Math.Min(15, (int)(sbyte)(xs[j] * id + 8.5f));
                int x1 = Math.Min(15, (int)(sbyte)(xs[j + 16] * id + 8.5f));
                y[b].Qs[j] = (byte)(x0 | (x1 << 4));
            }
        }
    }
}

using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Tests.Models;

namespace SinkLab.Tests.Kernels;

/// <summary>K-quants: block sizes, hand-built blocks decoded by ggml's formulas, round trips.</summary>
[Trait("Category", "Kernels")]
public class KQuantTests
{
    [Fact]
    public void BlockSizesAreGgmls()
    {
        Assert.True(GgmlTypeInfo.TryGetBlock(GgmlType.Q4_K, out int e4, out int b4));
        Assert.True(GgmlTypeInfo.TryGetBlock(GgmlType.Q6_K, out int e6, out int b6));
        Assert.Equal((256, KQuants.Q4KBytes, 256, KQuants.Q6KBytes), (e4, b4, e6, b6));
        Assert.Equal((144, 210), (KQuants.Q4KBytes, KQuants.Q6KBytes));
    }

    [Fact]
    public void HandBuiltQ4KBlockDecodesByTheFormula()
    {
        // d = 0.5, dmin = 0.25; sub-block j has scale j + 1 and min 2j (j ≥ 4 puts bits in the shared bytes);
        // byte i of the nibbles is (i % 16) | ((15 − i % 16) << 4).
        var blk = new byte[144];
        BitConverter.TryWriteBytes(blk.AsSpan(0), BitConverter.HalfToUInt16Bits((Half)0.5f));
        BitConverter.TryWriteBytes(blk.AsSpan(2), BitConverter.HalfToUInt16Bits((Half)0.25f));
        int[] sc = [1, 2, 3, 4, 5, 6, 7, 40], mn = [0, 2, 4, 6, 8, 10, 12, 50];
        for (int j = 0; j < 4; j++)
        {
            blk[4 + j] = (byte)(sc[j] | ((sc[j + 4] >> 4) << 6));
            blk[8 + j] = (byte)(mn[j] | ((mn[j + 4] >> 4) << 6));
            blk[12 + j] = (byte)((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
        }
        for (int i = 0; i < 128; i++) blk[16 + i] = (byte)((i % 16) | ((15 - i % 16) << 4));
        var y = new float[256];
        KQuants.DequantizeQ4K(blk, y);
        for (int e = 0; e < 256; e++)
        {
            int j = e / 32, l = e % 32, group = e / 64;
            byte packed = blk[16 + 32 * group + l];
            int q = e % 64 < 32 ? packed & 0xF : packed >> 4;
            Assert.Equal(0.5f * sc[j] * q - 0.25f * mn[j], y[e], 1e-6f);
        }
    }

    [Fact]
    public void HandBuiltQ6KBlockDecodesByTheFormula()
    {
        var blk = new byte[210];
        var q = new int[256];
        for (int e = 0; e < 256; e++) q[e] = (e * 7) % 64;
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++)
            {
                int b = 128 * n;
                blk[64 * n + l] = (byte)((q[b + l] & 0xF) | ((q[b + l + 64] & 0xF) << 4));
                blk[64 * n + l + 32] = (byte)((q[b + l + 32] & 0xF) | ((q[b + l + 96] & 0xF) << 4));
                blk[128 + 32 * n + l] = (byte)((q[b + l] >> 4) | ((q[b + l + 32] >> 4) << 2) | ((q[b + l + 64] >> 4) << 4) | ((q[b + l + 96] >> 4) << 6));
            }
        for (int g = 0; g < 16; g++) blk[192 + g] = (byte)(sbyte)(g - 8);
        BitConverter.TryWriteBytes(blk.AsSpan(208), BitConverter.HalfToUInt16Bits((Half)0.125f));
        var y = new float[256];
        KQuants.DequantizeQ6K(blk, y);
        for (int e = 0; e < 256; e++) Assert.Equal(0.125f * (e / 16 - 8) * (q[e] - 32), y[e], 1e-6f);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 0.08)]
    [InlineData(GgmlType.Q5_K, 0.04)]
    [InlineData(GgmlType.Q6_K, 0.02)]
    public void RoundTripStaysWithinTheTypesError(GgmlType type, double maxRmsRelative)
    {
        var rng = new Random(5);
        var x = new float[256 * 12];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * (1 + i / 256));   // blocks of growing range
        var y = new float[x.Length];
        Quantizer.Dequantize(type, Quantizer.Quantize(type, x), y);
        for (int b = 0; b < 12; b++)
        {
            double err = 0, norm = 0;
            for (int i = 256 * b; i < 256 * (b + 1); i++) { err += (x[i] - y[i]) * (double)(x[i] - y[i]); norm += (double)x[i] * x[i]; }
            Assert.InRange(Math.Sqrt(err / norm), 0, maxRmsRelative);
        }
        Quantizer.Dequantize(type, Quantizer.Quantize(type, new float[256]), y.AsSpan(0, 256));
        Assert.All(y[..256], v => Assert.Equal(0f, v));
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Tests.Kernels;

/// <summary>Every SIMD kernel against its scalar reference. .ci/run repeats this class with AVX-512 and with AVX2
/// switched off (DOTNET_EnableAVX512F=0, DOTNET_EnableAVX2=0) so that every hardware path runs.</summary>
[Trait("Category", "Kernels")]
public unsafe class KernelTests
{
    public static TheoryData<int> Lengths() => [0, 1, 7, 8, 15, 16, 31, 32, 33, 64, 65, 172, 1000];

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    [Fact]
    public void BlockSizesMatchGgml()
    {
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.True(GgmlTypeInfo.TryGetBlock(GgmlType.Q8_0, out int e, out int b) && e == 32 && b == 34);
        Assert.True(GgmlTypeInfo.TryGetBlock(GgmlType.Q4_0, out e, out b) && e == 32 && b == 18);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void F32(int n)
    {
        float[] w = Random(n, 1), x = Random(n, 2);
        Assert.Equal(DotKernels.DotF32Scalar(w, x), DotKernels.DotF32(w, x), 1e-4f * Math.Max(1, n));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void F16(int n)
    {
        Half[] w = Random(n, 3).Select(v => (Half)v).ToArray();
        float[] x = Random(n, 4);
        Assert.Equal(DotKernels.DotF16Scalar(w, x), DotKernels.DotF16(w, x), 1e-4f * Math.Max(1, n));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Bf16(int n)
    {
        ushort[] w = Random(n, 5).Select(Quantizer.FloatToBf16).ToArray();
        float[] x = Random(n, 6);
        Assert.Equal(DotKernels.DotBf16Scalar(w, x), DotKernels.DotBf16(w, x), 1e-4f * Math.Max(1, n));
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 0.5 / 127)]   // half a quantization step of max|x| = 1
    [InlineData(GgmlType.Q4_0, 1.0 / 8 + 1e-3)]   // ggml's Q4_0 range is [−8, 7]·d: a full step on the far side
    [InlineData(GgmlType.Q5_0, 1.0 / 16 + 1e-3)]  // [−16, 15]·d, the same asymmetry
    [InlineData(GgmlType.Q4_1, 2.0 / 15 / 2 + 1e-3)]   // range 2 over 15 steps, rounded to nearest
    [InlineData(GgmlType.Q5_1, 2.0 / 31 / 2 + 1e-3)]
    [InlineData(GgmlType.F16, 1e-3)]
    [InlineData(GgmlType.BF16, 4e-3)]
    public void QuantizersDequantizeWithinTheirStep(GgmlType type, double tolerance)
    {
        float[] x = Random(32 * 9, 11);
        x[5] = 1f;   // pin max|x| of the first block
        var back = new float[x.Length];
        Quantizer.Dequantize(type, Quantizer.Quantize(type, x), back);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(back[i] - x[i]) <= tolerance * 1.01, $"{type} [{i}] {x[i]} -> {back[i]}");
    }

    [Fact]
    public void Q4_0RoundingFollowsGgmlReference()
    {
        // max by magnitude is −2 → d = 0.25, and −2 maps to nibble 0, +1.75 to 15 (clamped), 0 to 8.
        var x = new float[32];
        x[0] = -2f; x[1] = 1.75f; x[2] = 0f; x[16] = 0.125f;
        var b = MemoryMarshal.Cast<byte, BlockQ4_0>(Quantizer.Quantize(GgmlType.Q4_0, x))[0];
        Assert.Equal(0.25f, (float)b.D);
        Assert.Equal(0, b.Qs[0] & 0xF);
        Assert.Equal(15, b.Qs[1] & 0xF);
        Assert.Equal(8, b.Qs[2] & 0xF);
        Assert.Equal(9, b.Qs[0] >> 4);          // element 16: 0.125 / 0.25 + 8.5 = 9.0 → 9
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(8, 37)]
    [InlineData(16, 40)]
    [InlineData(64, 129)]
    [InlineData(6, 19)]
    public void AttentionHeadOpsMatchScalar(int hd, int count)
    {
        int ctx = count + 5;
        float[] q = Random(hd, 12), keysT = Random(hd * ctx, 13), values = Random(hd * ctx, 14), w = Random(count, 15);
        float[] s1 = new float[count], s2 = new float[count], o1 = new float[hd], o2 = new float[hd];
        fixed (float* pq = q, pk = keysT, pv = values, pw = w, ps1 = s1, ps2 = s2, po1 = o1, po2 = o2)
        {
            HeadOps.Scores(pq, pk, ctx, hd, count, 0.3f, ps1);
            HeadOps.ScoresScalar(pq, pk, ctx, hd, count, 0.3f, ps2);
            HeadOps.WeightedSum(pw, pv, hd, count, po1);
            HeadOps.WeightedSumScalar(pw, pv, hd, count, po2);
        }
        for (int i = 0; i < count; i++) Assert.Equal(s2[i], s1[i], 1e-4f);
        for (int i = 0; i < hd; i++) Assert.Equal(o2[i], o1[i], 1e-3f);
    }

    [Theory]
    [InlineData(8, 0)]
    [InlineData(8, 1)]
    [InlineData(8, 37)]
    [InlineData(16, 40)]
    [InlineData(64, 129)]
    [InlineData(6, 19)]
    public void FourQueryHeadOpsMatchScalar(int hd, int count)
    {
        // Four queries / weight rows at strides (as the attention job lays them out) against the scalar references.
        int ctx = count + 5, qStride = hd + 3, oStride = hd + 2;
        float[] q = Random(4 * qStride, 22), keysT = Random(hd * ctx, 23), values = Random(hd * ctx, 24), w = Random(4 * ctx, 25);
        float[] s4 = new float[4 * ctx], s1 = new float[count], o4 = Random(4 * oStride, 26), o1 = new float[hd];
        float[] before = (float[])o4.Clone();
        int[] counts = [count, Math.Min(count + 1, ctx), Math.Min(count + 2, ctx), Math.Min(count + 5, ctx)];   // prefill: one more key per token
        fixed (float* pq = q, pk = keysT, pv = values, pw = w, ps4 = s4, ps1 = s1, po4 = o4, po1 = o1)
        fixed (int* pc = counts)
        {
            HeadOps.Scores4(pq, qStride, pk, ctx, hd, count, 0.3f, ps4, ctx);
            HeadOps.WeightedSum4(pw, ctx, pv, hd, pc, po4, oStride, accumulate: true);
            for (int i = 0; i < 4; i++)
            {
                HeadOps.ScoresScalar(pq + i * qStride, pk, ctx, hd, count, 0.3f, ps1);
                for (int p = 0; p < count; p++) Assert.Equal(s1[p], s4[i * ctx + p], 1e-4f);
                HeadOps.Scores(pq + i * qStride, pk, ctx, hd, count, 0.3f, ps1);
                for (int p = 0; p < count; p++) Assert.Equal(s1[p], s4[i * ctx + p]);   // bit for bit: tiles must not change results
                HeadOps.WeightedSumScalar(pw + i * ctx, pv, hd, counts[i], po1);
                for (int d = 0; d < hd; d++) Assert.Equal(before[i * oStride + d] + o1[d], o4[i * oStride + d], 1e-3f);
                Array.Copy(before, i * oStride, o1, 0, hd);
                fixed (float* again = o1) HeadOps.WeightedSum(pw + i * ctx, pv, hd, counts[i], again, accumulate: true);
                for (int d = 0; d < hd; d++) Assert.Equal(o1[d], o4[i * oStride + d]);
                for (int d = hd; d < oStride; d++) Assert.Equal(before[i * oStride + d], o4[i * oStride + d]);   // untouched
            }
        }
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(3, 64)]
    [InlineData(4, 100)]
    [InlineData(7, 5)]
    public void F32TileMatchesScalar(int count, int cols)
    {
        float[] w = Random(cols, 16), x = Random(count * cols, 17), y = new float[count * 3];
        fixed (float* pw = w, px = x, py = y) F32Tile.Dot4(pw, px, cols, cols, Math.Min(count, 4), py, 3);
        for (int j = 0; j < Math.Min(count, 4); j++)
            Assert.Equal(DotKernels.DotF32Scalar(w, x.AsSpan(j * cols, cols)), y[j * 3], 1e-4f);
    }
}

/// <summary>Proves that the hardware switches of .ci/run take effect, so the kernel runs really cover each path.</summary>
[Trait("Category", "Kernels")]
public class HardwarePathTests
{
    [Fact]
    public void EnabledInstructionSetsFollowTheEnvironment()
    {
        // .NET 10 reads DOTNET_EnableAVX512; DOTNET_EnableAVX512F is the name earlier runtimes used.
        string? avx512 = Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") ?? Environment.GetEnvironmentVariable("DOTNET_EnableAVX512F");
        string? avx2 = Environment.GetEnvironmentVariable("DOTNET_EnableAVX2");
        if (avx512 == "0") Assert.False(System.Runtime.Intrinsics.X86.Avx512F.IsSupported);
        if (avx2 == "0") Assert.False(System.Runtime.Intrinsics.X86.Avx2.IsSupported);
        if (avx2 == "0") Assert.False(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated);
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVXVNNI") == "0" || avx2 == "0") Assert.False(System.Runtime.Intrinsics.X86.AvxVnni.IsSupported);
        Console.WriteLine($"AVX-512F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, AVX-VNNI {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}, " +
                          $"AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, " +
                          $"Vector<float> {System.Numerics.Vector<float>.Count} lanes");
    }
}

[Trait("Category", "Kernels")]
public class RopeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RotatesTheRightPairsByTheGivenAngles(bool neox)
    {
        const int heads = 2, hd = 8, half = 3;   // rotate the first 6 of 8 dimensions
        float[] x = Enumerable.Range(0, heads * hd).Select(i => (float)(i + 1)).ToArray();
        float[] cos = new float[half], sin = new float[half];
        for (int i = 0; i < half; i++) { cos[i] = MathF.Cos(0.3f * (i + 1)); sin[i] = MathF.Sin(0.3f * (i + 1)); }
        float[] y = (float[])x.Clone();
        Ops.Rope(y, heads, hd, cos, sin, neox);
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < half; i++)
            {
                // Normal: pairs (2i, 2i+1). NeoX: pairs (i, i + half).
                int a = h * hd + (neox ? i : 2 * i), b = h * hd + (neox ? i + half : 2 * i + 1);
                Assert.Equal(x[a] * cos[i] - x[b] * sin[i], y[a], 5);
                Assert.Equal(x[a] * sin[i] + x[b] * cos[i], y[b], 5);
            }
            Assert.Equal(x[h * hd + 6], y[h * hd + 6]);   // beyond the rotated dimensions: untouched
            Assert.Equal(x[h * hd + 7], y[h * hd + 7]);
        }
    }
}

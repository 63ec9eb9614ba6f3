using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Tests.Kernels;

/// <summary>Q4_K, Q6_K and Q8_0 repacked in groups of eight rows (<see cref="Q4KGroups"/>, <see cref="Q6KGroups"/>,
/// <see cref="Q8Groups"/>) against
/// the scalar reference, through the
/// product the engine runs (<see cref="MatMul"/>) and through the kernels alone. In the Kernels category, so .ci/run
/// repeats it with AVX-VNNI (the <c>vpmaddubsw</c> form runs) and AVX2 (no repacking: the row kernels run) off.</summary>
[Trait("Category", "Kernels")]
public class RepackedKQuantTests
{
    /// <summary>y[t, r] by the scalar reference (ggml's dot of the type against Q8_K activations).</summary>
    private static float[] Reference(GgmlType type, byte[] w, int rows, int cols, float[] x, int tokens)
    {
        int rowBytes = RowBytes(type, cols);
        var y = new float[tokens * rows];
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                y[t * rows + r] = QuantDot.DotScalar(type, w.AsSpan(r * rowBytes, rowBytes), x.AsSpan(t * cols, cols));
        return y;
    }

    private static int RowBytes(GgmlType type, int cols) => type switch
    {
        GgmlType.Q4_K => cols / 256 * KQuants.Q4KBytes,
        GgmlType.Q6_K => cols / 256 * KQuants.Q6KBytes,
        _ => cols / 32 * 34,
    };

    /// <summary>Equal up to float summation order: within 2e-5·√cols of the product's scale (its largest |y|), since a
    /// small result can be the difference of large sums.</summary>
    private static void AssertClose(float[] want, float[] got, int cols, string what)
    {
        double scale = Math.Max(1, want.Select(Math.Abs).DefaultIfEmpty(0).Max());
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= 2e-5 * Math.Max(1, Math.Sqrt(cols)) * scale, $"{what} [{i}]: {got[i]} vs {want[i]}");
    }

    public static TheoryData<GgmlType, int, int, int, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int, int, int, int>();
        foreach (GgmlType type in new[] { GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q8_0 })
        {
            data.Add(type, 8, 256, 1, 1);
            data.Add(type, 8, 256, 4, 1);
            data.Add(type, 13, 768, 5, 1);     // a part group (rows 8-12 through the row kernels), a tile and one token
            data.Add(type, 24, 768, 17, 1);    // more tokens than one chunk of 16
            data.Add(type, 40, 512, 9, 2);     // parts of whole groups on two threads
            data.Add(type, 3, 256, 4, 1);      // fewer rows than a group: not repacked
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void TheProductEqualsTheScalarReference(GgmlType type, int rows, int cols, int tokens, int threads)
    {
        float[] wf = QuantDotTests.Random(rows * cols, rows + cols), x = QuantDotTests.Random(tokens * cols, tokens);
        byte[] w = Quantizer.Quantize(type, wf);
        float[] want = Reference(type, w, rows, cols, x, tokens), got = new float[tokens * rows];
        using var pool = new WorkerPool(threads);
        var mm = new MatMul(pool, tokens, cols);
        fixed (byte* pw = w)
        fixed (float* px = x, py = got)
        {
            var m = new WeightMatrix("w", type, rows, cols, pw);
            Assert.Equal(Q4KGroups.Enabled && rows >= 8 && (type != GgmlType.Q8_0 || Q8Groups.Supported), m.Packed != null);
            mm.Run(m, px, cols, tokens, py, rows);
        }
        AssertClose(want, got, cols, $"{type} {rows}×{cols}, {tokens} tokens, {threads} threads");
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 0)]
    [InlineData(GgmlType.Q4_K, 1)]
    [InlineData(GgmlType.Q4_K, 3)]
    [InlineData(GgmlType.Q6_K, 0)]
    [InlineData(GgmlType.Q6_K, 1)]
    [InlineData(GgmlType.Q6_K, 3)]
    public unsafe void KernelsEqualTheScalarReferenceOnEveryLength(GgmlType type, int superBlocks)
    {
        if (!Q4KGroups.Supported) return;   // no AVX2: the engine never calls them
        int cols = superBlocks * 256;
        float[] wf = QuantDotTests.Random(8 * cols, 5 + superBlocks), x = QuantDotTests.Random(4 * cols, 9 + superBlocks);
        byte[] w = Quantizer.Quantize(type, wf);
        AssertKernels(type, w, cols, x);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(24)]
    public unsafe void Q8KernelsEqualTheScalarReferenceOnEveryLength(int blocks)
    {
        if (!Q8Groups.Supported) return;   // no AVX-VNNI: the engine never calls them
        int cols = blocks * 32;
        float[] x = QuantDotTests.Random(4 * cols, 19 + blocks);
        byte[] w = Quantizer.Quantize(GgmlType.Q8_0, QuantDotTests.Random(8 * cols, 17 + blocks));
        if (blocks > 0) { w[2] = 0x80; w[3] = 0x7F; }   // a weight of −128 (files may hold it) and one of 127
        float[] want = Reference(GgmlType.Q8_0, w, 8, cols, x, 4);
        var packed = new byte[Math.Max(1, blocks * Q8Groups.BlockBytes)];
        ActivationBlock[] acts = Enumerable.Range(0, 4).SelectMany(t => QuantDot.Blocks(x.AsSpan(t * cols, cols).ToArray())).ToArray();
        var tile = new float[32];
        var one = new float[32];
        fixed (byte* pw = w, pp = packed)
        fixed (ActivationBlock* pa = acts)
        fixed (float* pt = tile, po = one)
        {
            Q8Groups.Pack(pw, RowBytes(GgmlType.Q8_0, cols), 1, blocks, pp);
            Q8Groups.Tile4(pp, pa, blocks, blocks, pt);
            for (int t = 0; t < 4; t++) Q8Groups.Dot1(pp, pa + t * blocks, blocks, po + 8 * t);
        }
        AssertClose(want, tile, cols, $"Q8_0 Tile4, {blocks} blocks");
        AssertClose(want, one, cols, $"Q8_0 Dot1, {blocks} blocks");
    }

    [Fact]
    public void Q6KNegativeAndExtremeScalesMatchTheScalarReference()
    {
        if (!Q4KGroups.Supported) return;
        // ggml's Q6_K quantizer writes negative scales (ours never does): flip some, set some to −128, and push the
        // quants to 0 and 63 (all ql and qh bits clear or set) in alternate blocks.
        int cols = 512;
        float[] wf = QuantDotTests.Random(8 * cols, 77);
        byte[] w = Quantizer.Quantize(GgmlType.Q6_K, wf);
        for (int b = 0; b < 16; b++)
        {
            Span<byte> blk = w.AsSpan(b * KQuants.Q6KBytes, KQuants.Q6KBytes);
            blk[192 + b % 16] = 0x80;
            blk[192 + (b + 5) % 16] = unchecked((byte)(sbyte)-(sbyte)blk[192 + (b + 5) % 16]);
            if (b % 2 == 0) blk[..192].Fill(b % 4 == 0 ? (byte)0xFF : (byte)0);
        }
        AssertKernels(GgmlType.Q6_K, w, cols, QuantDotTests.Random(4 * cols, 78));
        AssertKernels(GgmlType.Q6_K, w, cols, Enumerable.Repeat(1f, 4 * cols).ToArray());
    }

    [Fact]
    public void LargestQuantsScalesAndMinsMatchTheScalarReference()
    {
        if (!Q4KGroups.Supported) return;
        // Every quant, scale and min at its maximum (15, 63, 63) against activations of ±127 (and all +127: the
        // largest per-sub-block sums the mins' int16 pairs must hold).
        int cols = 512;
        byte[] w = new byte[8 * 2 * KQuants.Q4KBytes];
        for (int b = 0; b < 16; b++)
        {
            Span<byte> blk = w.AsSpan(b * KQuants.Q4KBytes, KQuants.Q4KBytes);
            blk.Fill(0xFF);
            BitConverter.TryWriteBytes(blk, (Half)(0.001f * (1 + b % 3)));
            BitConverter.TryWriteBytes(blk[2..], (Half)0.0005f);
        }
        AssertKernels(GgmlType.Q4_K, w, cols, Enumerable.Range(0, 4 * cols).Select(i => i % 3 == 0 ? -1f : 1f).ToArray());
        AssertKernels(GgmlType.Q4_K, w, cols, Enumerable.Repeat(1f, 4 * cols).ToArray());
    }

    [Fact]
    public unsafe void RowsOfAFileStayReadableAfterTheirPagesAreGivenBack()
    {
        // Packing a mapped file's matrix releases the packed rows' pages (madvise on Linux); reading a row afterwards must
        // fault it back in from the file, unchanged, and the product must still be right.
        int rows = 64, cols = 1024;
        byte[] w = Quantizer.Quantize(GgmlType.Q4_K, QuantDotTests.Random(rows * cols, 3));
        string path = Path.Combine(Path.GetTempPath(), $"sinklab-release-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        try
        {
            var writer = new GgufWriter();
            writer.Add(GgufKeys.Architecture, GgufValue.Of("llama"));
            writer.AddTensor("w", GgmlType.Q4_K, [cols, rows], w);
            writer.Write(path);
            using GgufFile f = GgufFile.Open(path);
            Assert.True(f.TryGetTensor("w", out GgufTensorInfo info));
            var m = new WeightMatrix("w", GgmlType.Q4_K, rows, cols, f.TensorPointer(info), fileMapped: true);
            byte[] before = m.Row(37).ToArray();
            if (Q4KGroups.Enabled) Assert.True(m.Packed != null);
            Assert.Equal(before, m.Row(37).ToArray());
            Assert.Equal(w.AsSpan(37 * m.RowBytes, m.RowBytes).ToArray(), m.Row(37).ToArray());
            float[] x = QuantDotTests.Random(cols, 4), got = new float[rows];
            using var pool = new WorkerPool(1);
            var mm = new MatMul(pool, 1, cols);
            fixed (float* px = x, py = got) mm.Run(m, px, cols, 1, py, rows);
            AssertClose(Reference(GgmlType.Q4_K, w, rows, cols, x, 1), got, cols, "mapped file after release");
        }
        finally { File.Delete(path); }
    }

    /// <summary>Packs eight rows and checks the type's four-token and one-token kernels against the scalar reference.</summary>
    private static unsafe void AssertKernels(GgmlType type, byte[] w, int cols, float[] x)
    {
        int superBlocks = cols / 256;
        bool q6 = type == GgmlType.Q6_K;
        float[] want = Reference(type, w, 8, cols, x, 4);
        var packed = new byte[Math.Max(1, superBlocks * (q6 ? Q6KGroups.BlockBytes : Q4KGroups.BlockBytes))];
        ActivationSuperBlock[] acts = Enumerable.Range(0, 4).SelectMany(t => QuantDot.SuperBlocks(x.AsSpan(t * cols, cols).ToArray())).ToArray();
        var tile = new float[32];
        var one = new float[32];
        fixed (byte* pw = w, pp = packed)
        fixed (ActivationSuperBlock* pa = acts)
        fixed (float* pt = tile, po = one)
        {
            if (q6)
            {
                Q6KGroups.Pack(pw, RowBytes(type, cols), 1, superBlocks, pp);
                Q6KGroups.Tile4(pp, pa, superBlocks, superBlocks, pt);
                for (int t = 0; t < 4; t++) Q6KGroups.Dot1(pp, pa + t * superBlocks, superBlocks, po + 8 * t);
            }
            else
            {
                Q4KGroups.Pack(pw, RowBytes(type, cols), 1, superBlocks, pp);
                Q4KGroups.Tile4(pp, pa, superBlocks, superBlocks, pt);
                for (int t = 0; t < 4; t++) Q4KGroups.Dot1(pp, pa + t * superBlocks, superBlocks, po + 8 * t);
            }
        }
        AssertClose(want, tile, cols, $"{type} Tile4, {superBlocks} super-blocks");
        AssertClose(want, one, cols, $"{type} Dot1, {superBlocks} super-blocks");
    }
}

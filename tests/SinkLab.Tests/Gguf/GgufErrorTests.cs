using System.Buffers.Binary;
using System.Text;
using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tests.Models;

namespace SinkLab.Tests.Gguf;

/// <summary>Malformed files fail with a typed error that names what is wrong, where, expected and actual.</summary>
public class GgufErrorTests
{
    private static readonly byte[] Stories = File.ReadAllBytes(Shared.StoriesF32);

    private static GgufFormatException Fails(byte[] bytes) => Assert.Throws<GgufFormatException>(() =>
    {
        using GgufFile f = GgufFile.Parse(bytes, "bad.gguf");
        using Model m = Model.FromGguf(f);
    });

    /// <summary>Offset of the first byte of a key's value (after key string and type), or of a tensor's first
    /// dimension (after its name and n_dims): both are the name's end plus four bytes.</summary>
    internal static int ValueOffset(byte[] b, string key)
    {
        byte[] k = Encoding.UTF8.GetBytes(key);
        int i = b.AsSpan().IndexOf(k);
        Assert.True(i > 0, key);
        return i + k.Length + 4;
    }

    [Fact]
    public void EmptyAndTruncatedFiles()
    {
        Assert.Contains("truncated", Fails([]).Message);
        Assert.Contains("magic", Fails(Stories[..3]).Subject);
        GgufFormatException e = Fails(Stories[..5000]);
        Assert.Equal("bad.gguf", e.File);
        Assert.True(e.Offset > 0 && e.Offset <= 5000);
        Assert.Contains("truncated", Fails(Stories[..20]).Message);
        Assert.Contains("truncated", Fails(Stories[..(Stories.Length - 100)]).Actual);
        // Cut inside the data section: the last tensor runs past the end.
        Assert.Contains("tensor 'blk.4.ffn_norm.weight' data", Fails(Stories[..(Stories.Length - 100)]).Subject);
    }

    [Fact]
    public void WrongMagicAndUnknownVersion()
    {
        byte[] b = (byte[])Stories.Clone();
        b[0] = (byte)'X';
        GgufFormatException e = Fails(b);
        Assert.Equal("magic", e.Subject);
        Assert.Equal(0, e.Offset);
        b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 7);
        e = Fails(b);
        Assert.Equal("version", e.Subject);
        Assert.Equal("7", e.Actual);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 1);
        Assert.Contains("obsolete", Fails(b).Actual);
    }

    [Fact]
    public void AbsurdCountsAreRejectedBeforeAllocating()
    {
        byte[] b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), ulong.MaxValue / 2);   // tensor_count
        Assert.Equal("tensor_count", Fails(b).Subject);
        b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), 1UL << 40);          // kv count
        Assert.Equal("metadata_kv_count", Fails(b).Subject);
        b = (byte[])Stories.Clone();
        int arr = ValueOffset(b, "tokenizer.ggml.tokens");
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(arr + 4), 1UL << 50);      // array length
        Assert.Contains("element count of 'tokenizer.ggml.tokens'", Fails(b).Subject);
        b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(arr + 12), 1UL << 33);     // first string's length
        Assert.Contains("tokenizer.ggml.tokens", Fails(b).Subject);
    }

    [Fact]
    public void InvalidUtf8InAStringNamesTheKey()
    {
        byte[] b = (byte[])Stories.Clone();
        int v = ValueOffset(b, "general.name");
        b[v + 8] = 0xFF;   // first byte of "llama"
        GgufFormatException e = Fails(b);
        Assert.Contains("general.name", e.Subject);
        Assert.Equal("valid UTF-8", e.Expected);
    }

    [Fact]
    public void TensorOffsetPastEndAndUnknownType()
    {
        using GgufFile ok = GgufFile.Parse(Stories);
        int infoStart = Stories.AsSpan().IndexOf("output.weight"u8);
        int dimsAt = infoStart + "output.weight".Length + 4;           // after name and n_dims
        int typeAt = dimsAt + 16, offsetAt = typeAt + 4;
        byte[] b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(typeAt), 99);
        GgufFormatException e = Fails(b);
        Assert.Equal("tensor 'output.weight' type", e.Subject);
        Assert.Equal("99", e.Actual);
        b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(offsetAt), (ulong)Stories.Length * 4 / 32 * 32);
        Assert.Equal("tensor 'output.weight' data", Fails(b).Subject);
        b = (byte[])Stories.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(dimsAt + 8), 1UL << 62);
        Assert.Contains("tensor 'output.weight' dimension 1", Fails(b).Subject);
    }

    [Fact]
    public void MissingKeyAndTensorAndWrongShape()
    {
        var f = FixtureModel.Llama3Like();
        byte[] good = f.Bytes();
        byte[] b = (byte[])good.Clone();
        int k = b.AsSpan().IndexOf("llama.block_count"u8);
        b[k] = (byte)'x';   // rename the key: it is now missing
        GgufFormatException e = Fails(b);
        Assert.Equal("metadata key 'llama.block_count'", e.Subject);
        Assert.Equal("missing", e.Actual);

        b = (byte[])good.Clone();
        int t = b.AsSpan().IndexOf("blk.1.ffn_up.weight"u8);
        b[t + 4] = (byte)'X';
        Assert.Equal("tensor 'blk.1.ffn_up.weight'", Fails(b).Subject);

        b = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(ValueOffset(b, "llama.feed_forward_length")), 95);
        e = Fails(b);
        Assert.Equal("tensor 'blk.0.ffn_gate.weight' shape", e.Subject);
        Assert.Equal("[64, 96]", e.Actual);
        Assert.Contains("[64, 95]", e.Expected);
    }

    [Fact]
    public void UnknownArchitectureIsNotSupportedByName()
    {
        byte[] b = FixtureModel.Llama3Like().Bytes();
        int v = ValueOffset(b, GgufKeys.Architecture);
        "llamb"u8.CopyTo(b.AsSpan(v + 8));
        var e = Assert.Throws<ModelNotSupportedException>(() => Model.FromGguf(GgufFile.Parse(b)));
        Assert.Equal("llamb", e.What);
        Assert.Contains("llamb", e.Message);
    }
}

/// <summary>The quantized types' own failure modes: row lengths that are not whole blocks, quantized vectors where a
/// float vector is required.</summary>
public class QuantizedFileErrorTests
{
    /// <summary>A 256-wide fixture quantized to <paramref name="type"/> (every matrix).</summary>
    private static byte[] Fixture(GgmlType type) =>
        new FixtureModel { Dim = 256, Hidden = 512, Layers = 1, Heads = 8, KvHeads = 2, Vocab = 300, Context = 32, MatrixType = type }.Bytes();

    [Theory]
    [InlineData(GgmlType.Q4_K, 128)]
    [InlineData(GgmlType.Q5_K, 200)]
    [InlineData(GgmlType.Q6_K, 32)]
    [InlineData(GgmlType.Q4_1, 100)]
    [InlineData(GgmlType.Q5_0, 48)]
    [InlineData(GgmlType.Q5_1, 1)]
    [InlineData(GgmlType.Q2_K, 128)]
    [InlineData(GgmlType.Q3_K, 320)]
    [InlineData(GgmlType.IQ4_XS, 64)]
    [InlineData(GgmlType.IQ4_NL, 48)]
    [InlineData(GgmlType.MXFP4, 40)]
    public void RowNotWholeBlocksNamesTensorTypeAndBlock(GgmlType type, int cols)
    {
        byte[] b = Fixture(type);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(GgufErrorTests.ValueOffset(b, "blk.0.attn_q.weight")), (ulong)cols);
        var e = Assert.Throws<GgufFormatException>(() => { using GgufFile f = GgufFile.Parse(b, "bad.gguf"); });
        Assert.Contains("blk.0.attn_q.weight", e.Subject);
        GgmlTypeInfo.TryGetBlock(type, out int block, out _);
        Assert.Contains($"{type} block size {block}", e.Expected);
        Assert.Equal(cols.ToString(), e.Actual);
    }

    [Theory]
    [InlineData("iq2_m", GgmlType.IQ2_S)]
    [InlineData("iq1_m", GgmlType.IQ1_M)]
    [InlineData("iq3_xxs", GgmlType.IQ2_S)]
    [InlineData("tq1_0", GgmlType.TQ1_0)]
    public void LatticeAndTernaryRowsNotWholeBlocksNameTensorTypeAndBlock(string file, GgmlType type)
    {
        // llama.cpp's own files (../shared/reference/quant): blk.0.attn_q.weight's row length set to 128, half a block.
        byte[] b = File.ReadAllBytes(Path.Combine(Shared.Root, "reference", "quant", $"llama-wide-{file}.gguf"));
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(GgufErrorTests.ValueOffset(b, "blk.0.attn_q.weight")), 128UL);
        var e = Assert.Throws<GgufFormatException>(() => { using GgufFile f = GgufFile.Parse(b, "bad.gguf"); });
        Assert.Contains("blk.0.attn_q.weight", e.Subject);
        Assert.Contains($"{type} block size 256", e.Expected);
        Assert.Equal("128", e.Actual);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, true)]
    [InlineData(GgmlType.Q5_1, true)]
    [InlineData(GgmlType.Q2_K, true)]
    [InlineData(GgmlType.IQ4_XS, true)]
    [InlineData(GgmlType.Q8_1, false)]
    [InlineData(GgmlType.NVFP4, false)]
    public void NormInAnotherTypeIsDecodedOrRefusedByName(GgmlType type, bool readable)
    {
        // A norm vector stored with a quantized type id: types SinkLab decodes are read as floats, the others are
        // refused naming the tensor and the type.
        byte[] b = Fixture(GgmlType.F32);
        int at = GgufErrorTests.ValueOffset(b, "blk.0.attn_norm.weight") + 8;   // n_dims = 1: the type follows the single dimension
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), (uint)type);
        Exception? e = Record.Exception(() => { using GgufFile f = GgufFile.Parse(b, "bad.gguf"); using Model m = Model.FromGguf(f); });
        if (readable) { Assert.Null(e); return; }
        var unsupported = Assert.IsType<ModelNotSupportedException>(e);
        Assert.Contains("blk.0.attn_norm.weight", unsupported.Message);
        Assert.Contains($"{type} ({(uint)type})", unsupported.Message);   // by name and number
        Assert.Equal(type.ToString(), unsupported.What);
    }
}

using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Tests.Gguf;

public class GgufReaderTests
{
    [Fact]
    public void ReadsLlamaCppFileHeaderMetadataAndTensors()
    {
        using var f = GgufFile.Open(Shared.StoriesF32);
        Assert.Equal(3u, f.Version);
        Assert.Equal(19, f.Metadata.Count);
        Assert.Equal(48, f.Tensors.Count);
        Assert.Equal("llama", f.GetString(GgufKeys.Architecture));
        Assert.Equal(512, f.GetInt("llama.context_length"));
        Assert.Equal(64, f.GetInt("llama.embedding_length"));
        Assert.Equal(1e-5f, f.GetFloat("llama.attention.layer_norm_rms_epsilon", 0));
        Assert.Equal(512, f.GetArray<string>(GgufKeys.Tokens).Length);
        Assert.True(f.TryGetTensor("blk.4.ffn_down.weight", out var t));
        Assert.Equal(new long[] { 172, 64 }, t.Dimensions);
        Assert.Equal(GgmlType.F32, t.Type);
        Assert.Equal(172 * 64 * 4, t.ByteSize);
        Assert.Equal(0, f.DataOffset % f.Alignment);
    }

    public static TheoryData<string> SharedGgufFiles() =>
    [
        "stories260K-f32.gguf", "stories260K-f32-ctx512.gguf", "stories260K-q8_0.gguf", "stories260K-q4_0.gguf",
        "tokenizers/ggml-vocab-llama-spm.gguf", "tokenizers/ggml-vocab-gpt-2.gguf",
    ];

    [Theory]
    [MemberData(nameof(SharedGgufFiles))]
    public void WriterRoundTripsEveryFileByteForByte(string name)
    {
        string path = Path.Combine(Shared.Models, name);
        byte[] original = File.ReadAllBytes(path);
        using var f = GgufFile.Parse(original, path);
        using var ms = new MemoryStream();
        GgufWriter.From(f).Write(ms);
        Assert.Equal(original, ms.ToArray());
    }

    [Fact]
    public void EveryValueTypeAndNestedArraysRoundTrip()
    {
        var w = new GgufWriter();
        w.Add("u8", GgufValue.Create(GgufValueType.UInt8, (byte)200));
        w.Add("i8", GgufValue.Create(GgufValueType.Int8, (sbyte)-5));
        w.Add("u16", GgufValue.Create(GgufValueType.UInt16, (ushort)60000));
        w.Add("i16", GgufValue.Create(GgufValueType.Int16, (short)-30000));
        w.Add("u32", GgufValue.Of(4000000000u));
        w.Add("i32", GgufValue.Of(-7));
        w.Add("f32", GgufValue.Of(1.5f));
        w.Add("b", GgufValue.Of(true));
        w.Add("s", GgufValue.Of("héllo ▁ 😀"));
        w.Add("u64", GgufValue.Create(GgufValueType.UInt64, ulong.MaxValue));
        w.Add("i64", GgufValue.Create(GgufValueType.Int64, long.MinValue));
        w.Add("f64", GgufValue.Create(GgufValueType.Float64, Math.PI));
        var inner = new[] { new GgufArray(GgufValueType.Int32, new[] { 1, 2, 3 }), new GgufArray(GgufValueType.Int32, Array.Empty<int>()) };
        w.Add("nested", GgufValue.Of(new GgufArray(GgufValueType.Array, inner)));
        w.Add("strings", GgufValue.Of(new GgufArray(GgufValueType.String, new[] { "a", "", "ü" })));
        w.AddTensor("t", [32, 2], new float[64]);
        using var ms = new MemoryStream();
        w.Write(ms);
        using var f = GgufFile.Parse(ms.ToArray());
        Assert.Equal((byte)200, f.Metadata[0].Value.Value);
        Assert.Equal((sbyte)-5, f.Metadata[1].Value.Value);
        Assert.Equal(ulong.MaxValue, f.Metadata[9].Value.Value);
        Assert.Equal(Math.PI, f.Metadata[11].Value.Value);
        Assert.Equal("héllo ▁ 😀", f.GetString("s"));
        var nested = f.GetArray<GgufArray>("nested");
        Assert.Equal(new[] { 1, 2, 3 }, (int[])nested[0].Items);
        Assert.Empty((int[])nested[1].Items);
        Assert.Equal(new[] { "a", "", "ü" }, f.GetArray<string>("strings"));
        Assert.Equal(64 * 4, f.GetTensorData(f.Tensors[0]).Length);
        using var again = new MemoryStream();
        GgufWriter.From(f).Write(again);
        Assert.Equal(ms.ToArray(), again.ToArray());
    }

    [Fact]
    public void ReadsVersion2AndCustomAlignment()
    {
        var w = new GgufWriter { Version = 2 };
        w.Add(GgufKeys.Alignment, GgufValue.Of(64u));
        w.AddTensor("a", [3], new float[3]);
        w.AddTensor("b", [5], new float[] { 1, 2, 3, 4, 5 });
        using var ms = new MemoryStream();
        w.Write(ms);
        using var f = GgufFile.Parse(ms.ToArray());
        Assert.Equal(2u, f.Version);
        Assert.Equal(64, f.Alignment);
        Assert.Equal(64, f.Tensors[1].Offset);
        Assert.Equal(0, f.DataOffset % 64);
        Assert.Equal(5f, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensorData(f.Tensors[1]))[4]);
    }

    [Fact]
    public void WriterIsAtomicAndLeavesNoTempFileOnFailure()
    {
        string dir = Directory.CreateTempSubdirectory("sinklab-").FullName;
        string path = Path.Combine(dir, "out.gguf");
        var w = new GgufWriter();
        w.AddTensor("bad", GgmlType.F32, [4], () => new byte[3]);   // wrong size: fails mid-write
        Assert.Throws<ArgumentException>(() => w.Write(path));
        Assert.Empty(Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }
}

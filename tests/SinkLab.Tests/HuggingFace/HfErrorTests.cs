using System.Text;
using System.Text.Json.Nodes;
using SinkLab.Formats.HuggingFace;
using SinkLab.Gguf;
using SinkLab.Tests.Architectures;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.HuggingFace;

/// <summary>Bad Hugging Face folders: one clear line naming the problem, exit code 2, no output file; and a seeded fuzz
/// of the 656K checkpoint's safetensors header, config.json and tokenizer.json that only ever yields typed errors.</summary>
public class HfErrorTests
{
    private static string CopyOf656K()
    {
        string dir = HfFolder.NewDir("656k");
        foreach (string f in Directory.GetFiles(HfConvertTests.Checkpoint656K)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    public static TheoryData<string, string> Breakages => new()
    {
        { "no-config", "config.json: file: expected present, found missing" },
        { "no-weights", "weights: expected model.safetensors or model.safetensors.index.json" },
        { "no-tokenizer", "tokenizer.json or tokenizer.model" },
        { "unknown-class", "model class 'FalconForCausalLM'" },
        { "int-dtype", "dtype I32" },
        { "missing-shard", "shard 'model-00002-of-00002.safetensors'" },
        { "wrong-shape", "tensor 'blk.0.attn_k.weight' shape: expected [64, 128]" },
        { "missing-tensor", "tensor for 'blk.1.ffn_norm.weight'" },
        { "bad-json", "config.json: JSON at line" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void BadFolderFailsWithOneLineAndNoOutput(string breakage, string message)
    {
        string dir = CopyOf656K(), output = Path.Combine(Path.GetTempPath(), $"sinklab-bad-{Guid.NewGuid():N}.gguf");
        try
        {
            string config = Path.Combine(dir, "config.json"), weights = Path.Combine(dir, "model.safetensors");
            Dictionary<string, (long[] Shape, float[] Data)> Tensors()
            {
                using var st = SafeTensorsFile.Open(weights);
                return st.Tensors.ToDictionary(kv => kv.Key, kv => (kv.Value.Shape, st.ReadFloats(kv.Value)));
            }
            switch (breakage)
            {
                case "no-config": File.Delete(config); break;
                case "no-weights": File.Delete(weights); break;
                case "no-tokenizer": File.Delete(Path.Combine(dir, "tokenizer.json")); break;
                case "unknown-class": File.WriteAllText(config, File.ReadAllText(config).Replace("LlamaForCausalLM", "FalconForCausalLM", StringComparison.Ordinal)); break;
                case "bad-json": File.WriteAllText(config, File.ReadAllText(config)[..200]); break;
                case "int-dtype":
                {
                    var t = Tensors();
                    File.Delete(weights);
                    HfFolder.WriteSafetensors(weights, t.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Data)));
                    byte[] bytes = File.ReadAllBytes(weights);
                    string header = Encoding.UTF8.GetString(bytes, 8, (int)BitConverter.ToUInt64(bytes, 0));
                    int at = header.IndexOf("\"model.layers.0.mlp.up_proj.weight\"", StringComparison.Ordinal);
                    int dt = header.IndexOf("\"F32\"", at, StringComparison.Ordinal);
                    Encoding.UTF8.GetBytes("\"I32\"").CopyTo(bytes, 8 + dt);   // same size: the header stays valid
                    File.WriteAllBytes(weights, bytes);
                    break;
                }
                case "missing-shard":
                {
                    var t = Tensors();
                    File.Delete(weights);
                    HfFolder.WriteSafetensors(Path.Combine(dir, "model-00001-of-00002.safetensors"), t.Take(10).Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Data)));
                    HfFolder.WriteJson(Path.Combine(dir, "model.safetensors.index.json"), new
                    {
                        weight_map = t.Keys.Select((k, i) => (k, i < 10 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors")).ToDictionary(x => x.k, x => x.Item2),
                    });
                    break;
                }
                case "wrong-shape" or "missing-tensor":
                {
                    var t = Tensors();
                    if (breakage == "wrong-shape") t["model.layers.0.self_attn.k_proj.weight"] = ([64, 64], new float[64 * 64]);
                    else t.Remove("model.layers.1.post_attention_layernorm.weight");
                    File.Delete(weights);
                    HfFolder.WriteSafetensors(weights, t.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Data)), metadata: new Dictionary<string, string> { ["format"] = "pt" });
                    break;
                }
            }
            var (code, stdout, stderr) = CliTests.Run("convert", dir, "-o", output, "--type", "F32");
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("sinklab: error:", stderr);
            Assert.Contains(message, stderr);
            Assert.False(File.Exists(output));
            Assert.Empty(Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(output) + "*"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>2,000 seeded mutations each (bytes flipped, set, inserted, deleted, truncated; JSON values swapped for
    /// huge, negative, empty or wrongly typed ones) of the safetensors header, config.json and tokenizer.json: every run
    /// converts or fails with a typed error, none takes long, none allocates more than the inputs justify.</summary>
    [Theory]
    [InlineData("model.safetensors", 11)]
    [InlineData("config.json", 12)]
    [InlineData("tokenizer.json", 13)]
    public void FuzzedInputsGiveOnlyTypedErrors(string file, int seed)
    {
        const int Runs = 2000;
        string dir = CopyOf656K();
        try
        {
            string path = Path.Combine(dir, file);
            byte[] original = File.ReadAllBytes(path);
            int headerEnd = file.EndsWith(".safetensors", StringComparison.Ordinal) ? 8 + (int)BitConverter.ToUInt64(original, 0) : original.Length;
            var rng = new Random(seed);
            int converted = 0, typed = 0;
            long worstBytes = 0, worstMs = 0;
            for (int run = 0; run < Runs; run++)
            {
                byte[] mutated = file.EndsWith(".json", StringComparison.Ordinal) && run % 2 == 0
                    ? MutateJson(original, rng) : MutateBytes(original, headerEnd, rng);
                File.WriteAllBytes(path, mutated);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var sw = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    using HfCheckpoint cp = HfCheckpoint.Open(dir);
                    GgufWriter w = HfConverter.Build(cp, GgmlType.F32, out _);
                    w.Write(Stream.Null);
                    converted++;
                }
                catch (Exception e) when (e is HuggingFaceFormatException or ModelNotSupportedException or GgufFormatException or ArgumentException)
                {
                    Assert.DoesNotContain('\n', e.Message);
                    typed++;
                }
                worstMs = Math.Max(worstMs, sw.ElapsedMilliseconds);
                worstBytes = Math.Max(worstBytes, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.Equal(Runs, converted + typed);
            Assert.True(typed > Runs / 10, $"only {typed} of {Runs} mutations were rejected: the fuzzer is not reaching the parsers");
            // A conversion of this 2.6 MB checkpoint allocates ~15 MB (floats, JSON, GGUF bytes); no mutation may make it
            // allocate an order of magnitude more (e.g. a header claiming a huge tensor or vocabulary).
            Assert.True(worstBytes < 200L << 20, $"a mutation allocated {worstBytes / 1e6:F0} MB");
            Assert.True(worstMs < 20_000, $"a mutation took {worstMs} ms");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static byte[] MutateBytes(byte[] original, int end, Random rng)
    {
        var b = new List<byte>(original);
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits; e++)
        {
            int at = rng.Next(Math.Min(end, b.Count));
            switch (rng.Next(5))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2: b.Insert(at, (byte)"{}[]\",:0123456789-e"[rng.Next(19)]); break;
                case 3: b.RemoveAt(at); break;
                default: b.RemoveRange(at, b.Count - at); return [.. b];
            }
        }
        return [.. b];
    }

    /// <summary>Replaces one value of the JSON tree by a hostile one.</summary>
    private static byte[] MutateJson(byte[] original, Random rng)
    {
        JsonNode root = JsonNode.Parse(original)!;
        var values = new List<(JsonNode Parent, object Key)>();
        void Walk(JsonNode? n)
        {
            if (n is JsonObject o) foreach (var (k, v) in o.ToList()) { values.Add((o, k)); Walk(v); }
            else if (n is JsonArray a && a.Count < 64) for (int i = 0; i < a.Count; i++) { values.Add((a, i)); Walk(a[i]); }
            else if (n is JsonArray big) for (int i = 0; i < 64; i++) values.Add((big, rng.Next(big.Count)));
        }
        Walk(root);
        JsonNode?[] hostile = [null, -1, 0, int.MaxValue, long.MaxValue, 1e300, "", "x", true, new JsonArray(), new JsonObject(), 1 << 24, -1e-300];
        var (parent, key) = values[rng.Next(values.Count)];
        JsonNode? value = hostile[rng.Next(hostile.Length)]?.DeepClone() ?? null;
        if (parent is JsonObject po) po[(string)key] = value;
        else ((JsonArray)parent)[(int)key] = value;
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}

using System.Text.Json;
using SinkLab.Formats.HuggingFace;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Kernels;
using SinkLab.Models;
using SinkLab.Tests.Architectures;

namespace SinkLab.Tests.HuggingFace;

/// <summary><c>sinklab convert</c> on Hugging Face folders: the real 656K checkpoint, and a random-weight folder of every
/// architecture written from SinkLab's own GGUF fixture.</summary>
public class HfConvertTests
{
    internal static string Checkpoint656K => Path.Combine(Shared.Models, "hf", "tinystories-656k");

    private static float[] Tensor(GgufFile f, string name)
    {
        GgufTensorInfo t = f.Tensors.First(x => x.Name == name);
        var a = new float[t.Dimensions.Aggregate(1L, (p, d) => p * d)];
        Quantizer.Dequantize(t.Type, f.GetTensorData(t), a);
        return a;
    }

    private static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"sinklab-{name}-{Guid.NewGuid():N}.gguf");

    [Fact]
    public void Checkpoint656KConvertsToLlamaCppsLayoutAndRunsSensibly()
    {
        string output = Temp("656k");
        try
        {
            HfConversion r = HfConverter.Convert(Checkpoint656K, output, GgmlType.F32);
            Assert.Equal("llama", r.Architecture);
            using Model m = Model.Load(output);
            GgufFile g = m.File;
            Assert.Equal(2048, m.Config.VocabSize);
            Assert.Equal(8, m.Config.Heads);
            Assert.Equal(4, m.Config.KvHeads);
            Assert.True(m.Config.TiedOutput);
            Assert.Equal(1e-6f, m.Config.NormEps);
            Assert.Equal("llama", g.GetString(GgufKeys.TokenizerModel));

            // Tensors: equal to the checkpoint's, Q/K rows permuted as llama.cpp does (GGUF row 2i+j of a head = HF row j·hd/2+i).
            using HfCheckpoint cp = HfCheckpoint.Open(Checkpoint656K);
            Assert.Equal(cp.Read("lm_head.weight"), Tensor(g, "token_embd.weight"));   // the embedding stored once, under lm_head
            Assert.False(g.TryGetTensor("output.weight", out _));
            for (int l = 0; l < 2; l++)
            {
                foreach (var (hf, gguf) in new[] { ("self_attn.v_proj", "attn_v"), ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"),
                    ("mlp.up_proj", "ffn_up"), ("mlp.down_proj", "ffn_down"), ("input_layernorm", "attn_norm"), ("post_attention_layernorm", "ffn_norm") })
                    Assert.Equal(cp.Read($"model.layers.{l}.{hf}.weight"), Tensor(g, $"blk.{l}.{gguf}.weight"));
                foreach (var (hf, gguf, heads) in new[] { ("q_proj", "attn_q", 8), ("k_proj", "attn_k", 4) })
                {
                    float[] a = cp.Read($"model.layers.{l}.self_attn.{hf}.weight"), b = Tensor(g, $"blk.{l}.{gguf}.weight");
                    for (int h = 0; h < heads; h++)
                        for (int i = 0; i < 8; i++)
                            for (int j = 0; j < 2; j++)
                                Assert.Equal(a.AsSpan((h * 16 + j * 8 + i) * 128, 128).ToArray(), b.AsSpan((h * 16 + 2 * i + j) * 128, 128).ToArray());
                }
            }
            Assert.Equal(cp.Read("model.norm.weight"), Tensor(g, "output_norm.weight"));

            // The engine on the converted file against transformers' own forward on the checkpoint (rotate_half RoPE).
            int[] ids = m.Tokenizer.Encode("Once upon a time, there was a little dog named Max. He liked to run.");
            double[][] want = HfLlamaReference.Logits(Checkpoint656K, ids);
            float[][] got = ArchFixtureTests.Batched(m, ids, 1);
            for (int t = 0; t < ids.Length; t++)
            {
                double scale = want[t].Max(Math.Abs);
                for (int i = 0; i < 2048; i++) Assert.True(Math.Abs(got[t][i] - want[t][i]) / scale < 1e-4, $"token {t} logit {i}: {got[t][i]} vs {want[t][i]}");
            }

            // Greedy text is TinyStories prose (the model's own BOS, <|start_story|>, comes first).
            using var s = new InferenceSession(m);
            int[] prompt = m.Tokenizer.Encode("Once upon a time");
            Assert.Equal(1, prompt[0]);
            string text = m.Tokenizer.Decode(Generator.Generate(s, prompt, 40, new Sampler(m.Config.VocabSize)).ToArray());
            Assert.StartsWith("Once upon a time, a little girl named Lily", text);
            Assert.Matches(@"^[A-Za-z ,.'""!?\n]+$", text);
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void Converted656KTokenizerEncodesTheCorporaAsTokenizerJsonDefines()
    {
        string output = Temp("656k-tok");
        try
        {
            HfConverter.Convert(Checkpoint656K, output, GgmlType.F32);
            using Model m = Model.Load(output);
            HfTokenizerJson reference = HfTokenizerJson.Open(Path.Combine(Checkpoint656K, "tokenizer.json"));
            foreach (string corpus in new[] { Shared.TinyStories, Shared.Shakespeare, Shared.WarAndPeace })
            {
                string text = File.ReadAllText(corpus);
                int[] want = reference.Encode(text, addSpecialTokens: true), got = m.Tokenizer.Encode(text);
                Assert.Equal(want.Length, got.Length);
                int first = Enumerable.Range(0, want.Length).FirstOrDefault(i => want[i] != got[i], -1);
                Assert.True(first < 0, $"{Path.GetFileName(corpus)}: first difference at token {first}");
            }
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>Architectures with a Hugging Face form (gpt-oss's, with MXFP4 blocks in safetensors, is not converted yet).</summary>
    public static TheoryData<string> Archs => new(ArchitectureRegistry.Supported.Where(a => ArchitectureRegistry.Get(a, "").HuggingFace != null));

    /// <summary>A checkpoint written from the synthetic GGUF, converted back, gives the same model: the same tensors
    /// and the same logits.</summary>
    [Theory]
    [MemberData(nameof(Archs))]
    public void RandomCheckpointOfEveryArchitectureConvertsToTheSynthModel(string arch)
    {
        using GgufFile synth = ArchFixtureTests.Fixture(arch);
        string dir = HfFolder.FromGguf(synth, arch), output = Temp(arch);
        try
        {
            HfConverter.Convert(dir, output, GgmlType.F32);
            using Model a = Model.FromGguf(ArchFixtureTests.Fixture(arch)), b = Model.Load(output);
            Assert.Equal(arch, b.Config.Architecture);
            Assert.Equal(a.Config, b.Config with { LayerSpecs = a.Config.LayerSpecs });
            Assert.Equal(a.Config.LayerSpecs, b.Config.LayerSpecs);
            foreach (GgufTensorInfo t in synth.Tensors.Where(t => t.Name != GgufKeys.Output || b.File.TryGetTensor(GgufKeys.Output, out _)))
            {
                float[] x = Tensor(synth, t.Name), y = Tensor(b.File, t.Name);
                Assert.Equal(x.Length, y.Length);
                for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-6f * Math.Max(1, Math.Abs(x[i])), $"{t.Name}[{i}]: {x[i]} vs {y[i]}");
            }
            float[][] la = ArchFixtureTests.Batched(a, ArchFixtureTests.Tokens, 1), lb = ArchFixtureTests.Batched(b, ArchFixtureTests.Tokens, 1);
            for (int t = 0; t < la.Length; t++)
                for (int i = 0; i < la[t].Length; i++) Assert.Equal(la[t][i], lb[t][i], 1e-4f);
        }
        finally
        {
            Directory.Delete(dir, true);
            File.Delete(output);
        }
    }

    [Fact]
    public void ShardedBf16CheckpointConvertsLikeOneFile()
    {
        using GgufFile synth = ArchFixtureTests.Fixture("qwen3");
        string dir = HfFolder.FromGguf(synth, "qwen3", dtype: "BF16"), single = Temp("single"), sharded = Temp("sharded");
        try
        {
            HfConverter.Convert(dir, single);   // auto type: BF16, as llama.cpp guesses from a bf16 checkpoint
            using (GgufFile f = GgufFile.Open(single)) Assert.Equal(GgmlType.BF16, f.Tensors.First(t => t.Name == "blk.0.attn_q.weight").Type);

            // Split the same tensors over two shards with an index.
            using (var st = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
            {
                var names = st.Tensors.Keys.ToList();
                var parts = new[] { names.Take(names.Count / 2).ToList(), names.Skip(names.Count / 2).ToList() };
                string[] files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
                for (int p = 0; p < 2; p++)
                    HfFolder.WriteSafetensors(Path.Combine(dir, files[p]), parts[p].Select(n => (n, st.Tensors[n].Shape, st.ReadFloats(st.Tensors[n]))), "BF16");
                HfFolder.WriteJson(Path.Combine(dir, "model.safetensors.index.json"), new
                {
                    metadata = new { total_size = 0 },
                    weight_map = parts.SelectMany((ns, p) => ns.Select(n => (n, files[p]))).ToDictionary(x => x.n, x => x.Item2),
                });
            }
            File.Delete(Path.Combine(dir, "model.safetensors"));
            HfConverter.Convert(dir, sharded);
            Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(sharded));
        }
        finally
        {
            Directory.Delete(dir, true);
            File.Delete(single);
            File.Delete(sharded);
        }
    }

    [Fact]
    public void Gpt2TokenizerGetsLlamaCppsPreTokenizerName()
    {
        // GPT-2's tokenizer.json rebuilt from llama.cpp's own GPT-2 vocabulary: its chkhsh must be llama.cpp's for GPT-2.
        string dir = HfFolder.NewDir("gpt2-tok");
        try
        {
            using GgufFile f = GgufFile.Open(Path.Combine(Shared.Tokenizers, "ggml-vocab-gpt-2.gguf"));
            string[] tokens = f.GetArray<string>(GgufKeys.Tokens);
            var vocab = tokens.Select((t, i) => (t, i)).Where(x => x.i < 50256).ToDictionary(x => x.t, x => x.i);
            HfFolder.WriteJson(Path.Combine(dir, "tokenizer.json"), new
            {
                added_tokens = new[] { new { id = 50256, content = "<|endoftext|>", special = true, normalized = false } },
                pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
                post_processor = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = false, use_regex = true },
                decoder = new { type = "ByteLevel" },
                model = new { type = "BPE", byte_fallback = false, vocab, merges = f.GetArray<string>(GgufKeys.Merges) },
            });
            HfTokenizerJson tj = HfTokenizerJson.Open(Path.Combine(dir, "tokenizer.json"));
            Assert.Equal("3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454", tj.CheckHash());
            // And encoding llama.cpp's GPT-2 test inputs gives its ids.
            string[] inputs = File.ReadAllText(Path.Combine(Shared.Tokenizers, "ggml-vocab-gpt-2.gguf.inp")).Split("\n__ggml_vocab_test__\n");
            string[] outputs = File.ReadAllLines(Path.Combine(Shared.Tokenizers, "ggml-vocab-gpt-2.gguf.out"));
            for (int i = 0; i < outputs.Length; i++)
                Assert.Equal(outputs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse), tj.Encode(inputs[i]));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void SentencePieceModelReadsAsLlamaCppsConverterDid()
    {
        // tok512.model is the vocabulary llama.cpp's converter put into stories260K's GGUF: same pieces, scores, types.
        SentencePieceModel sp = SentencePieceModel.Open(Path.Combine(Shared.Models, "tok512.model"));
        using GgufFile g = GgufFile.Open(Shared.StoriesF32);
        string[] tokens = g.GetArray<string>(GgufKeys.Tokens);
        float[] scores = g.GetArray<float>(GgufKeys.Scores);
        int[] types = g.GetArray<int>(GgufKeys.TokenTypes);
        Assert.Equal(512, sp.Pieces.Count);
        for (int i = 3; i < 512; i++)   // llama2.c's converter rewrote the three control pieces' texts
        {
            Assert.Equal(tokens[i], sp.Pieces[i]);
            Assert.Equal(scores[i], sp.Scores[i]);
            Assert.Equal(types[i], (int)sp.Types[i]);
        }
        Assert.True(sp.AddDummyPrefix);
    }
}

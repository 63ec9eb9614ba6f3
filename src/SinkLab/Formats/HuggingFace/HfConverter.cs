using MemoryMarshal = System.Runtime.InteropServices.MemoryMarshal;
using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Formats.HuggingFace;

/// <summary>What <see cref="HfConverter.Convert"/> wrote.</summary>
/// <param name="Architecture">GGUF architecture.</param>
/// <param name="Tensors">Tensors written.</param>
/// <param name="Type">Type of the matrices (norms and 1-D tensors stay F32).</param>
/// <param name="Notes">Choices the user should know about (e.g. how the tokenizer was mapped).</param>
public sealed record HfConversion(string Architecture, int Tensors, GgmlType Type, IReadOnlyList<string> Notes);

/// <summary>
/// Converts a Hugging Face checkpoint folder to the GGUF llama.cpp's convert_hf_to_gguf.py writes: the architecture's
/// row in <see cref="ArchitectureRegistry"/> maps config.json to keys and each tensor to its GGUF name (with the
/// transforms that architecture needs), the tokenizer is mapped by <see cref="HfVocabulary"/>, and every tensor's shape
/// is checked against the configuration before anything is written. The file is written atomically: on any error
/// nothing is left behind.
/// </summary>
public static class HfConverter
{
    /// <summary>Types the converter writes directly (llama.cpp's --outtype); other recipes go through
    /// <see cref="ModelQuantizer"/> afterwards.</summary>
    public static readonly GgmlType[] DirectTypes = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0];

    /// <summary>The architecture a checkpoint's config.json names.</summary>
    /// <exception cref="ModelNotSupportedException">No architecture answers to its class; the message lists those that do.</exception>
    internal static Architecture ArchitectureOf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string cls = config.Architecture;
        foreach (string name in ArchitectureRegistry.Supported)
        {
            Architecture a = ArchitectureRegistry.Get(name, config.Path);
            if (a.HuggingFace is { } hf && hf.Classes.Contains(cls)) return a;
        }
        var known = ArchitectureRegistry.Supported.SelectMany(n => ArchitectureRegistry.Get(n, "").HuggingFace?.Classes ?? []);
        throw new ModelNotSupportedException(cls, $"{config.Path}: model class '{cls}' (model_type '{config.ModelType}') is not supported (supported: {string.Join(", ", known)})");
    }

    /// <summary>Converts the checkpoint in <paramref name="dir"/> to <paramref name="output"/> with matrices of
    /// <paramref name="type"/> (null: llama.cpp's guess — BF16 for BF16 checkpoints, F16 otherwise).</summary>
    /// <exception cref="HuggingFaceFormatException">A file missing or malformed, a tensor missing, unmapped or of the wrong shape.</exception>
    /// <exception cref="ModelNotSupportedException">An unknown model class, dtype or tokenizer.</exception>
    public static HfConversion Convert(string dir, string output, GgmlType? type = null, IProgress<string>? progress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        ArgumentException.ThrowIfNullOrEmpty(output);
        using HfCheckpoint cp = HfCheckpoint.Open(dir);
        GgufWriter w = Build(cp, type, out HfConversion result, progress);
        w.Write(output);
        return result;
    }

    /// <summary>The whole GGUF as a writer (tensors are read and converted when written).</summary>
    internal static GgufWriter Build(HfCheckpoint cp, GgmlType? requested, out HfConversion result, IProgress<string>? progress = null)
    {
        Architecture arch = ArchitectureOf(cp.Config);
        HfSpec spec = arch.HuggingFace!;
        GgmlType type = requested ?? (cp.FirstMatrixDType() == "BF16" ? GgmlType.BF16 : GgmlType.F16);
        if (Array.IndexOf(DirectTypes, type) < 0)
            throw new ArgumentException($"the converter writes {string.Join(", ", DirectTypes)}; quantize the result for {type}", nameof(requested));

        var w = new GgufWriter();
        w.Add(GgufKeys.Architecture, GgufValue.Of(arch.Name));
        w.Add(GgufKeys.Type, GgufValue.Of("model"));
        w.Add(GgufKeys.Name, GgufValue.Of(Path.GetFileName(Path.GetFullPath(cp.Directory).TrimEnd(Path.DirectorySeparatorChar))));
        spec.Keys(cp.Config, new KeyWriter(w, arch.Name));
        w.Add(GgufKeys.FileType, GgufValue.Of(FileType(type)));
        w.Add(GgufKeys.QuantizationVersion, GgufValue.Of(2u));
        int embeddingRows = cp.Names.Where(n => spec.Map(n) is GgufKeys.TokenEmbedding or GgufKeys.Output)
            .Select(n => { cp.TryFind(n, out _, out SafeTensor t); return t.Shape.Length == 2 ? (int)Math.Min(int.MaxValue, t.Shape[0]) : 0; })
            .DefaultIfEmpty(0).Max();
        if (embeddingRows == 0) throw new HuggingFaceFormatException(cp.Directory, "token embedding", "a 2-D tensor the converter maps to token_embd", "none");
        IReadOnlyList<string> notes = HfVocabulary.Write(w, cp.Directory, cp.Config, spec.Vocab, embeddingRows);
        int vocab = ((GgufArray)w.Get(GgufKeys.Tokens)!.Value).Items.Length;

        // Plan the tensors the configuration needs (every optional bias allowed) and check each mapped tensor against it.
        using var keysOnly = new MemoryStream();
        w.Write(keysOnly);
        ModelConfig c = ModelLoader.ReadConfig(GgufFile.Parse(keysOnly.ToArray(), cp.Config.Path), tokenEmbeddingRows: vocab).Config;
        TensorLayout permissive = arch.Layout with { QkvBias = true, OutputBias = true, MlpBias = true, NormBias = true };
        Dictionary<string, long[]> planned = TensorPlan.For(c, permissive).ToDictionary(t => t.Name, t => t.Dims);
        foreach (PlannedTensor alt in TensorPlan.For(c, permissive with { FusedQkv = !permissive.FusedQkv, FusedGateUp = !permissive.FusedGateUp }))
            planned.TryAdd(alt.Name, alt.Dims);
        if (c.TiedOutput && arch.Layout.Output) planned.TryAdd(GgufKeys.Output, [c.Dim, c.VocabSize]);
        planned[GgufKeys.RopeFreqs] = [Math.Max(1, c.RopeDim / 2)];

        var written = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (HfTensor extra in spec.Extra?.Invoke(cp.Config) ?? [])
            Add(w, extra.GgufName, [extra.Data.Length], "F32", () => extra, type, written, seen, planned, cp.Directory);
        string? embeddingSource = null;
        foreach (string hfName in cp.Names)
        {
            // Buffers every converter drops (llama.cpp's prepare_tensors): rotary caches and attention masks.
            if (hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || hfName.EndsWith(".attention.masked_bias", StringComparison.Ordinal)
                || hfName.EndsWith(".attention.bias", StringComparison.Ordinal)) continue;
            string? gguf = spec.Map(hfName);
            if (gguf == null) continue;
            if (gguf == Hf.Unmapped)
                throw new HuggingFaceFormatException(cp.Directory, $"tensor '{hfName}'", $"a tensor the {arch.Name} converter maps", "no mapping (not a supported layout)");
            if (gguf == GgufKeys.Output && !arch.Layout.Output) continue;   // e.g. Gemma: llama.cpp never reads lm_head
            if (gguf == GgufKeys.TokenEmbedding) embeddingSource = hfName;
            cp.TryFind(hfName, out _, out SafeTensor t);
            string name = hfName;
            Add(w, gguf, t.Shape, t.DType, () => Load(cp, name, gguf, spec, vocab), type, written, seen, planned, cp.Directory);
        }
        // A tied embedding saved once under the output's name (the 656K checkpoint stores only lm_head.weight).
        if (embeddingSource == null && seen.Contains(GgufKeys.Output))
        {
            string hfOutput = cp.Names.First(n => spec.Map(n) == GgufKeys.Output);
            w.RemoveTensor(GgufKeys.Output);
            written.Remove(GgufKeys.Output);
            seen.Remove(GgufKeys.Output);
            cp.TryFind(hfOutput, out _, out SafeTensor t);
            Add(w, GgufKeys.TokenEmbedding, t.Shape, t.DType, () => Load(cp, hfOutput, GgufKeys.TokenEmbedding, spec, vocab), type, written, seen, planned, cp.Directory);
            notes = [.. notes, $"the embedding is stored once, as '{hfOutput}': written as {GgufKeys.TokenEmbedding} (output tied)"];
        }
        foreach (var (name, _) in planned)
            if (!seen.Contains(name) && Required(name))
                throw new HuggingFaceFormatException(cp.Directory, $"tensor for '{name}'", "present in the checkpoint", "missing");
        for (int l = 0; l < c.Layers; l++)
        {
            string B(string s) => GgufKeys.Block(l, s);
            if (!seen.Contains(B(GgufKeys.AttnQkv)) && !new[] { GgufKeys.AttnQ, GgufKeys.AttnK, GgufKeys.AttnV }.All(n => seen.Contains(B(n))))
                throw new HuggingFaceFormatException(cp.Directory, $"layer {l} attention", "a fused Q|K|V projection or all of Q, K and V", "missing");
            if (!seen.Contains(B(GgufKeys.FfnUp)) || (c.Block.Gated && !arch.Layout.FusedGateUp && !seen.Contains(B(GgufKeys.FfnGate))))
                throw new HuggingFaceFormatException(cp.Directory, $"layer {l} MLP", c.Block.Gated ? "gate and up projections" : "an up projection", "missing");
        }
        progress?.Report($"{arch.Name}: {written.Count} tensors, {type}");
        result = new HfConversion(arch.Name, written.Count, type, notes);
        return w;
    }

    /// <summary>Biases, the output (tied when absent), the position table of non-learned models and the other fused or
    /// unfused form of Q/K/V and gate/up are optional; everything else planned must come from the checkpoint.</summary>
    private static bool Required(string name)
    {
        if (name.EndsWith(".bias", StringComparison.Ordinal) || name is GgufKeys.Output or GgufKeys.RopeFreqs) return false;
        string[] alternatives = ["attn_qkv", "attn_q.", "attn_k.", "attn_v.", "ffn_gate.", "ffn_up."];
        return !alternatives.Any(a => name.Contains(a, StringComparison.Ordinal));   // checked per layer, as groups
    }

    private static HfTensor Load(HfCheckpoint cp, string hfName, string gguf, HfSpec spec, int vocab)
    {
        cp.TryFind(hfName, out SafeTensorsFile file, out SafeTensor t);
        var tensor = new HfTensor(hfName, gguf, t.Shape, file.ReadFloats(t));
        if (spec.Transform != null) tensor = spec.Transform(tensor, cp.Config);
        // Rows beyond the vocabulary (padding some checkpoints carry) are dropped, as llama.cpp's Gemma 3 converter does.
        if (gguf is GgufKeys.TokenEmbedding or GgufKeys.Output && tensor.Shape.Length == 2 && tensor.Shape[0] > vocab)
            tensor = tensor with { Shape = [vocab, tensor.Shape[1]], Data = tensor.Data[..(int)(vocab * tensor.Shape[1])] };
        return tensor;
    }

    private static void Add(GgufWriter w, string gguf, long[] hfShape, string dtype, Func<HfTensor> load, GgmlType type, List<string> written,
        HashSet<string> seen, Dictionary<string, long[]> planned, string dir)
    {
        if (!seen.Add(gguf)) throw new HuggingFaceFormatException(dir, $"tensor '{gguf}'", "one source tensor", "two that map to it");
        if (dtype is not ("F32" or "F16" or "BF16" or "F64"))
            throw new ModelNotSupportedException(dtype, $"{dir}: tensor for '{gguf}' has dtype {dtype}; supported: F32, F16, BF16 (quantized or integer checkpoints are not converted)");
        if (!planned.TryGetValue(gguf, out long[]? dims))
            throw new HuggingFaceFormatException(dir, $"tensor '{gguf}'", "a tensor this configuration has", "one the configuration does not account for");
        long[] ggml = [.. hfShape.Reverse()];
        // Shapes are checked before any data is read (transforms such as GPT-2's transpose change them: checked again below).
        if (!ggml.SequenceEqual(dims) && !hfShape.SequenceEqual(dims) && !(gguf is GgufKeys.TokenEmbedding or GgufKeys.Output && ggml.Length == 2 && ggml[0] == dims[0] && ggml[1] >= dims[1]))
            throw new HuggingFaceFormatException(dir, $"tensor '{gguf}' shape", $"[{string.Join(", ", dims.Reverse())}] (from config.json)", $"[{string.Join(", ", hfShape)}]");
        bool matrix = dims.Length >= 2 && !gguf.EndsWith("_norm.weight", StringComparison.Ordinal) && gguf != GgufKeys.PositionEmbedding;
        GgmlType t = matrix ? type : GgmlType.F32;
        if (GgmlTypeInfo.TryGetBlock(t, out int block, out _) && dims[0] % block != 0) t = GgmlType.F16;   // gguf-py's fallback
        w.AddTensor(gguf, t, dims, () =>
        {
            HfTensor x = load();
            long[] got = [.. x.Shape.Reverse()];
            if (!got.SequenceEqual(dims))
                throw new HuggingFaceFormatException(dir, $"tensor '{x.HfName}' shape", $"[{string.Join(", ", dims.Reverse())}] (from config.json)", $"[{string.Join(", ", x.Shape)}]");
            return t == GgmlType.F32 ? MemoryMarshal.AsBytes(x.Data.AsSpan()).ToArray() : Quantizer.Quantize(t, x.Data);
        });
        written.Add(gguf);
    }

    /// <summary>llama.cpp's general.file_type of a converter output type.</summary>
    private static uint FileType(GgmlType t) => t switch { GgmlType.F32 => 0u, GgmlType.F16 => 1u, GgmlType.BF16 => 32u, _ => 7u };
}

using SinkLab.Gguf;

namespace SinkLab.Models;

/// <summary>Sizes every architecture shares, read by the loader before the architecture describes its block.</summary>
/// <param name="Dim">embedding_length.</param>
/// <param name="Layers">block_count.</param>
/// <param name="Heads">attention.head_count.</param>
/// <param name="HeadDim">attention.key_length (n_embd / n_head when absent).</param>
internal sealed record ModelSizes(int Dim, int Layers, int Heads, int HeadDim);

/// <summary>
/// One architecture: how its GGUF keys map onto a <see cref="BlockDescription"/> and per-layer specs, how llama.cpp's
/// converter lays its tensors out, and how a Hugging Face
/// checkpoint of it becomes that GGUF. One subclass per file under <c>Models/Architectures/</c>, one row in
/// <see cref="ArchitectureRegistry"/>; nothing else in the engine branches on an architecture's name.
/// </summary>
public abstract class Architecture
{
    /// <summary>Value of <c>general.architecture</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The norm kind, which also decides the epsilon key (layer_norm_rms_epsilon or layer_norm_epsilon).</summary>
    public abstract NormKind Norm { get; }

    /// <summary>Tensor layout as llama.cpp's converter writes it.</summary>
    public abstract TensorLayout Layout { get; }

    /// <summary>Whether llama.cpp reads head_count_kv for it (grouped-query attention); synthetic models of those that
    /// do not get as many KV heads as query heads.</summary>
    public virtual bool Gqa => true;

    /// <summary>RoPE pairing (ignored when positions are not rotary).</summary>
    public virtual RopeStyle RopeStyle => RopeStyle.NeoX;

    /// <summary>Describes the block from the file's keys (and, where llama.cpp decides by them, tensor presence).</summary>
    internal abstract BlockDescription Describe(ArchKeys keys, ModelSizes sizes);

    /// <summary>Per-layer windows and RoPE frequencies; by default every layer is global with <paramref name="global"/>.</summary>
    internal virtual LayerSpec[] LayerSpecs(ArchKeys keys, ModelSizes sizes, RopeConfig global)
        => Enumerable.Repeat(new LayerSpec(0, global), sizes.Layers).ToArray();

    /// <summary>Writes the architecture's own keys for a synthetic model of <paramref name="shape"/> (the common sizes
    /// are written by the caller), as llama.cpp's converter would for such a model.</summary>
    internal virtual void WriteKeys(KeyWriter keys, SyntheticShape shape) { }

    /// <summary>How Hugging Face checkpoints of this architecture convert (null: no Hugging Face form).</summary>
    internal virtual Formats.HuggingFace.HfSpec? HuggingFace => null;

    /// <summary>The default 1/√head_size query scale.</summary>
    internal static float DefaultScale(ModelSizes s) => 1f / MathF.Sqrt(s.HeadDim);

    /// <summary>Layers that use the sliding window: every layer where <paramref name="local"/> says so, with
    /// <paramref name="window"/>; the others global.</summary>
    internal static LayerSpec[] Windowed(int layers, int window, Func<int, bool> local, RopeConfig global, RopeConfig? localRope = null)
        => Enumerable.Range(0, layers).Select(l => window > 0 && local(l) ? new LayerSpec(window, localRope ?? global) : new LayerSpec(0, global)).ToArray();
}

/// <summary>Typed access to an architecture's <c>{arch}.*</c> keys; every failure names the file and the key.
/// <see cref="Planning"/> is set when a file of keys alone is read to plan the tensors a writer is about to add.</summary>
internal sealed class ArchKeys(GgufFile file, string architecture, bool planning = false)
{
    /// <summary>The file has no tensors yet: decisions llama.cpp takes from tensor presence take the converter's layout.</summary>
    public bool Planning => planning;
    /// <summary>The file.</summary>
    public GgufFile File => file;
    /// <summary>Full key of a suffix.</summary>
    public string Key(string suffix) => GgufKeys.Arch(architecture, suffix);
    /// <summary>Whether the key exists.</summary>
    public bool Has(string suffix) => file.TryGetValue(Key(suffix), out _);
    /// <summary>A required integer.</summary>
    public int Int(string suffix, int min = 0, int max = int.MaxValue) => file.GetInt(Key(suffix), min, max);
    /// <summary>An optional integer.</summary>
    public int Int(string suffix, int fallback, int min, int max) => file.GetInt(Key(suffix), fallback, min, max);
    /// <summary>An optional float.</summary>
    public float Float(string suffix, float fallback) => file.GetFloat(Key(suffix), fallback);
    /// <summary>A required float.</summary>
    public float Float(string suffix) => Has(suffix) ? file.GetFloat(Key(suffix), 0)
        : throw new GgufFormatException(file.FilePath, -1, $"metadata key '{Key(suffix)}'", "present", "missing");
    /// <summary>A required bool.</summary>
    public bool Bool(string suffix) => Has(suffix) ? file.GetBool(Key(suffix), false)
        : throw new GgufFormatException(file.FilePath, -1, $"metadata key '{Key(suffix)}'", "present", "missing");
    /// <summary>An optional bool.</summary>
    public bool Bool(string suffix, bool fallback) => file.GetBool(Key(suffix), fallback);
    /// <summary>Whether a tensor exists.</summary>
    public bool HasTensor(string name) => file.TryGetTensor(name, out _);
}

/// <summary>Adds an architecture's keys (<c>{arch}.suffix</c>) to a <see cref="GgufWriter"/>.</summary>
internal sealed class KeyWriter(GgufWriter writer, string architecture)
{
    /// <summary>The writer.</summary>
    public GgufWriter Writer => writer;
    /// <summary>Adds a uint32 key.</summary>
    public KeyWriter Add(string suffix, uint value) { writer.Add(GgufKeys.Arch(architecture, suffix), GgufValue.Of(value)); return this; }
    /// <summary>Adds a float32 key.</summary>
    public KeyWriter Add(string suffix, float value) { writer.Add(GgufKeys.Arch(architecture, suffix), GgufValue.Of(value)); return this; }
    /// <summary>Adds a bool key.</summary>
    public KeyWriter Add(string suffix, bool value) { writer.Add(GgufKeys.Arch(architecture, suffix), GgufValue.Of(value)); return this; }
    /// <summary>Adds a string key.</summary>
    public KeyWriter Add(string suffix, string value) { writer.Add(GgufKeys.Arch(architecture, suffix), GgufValue.Of(value)); return this; }
}

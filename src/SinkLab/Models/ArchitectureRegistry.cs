using SinkLab.Gguf;

namespace SinkLab.Models;

/// <summary>What distinguishes one Llama-family architecture from another; one row per architecture.</summary>
/// <param name="Name">Value of <c>general.architecture</c>.</param>
/// <param name="Rope">RoPE pairing the architecture uses.</param>
/// <param name="QkvBias">Whether the Q, K and V projections carry biases (<c>blk.N.attn_{q,k,v}.bias</c>).</param>
public sealed record ArchitectureSpec(string Name, RopeStyle Rope, bool QkvBias = false);

/// <summary>
/// The architectures SinkLab runs. Adding one that shares the Llama graph is one row here; keys and tensor names
/// come from <see cref="GgufKeys"/>.
/// </summary>
public static class ArchitectureRegistry
{
    private static readonly Dictionary<string, ArchitectureSpec> Specs = new(StringComparer.Ordinal)
    {
        ["llama"] = new("llama", RopeStyle.Normal),          // also Mistral, SmolLM, TinyLlama (converted as llama)
        ["qwen2"] = new("qwen2", RopeStyle.NeoX, QkvBias: true),
    };

    /// <summary>Names of the supported architectures.</summary>
    public static IReadOnlyCollection<string> Supported => Specs.Keys;

    /// <summary>The row for <paramref name="architecture"/>.</summary>
    /// <exception cref="ModelNotSupportedException">The architecture is not in the table.</exception>
    public static ArchitectureSpec Get(string architecture, string file)
        => Specs.TryGetValue(architecture, out ArchitectureSpec? spec) ? spec
            : throw new ModelNotSupportedException(architecture,
                $"{file}: architecture '{architecture}' is not supported (supported: {string.Join(", ", Specs.Keys)})");
}

using SinkLab.Gguf;
using SinkLab.Models.Architectures;

namespace SinkLab.Models;

/// <summary>
/// The architectures SinkLab runs: one row each. Adding one is a file under <c>Models/Architectures/</c> and a row
/// here; keys and tensor names come from <see cref="GgufKeys"/>.
/// </summary>
public static class ArchitectureRegistry
{
    private static readonly Architecture[] Rows =
    [
        new Llama(), new Qwen2(), new Qwen3(), new Gemma(), new Gemma2(), new Gemma3(), new Phi3(), new Gpt2(),
        new GptNeoX(), new Mpt(), new Olmo2(), new Starcoder2(), new StableLm(), new GptOss(),
    ];

    private static readonly Dictionary<string, Architecture> ByName = Rows.ToDictionary(a => a.Name, StringComparer.Ordinal);

    /// <summary>Names of the supported architectures (<c>general.architecture</c> values), in table order.</summary>
    public static IReadOnlyList<string> Supported { get; } = Rows.Select(a => a.Name).ToArray();

    /// <summary>The row for <paramref name="architecture"/>.</summary>
    /// <exception cref="ModelNotSupportedException">The architecture is not in the table; the message lists those that are.</exception>
    public static Architecture Get(string architecture, string file)
        => ByName.TryGetValue(architecture, out Architecture? a) ? a
            : throw new ModelNotSupportedException(architecture,
                $"{file}: architecture '{architecture}' is not supported (supported: {string.Join(", ", Supported)})");
}

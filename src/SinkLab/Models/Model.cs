using SinkLab.Formats;
using SinkLab.Gguf;
using SinkLab.Tokenization;

namespace SinkLab.Models;

/// <summary>
/// A loaded model: normalised configuration, weights viewed in the (memory-mapped) file, and its tokenizer.
/// GGUF files and llama2.c checkpoints load into the same type.
/// </summary>
public sealed class Model : IDisposable
{
    internal Model(GgufFile file, ModelConfig config, ModelWeights weights, ITokenizer tokenizer)
    {
        File = file;
        Config = config;
        Weights = weights;
        Tokenizer = tokenizer;
    }

    /// <summary>The GGUF image the weights live in.</summary>
    public GgufFile File { get; }
    /// <summary>Hyper-parameters.</summary>
    public ModelConfig Config { get; }
    /// <summary>Weights.</summary>
    public ModelWeights Weights { get; }
    /// <summary>Tokenizer built from the file's metadata.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>The ids after which the model has ended its turn (EOS, EOT, EOM and the chat end-of-turn markers of the
    /// vocabulary; see <see cref="Tokenization.EndOfGeneration"/>).</summary>
    public IReadOnlySet<int> EndOfGeneration => _endOfGeneration ??= Tokenization.EndOfGeneration.Find(File, Tokenizer);
    private IReadOnlySet<int>? _endOfGeneration;

    /// <summary>
    /// Loads a GGUF file, or a llama2.c checkpoint when <paramref name="llama2cTokenizer"/> is given (or when the
    /// file is not GGUF and a <c>tok*.bin</c>/<c>tokenizer.bin</c> sits beside it).
    /// </summary>
    /// <exception cref="GgufFormatException">The file is malformed.</exception>
    /// <exception cref="ModelNotSupportedException">Architecture, tokenizer or tensor type not supported.</exception>
    public static Model Load(string path, string? llama2cTokenizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}", path);
        if (llama2cTokenizer == null && !LooksLikeGguf(path))
        {
            string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            llama2cTokenizer = new[] { "tokenizer.bin", "tok512.bin" }.Select(n => Path.Combine(dir, n)).FirstOrDefault(System.IO.File.Exists)
                ?? throw new GgufFormatException(path, 0, "magic", "\"GGUF\", or a llama2.c checkpoint with --tokenizer", "neither");
        }
        GgufFile file = llama2cTokenizer == null
            ? GgufFile.Open(path)
            : GgufFile.Parse(Llama2cCheckpoint.ToGgufBytes(path, llama2cTokenizer), path);
        try
        {
            return FromGguf(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Builds a model over an open GGUF file; the model owns and disposes it.</summary>
    public static Model FromGguf(GgufFile file) => ModelLoader.Load(file);

    private static bool LooksLikeGguf(string path)
    {
        using var fs = System.IO.File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return fs.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary>Releases the file mapping.</summary>
    public void Dispose() => File.Dispose();
}

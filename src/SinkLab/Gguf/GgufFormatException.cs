namespace SinkLab.Gguf;

/// <summary>
/// A GGUF (or llama2.c) file is malformed: the message names the file, the byte offset, the key or
/// tensor concerned, and what was expected against what was found.
/// </summary>
public sealed class GgufFormatException : Exception
{
    /// <summary>Creates the exception from its parts; <see cref="Exception.Message"/> joins them in one line.</summary>
    public GgufFormatException(string file, long offset, string subject, string expected, string actual)
        : base($"{file}: at byte {offset}, {subject}: expected {expected}, found {actual}")
    {
        File = file;
        Offset = offset;
        Subject = subject;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>Path (or label) of the file.</summary>
    public string File { get; }
    /// <summary>Byte offset in the file where the problem was found (-1 when not tied to one place).</summary>
    public long Offset { get; }
    /// <summary>The key, tensor or header field concerned.</summary>
    public string Subject { get; }
    /// <summary>What a valid file holds there.</summary>
    public string Expected { get; }
    /// <summary>What this file holds there.</summary>
    public string Actual { get; }
}

/// <summary>The file is well formed but uses an architecture, tensor type or setting SinkLab does not run.</summary>
public sealed class ModelNotSupportedException : Exception
{
    /// <summary>Creates the exception; <paramref name="what"/> names the architecture, type or setting.</summary>
    public ModelNotSupportedException(string what, string message) : base(message) => What = what;

    /// <summary>The unsupported architecture, tensor type or setting, by name.</summary>
    public string What { get; }
}

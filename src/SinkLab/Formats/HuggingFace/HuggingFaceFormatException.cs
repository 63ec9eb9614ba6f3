namespace SinkLab.Formats.HuggingFace;

/// <summary>
/// A Hugging Face checkpoint folder is incomplete or malformed: the message names the file, the key, tensor or header
/// field concerned, and what was expected against what was found, in one line.
/// </summary>
public sealed class HuggingFaceFormatException : Exception
{
    /// <summary>Creates the exception from its parts.</summary>
    public HuggingFaceFormatException(string file, string subject, string expected, string actual)
        : base($"{file}: {subject}: expected {expected}, found {actual}")
    {
        File = file;
        Subject = subject;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The file (or folder) concerned.</summary>
    public string File { get; }
    /// <summary>The key, tensor or field.</summary>
    public string Subject { get; }
    /// <summary>What a valid checkpoint holds there.</summary>
    public string Expected { get; }
    /// <summary>What this one holds.</summary>
    public string Actual { get; }
}

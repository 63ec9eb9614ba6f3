namespace SinkLab.Tests;

/// <summary>Paths into <c>../shared</c> (beside the repository), or <c>$SINKLAB_SHARED</c>.</summary>
internal static class Shared
{
    public static string Root { get; } = Find();

    public static string Models => Path.Combine(Root, "data", "models");
    public static string Corpora => Path.Combine(Root, "data", "corpora");
    public static string Tokenizers => Path.Combine(Models, "tokenizers");

    public static string StoriesF32 => Path.Combine(Models, "stories260K-f32-ctx512.gguf");
    public static string StoriesF32Ctx128 => Path.Combine(Models, "stories260K-f32.gguf");
    public static string StoriesQ8 => Path.Combine(Models, "stories260K-q8_0.gguf");
    public static string StoriesQ4 => Path.Combine(Models, "stories260K-q4_0.gguf");
    public static string StoriesBin => Path.Combine(Models, "stories260K.bin");
    public static string Tok512 => Path.Combine(Models, "tok512.bin");
    public static string TinyStories => Path.Combine(Corpora, "tinystories_valid_slice.txt");
    public static string WarAndPeace => Path.Combine(Corpora, "war_and_peace_pg2600.txt");
    public static string Shakespeare => Path.Combine(Corpora, "tinyshakespeare.txt");

    /// <summary>Repository root (the folder holding SinkLab.slnx).</summary>
    public static string Repo { get; } = FindRepo();

    private static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SinkLab.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("SinkLab.slnx not found above " + AppContext.BaseDirectory);
    }

    private static string Find()
    {
        string? env = Environment.GetEnvironmentVariable("SINKLAB_SHARED");
        if (!string.IsNullOrEmpty(env)) return env;
        string candidate = Path.GetFullPath(Path.Combine(FindRepo(), "..", "shared"));
        if (Directory.Exists(candidate)) return candidate;
        throw new DirectoryNotFoundException($"../shared not found beside the repository ({candidate}); set SINKLAB_SHARED");
    }
}

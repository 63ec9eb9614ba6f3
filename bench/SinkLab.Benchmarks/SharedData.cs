namespace SinkLab.Benchmarks;

internal static class SharedData
{
    public static string Models
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("SINKLAB_SHARED");
            if (!string.IsNullOrEmpty(env)) return Path.Combine(env, "data", "models");
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "SinkLab.slnx")))
                    return Path.GetFullPath(Path.Combine(d.FullName, "..", "shared", "data", "models"));
            throw new DirectoryNotFoundException("set SINKLAB_SHARED to the shared folder");
        }
    }
}

namespace SinkLab.Reports;

/// <summary>Writes that leave either the old output or the complete new one, never a half-written file: everything
/// goes to a temporary name beside the target first and is renamed into place.</summary>
public static class AtomicFile
{
    private static string TempName(string full) => full.TrimEnd(Path.DirectorySeparatorChar) + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}"[..24];

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string tmp = TempName(full);
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="files"/> (name → bytes) into <paramref name="dir"/> (created if missing): all
    /// into a temporary folder first, then moved in, so a failure leaves no partial set.</summary>
    public static void WriteDirectory(string dir, IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        string full = Path.GetFullPath(dir);
        string tmp = TempName(full);
        Directory.CreateDirectory(tmp);
        try
        {
            foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(tmp, name), bytes);
            if (!Directory.Exists(full)) Directory.Move(tmp, full);
            else
            {
                foreach (string f in Directory.GetFiles(tmp)) File.Move(f, Path.Combine(full, Path.GetFileName(f)), overwrite: true);
                Directory.Delete(tmp, true);
            }
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
            throw;
        }
    }
}

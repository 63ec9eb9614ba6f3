using System.Runtime.InteropServices;

namespace SinkLab.Models;

/// <summary>Gives the whole pages of a read-only file mapping back to the OS (<c>madvise(MADV_DONTNEED)</c> on Linux):
/// they leave the process's resident set and are read from the file (or the page cache) again on the next access.
/// Only for file mappings: on anonymous memory the same call would zero the pages. Elsewhere, and on failure, a no-op
/// (the pages merely stay resident).</summary>
internal static unsafe partial class PageRelease
{
    private const int MadvDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint addr, nuint length, int advice);

    /// <summary>Releases the pages lying wholly inside [p, p + length).</summary>
    public static void Release(byte* p, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        long page = Environment.SystemPageSize;
        long start = ((long)p + page - 1) / page * page, end = ((long)p + length) / page * page;
        if (end <= start) return;
        try { _ = Madvise((nint)start, (nuint)(end - start), MadvDontNeed); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }
}

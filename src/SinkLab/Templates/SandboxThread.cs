using System.Runtime.ExceptionServices;

namespace SinkLab.Templates;

/// <summary>
/// Runs template work on a thread of its own with a large stack: the parser and interpreter recurse as deep as their
/// nesting limits allow, and that depth must not depend on the caller's thread (a thread-pool thread has far less stack
/// than the main thread). Exceptions come back to the caller unchanged.
/// </summary>
internal static class SandboxThread
{
    private const int StackBytes = 64 << 20;

    public static T Run<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try { result = work(); }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
        }, StackBytes) { IsBackground = true, Name = "SinkLab chat template" };
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }
}

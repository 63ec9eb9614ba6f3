namespace SinkLab.Kernels;

/// <summary>A unit of parallel work split into numbered parts; subclasses keep their arguments in fields so that
/// running one allocates nothing.</summary>
internal abstract class ParallelJob
{
    public abstract void Execute(int part);
}

/// <summary>
/// Persistent worker threads owned by one session (no static state). <see cref="Run"/> publishes a job by bumping an
/// epoch counter and hands out parts through an atomic counter; the calling thread works too. Idle workers spin on the
/// epoch for up to <see cref="SpinMicroseconds"/> before blocking on their event, and the caller spins as long on the
/// workers' completion: a decode step runs ~100 short parallel products, and waking a blocked thread costs tens of
/// microseconds on a VM, which cost a 2-thread decode a third of its speed. Past the spin, everyone blocks, so an
/// over-subscribed machine does not collapse.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle thread polls before it blocks.</summary>
    public const int SpinMicroseconds = 50;
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency * SpinMicroseconds / 1_000_000;

    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _start;
    private readonly ManualResetEventSlim _done = new(false, 0);
    private ParallelJob? _job;
    private int _parts, _next, _pending;
    private volatile int _epoch;
    private volatile bool _stopping;
    private Exception? _failure;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        _workers = new Thread[threads - 1];
        _start = new ManualResetEventSlim[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _start[i] = new ManualResetEventSlim(false, 0);
            int index = i;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"sinklab-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    public int Threads { get; }

    public void Run(ParallelJob job, int parts)
    {
        if (parts <= 0) return;
        if (_workers.Length == 0 || parts == 1)
        {
            for (int p = 0; p < parts; p++) job.Execute(p);
            return;
        }
        _job = job;
        _parts = parts;
        _next = 0;
        _failure = null;
        _pending = _workers.Length;
        _done.Reset();
        _epoch++;   // volatile write: publishes the fields above
        foreach (ManualResetEventSlim s in _start) s.Set();
        Work();
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _pending) != 0 && System.Diagnostics.Stopwatch.GetTimestamp() - t0 < SpinTicks) Thread.SpinWait(8);
        if (Volatile.Read(ref _pending) != 0) _done.Wait();
        _job = null;
        if (_failure != null) throw new AggregateException("a worker thread failed", _failure);
    }

    private void Work()
    {
        ParallelJob job = _job!;
        int p;
        while ((p = Interlocked.Increment(ref _next) - 1) < _parts) job.Execute(p);
    }

    private void WorkerLoop(int index)
    {
        int seen = 0;
        while (true)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            while (_epoch == seen && !_stopping && System.Diagnostics.Stopwatch.GetTimestamp() - t0 < SpinTicks) Thread.SpinWait(8);
            if (_epoch == seen && !_stopping)
            {
                // Reset, then look again: a job published after the look will Set the event after this Reset.
                _start[index].Reset();
                if (_epoch == seen && !_stopping) _start[index].Wait();
                continue;
            }
            if (_stopping) return;
            seen = _epoch;
            try { Work(); }
            catch (Exception e) { _failure = e; }
            if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (ManualResetEventSlim s in _start) s.Set();
        foreach (Thread t in _workers) t.Join();
        foreach (ManualResetEventSlim s in _start) s.Dispose();
        _done.Dispose();
    }
}

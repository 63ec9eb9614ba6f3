using System.CommandLine;
using System.Text.Json;
using SinkLab.Gguf;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli;

/// <summary>What every verb shares: the model argument, --json, --threads, the stderr console, JSON output and
/// the mapping of errors to one line and an exit code.</summary>
internal static class Cli
{
    /// <summary>Exit code for bad input (malformed file, unsupported model, invalid argument).</summary>
    public const int BadInput = 2;

    /// <summary>Progress, tables and logs go to stderr so stdout stays clean for --json.</summary>
    public static readonly IAnsiConsole Err = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
    });

    public static Argument<string> ModelArgument() => new("model") { Description = "Model file: GGUF, or a llama2.c checkpoint (.bin) with --tokenizer" };

    public static Option<bool> KvF16Option() => new("--kv-f16")
    {
        Description = "Round keys and values to half precision in the cache, as llama.cpp's default F16 cache holds them (for matching its numbers; memory stays float32)",
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print one JSON object on stdout" };

    public static Option<int> ThreadsOption() => new("--threads", "-t")
    {
        Description = "Worker threads",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static Option<string?> TokenizerOption() => new("--tokenizer")
    {
        Description = "llama2.c tokenizer file (tokenizer.bin / tok512.bin) when the model is a llama2.c checkpoint",
    };

    public static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, SinkLab.Reports.ReportJson.Options));

    public static int CheckThreads(int threads)
        => threads is >= 1 and <= 1024 ? threads : throw new ArgumentOutOfRangeException("--threads", threads, "must be between 1 and 1024");

    /// <summary>One plain warning line on stderr (not wrapped, so logs and tests see it whole).</summary>
    public static void Warn(string message) => Console.Error.WriteLine($"sinklab: warning: {message}");

    /// <summary>Runs a verb; known failures become one line on stderr and exit code 2.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is GgufFormatException or ModelNotSupportedException or ArgumentException or Formats.HuggingFace.HuggingFaceFormatException
                                      or Templates.TemplateException or IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"sinklab: error: {OneLine(e)}");
            return BadInput;
        }
    }

    private static string OneLine(Exception e)
    {
        string msg = e.Message;
        if (e is ArgumentException { ParamName: { } name } ae)
        {
            int cut = msg.IndexOf(" (Parameter '", StringComparison.Ordinal);
            if (cut >= 0) msg = msg[..cut];
            msg = $"{name}: {msg}";
            if (ae is ArgumentOutOfRangeException { ActualValue: { } actual }) msg += $" (got {actual})";
        }
        return msg.ReplaceLineEndings(" ");
    }

    public static Model LoadModel(string path, string? tokenizer)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}", path);
        if (tokenizer != null && !File.Exists(tokenizer)) throw new FileNotFoundException($"tokenizer file not found: {tokenizer}", tokenizer);
        return Model.Load(path, tokenizer);
    }

    /// <summary>Like <see cref="WithProgress"/>, for work reported in named stages.</summary>
    public static void WithStagedProgress(Action<IProgress<(string Stage, int Done, int Total)>?> work)
    {
        if (Console.IsErrorRedirected)
        {
            work(null);
            return;
        }
        Err.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(pc =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                work(new SyncProgress<(string Stage, int Done, int Total)>(p =>
                {
                    if (!tasks.TryGetValue(p.Stage, out ProgressTask? task)) tasks[p.Stage] = task = pc.AddTask(p.Stage, maxValue: Math.Max(1, p.Total));
                    task.Value = p.Done;
                }));
            });
    }

    /// <summary>Runs <paramref name="work"/> with a progress bar on stderr when stderr is a terminal; otherwise quietly.</summary>
    public static void WithProgress(string label, Action<IProgress<(int Done, int Total)>?> work)
    {
        if (Console.IsErrorRedirected)
        {
            work(null);
            return;
        }
        Err.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(pc =>
            {
                ProgressTask task = pc.AddTask(label, maxValue: 1);
                work(new SyncProgress<(int Done, int Total)>(p =>
                {
                    task.MaxValue = p.Total;
                    task.Value = p.Done;
                }));
            });
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread (no synchronisation context hop).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

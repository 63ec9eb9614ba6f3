using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SinkLab.Training;

/// <summary>One quantity of a training run against its step, read from the run folder (<c>probes.jsonl</c> written by
/// <c>--probe-every</c>, or <c>metrics.jsonl</c> for the validation loss), and runs that differ only by seed
/// (<c>NAME-s1</c>, <c>NAME-s2</c>, …) averaged into one curve.</summary>
public static partial class RunCurves
{
    /// <summary>Quantities <see cref="Load"/> knows.</summary>
    public static readonly string[] Metrics =
        ["alpha-ratio", "mean-alpha", "max-alpha", "sink-rate-0.3", "sink-rate-0.5", "sink-rate-0.8", "first-token-cost", "val-loss"];

    /// <summary>The run's curve of <paramref name="metric"/>: (step, value) in step order.</summary>
    /// <exception cref="ArgumentException">Unknown metric.</exception>
    /// <exception cref="IOException">The file is missing or a line is not a record (file and line named).</exception>
    public static (int Step, double Value)[] Load(string runDir, string metric)
    {
        ArgumentNullException.ThrowIfNull(runDir);
        if (!Metrics.Contains(metric)) throw new ArgumentException($"--metric: unknown '{metric}' (known: {string.Join(", ", Metrics)})");
        bool probes = metric != "val-loss";
        string path = Path.Combine(runDir, probes ? "probes.jsonl" : "metrics.jsonl");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found ({(probes ? "train with --probe-every N" : "not a run folder")})", path);
        var points = new List<(int, double)>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0) continue;
            try
            {
                if (probes)
                {
                    ProbeRecord p = JsonSerializer.Deserialize<ProbeRecord>(line, TrainConfig.Json) ?? throw new JsonException("null");
                    points.Add((p.Step, metric switch
                    {
                        "alpha-ratio" => p.MeanAlphaFirst / p.UniformAlpha,
                        "mean-alpha" => p.MeanAlphaFirst,
                        "max-alpha" => p.MaxAlphaFirst,
                        "first-token-cost" => p.FirstTokenCost,
                        _ => 100 * p.SinkRate[metric["sink-rate-".Length..]],
                    }));
                }
                else
                {
                    StepRecord r = JsonSerializer.Deserialize<StepRecord>(line, TrainConfig.Json) ?? throw new JsonException("null");
                    if (r.EvalLoss is double v) points.Add((r.Step, v));
                }
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or NotSupportedException)
            {
                throw new InvalidDataException($"{path}:{lineNo}: not a {(probes ? "probe" : "metrics")} record ({e.Message})");
            }
        }
        return [.. points.OrderBy(p => p.Item1)];
    }

    /// <summary>The name a run's seeds share: its folder name without a trailing <c>-s&lt;digits&gt;</c>.</summary>
    public static string GroupName(string runDir)
        => SeedSuffix().Replace(Path.GetFileName(Path.TrimEndingDirectorySeparator(runDir)), "");

    /// <summary>Mean curve per group over the steps every run of the group has, and how many runs it averages.</summary>
    public static List<(string Name, int Runs, int[] Steps, double[] Mean)> Grouped(IEnumerable<string> runDirs, string metric)
    {
        ArgumentNullException.ThrowIfNull(runDirs);
        var groups = new List<(string, int, int[], double[])>();
        foreach (var g in runDirs.GroupBy(GroupName))
        {
            var curves = g.Select(d => Load(d, metric).ToDictionary(p => p.Step, p => p.Value)).ToList();
            int[] steps = [.. curves.Select(c => c.Keys.AsEnumerable()).Aggregate((a, b) => a.Intersect(b)).Order()];
            groups.Add((g.Key, curves.Count, steps, [.. steps.Select(s => curves.Average(c => c[s]))]));
        }
        return groups;
    }

    [GeneratedRegex(@"-s\d+$")]
    private static partial Regex SeedSuffix();
}

/// <summary>A table of means with intervals to draw as error bars: tab-separated, header <c>series x mean half</c>.</summary>
public static class PointTable
{
    /// <summary>Rows grouped by series, in file order.</summary>
    /// <exception cref="InvalidDataException">A missing column or a value that is not a number (file, line and column named).</exception>
    public static List<(string Name, double[] X, double[] Mean, double[] Half)> Read(string path)
    {
        string[] lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].Trim() != "series\tx\tmean\thalf")
            throw new InvalidDataException($"{path}:1: expected the header 'series<TAB>x<TAB>mean<TAB>half'");
        var rows = new List<(string S, double X, double M, double H)>();
        string[] names = ["x", "mean", "half"];
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            string[] f = lines[i].Split('\t');
            if (f.Length != 4) throw new InvalidDataException($"{path}:{i + 1}: expected 4 tab-separated fields, got {f.Length}");
            var v = new double[3];
            for (int j = 0; j < 3; j++)
            {
                string cell = f[j + 1];
                if (cell.Equals("nan", StringComparison.OrdinalIgnoreCase)) v[j] = double.NaN;   // an interval of one seed
                else if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out v[j]))
                    throw new InvalidDataException($"{path}:{i + 1}: column '{names[j]}' is not a number ('{cell}')");
            }
            rows.Add((f[0], v[0], v[1], v[2]));
        }
        return [.. rows.GroupBy(r => r.S).Select(g => (g.Key, g.Select(r => r.X).ToArray(), g.Select(r => r.M).ToArray(), g.Select(r => r.H).ToArray()))];
    }
}

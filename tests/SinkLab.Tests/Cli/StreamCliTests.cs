using System.Text.Json;

namespace SinkLab.Tests.Cli;

/// <summary><c>sinklab stream</c>, <c>generate --cache</c> and <c>chat</c> through the built CLI.</summary>
public class StreamCliTests
{
    private static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"sinklab-{name}-{Guid.NewGuid():N}");

    [Fact]
    public void StreamJsonCsvAndCompare()
    {
        string csv = Temp("nll") + ".csv", dir = Temp("cmp");
        try
        {
            var (code, stdout, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.WarAndPeace, "--cache", "sink:4+60", "--tokens", "2500",
                "--csv", csv, "--json", "-t", "1");
            Assert.True(code == 0, stderr);
            using (JsonDocument doc = JsonDocument.Parse(stdout))
            {
                JsonElement r = doc.RootElement;
                Assert.Equal("sink:4+60", r.GetProperty("policy").GetString());
                Assert.Equal(2500, r.GetProperty("tokens").GetInt64());
                Assert.Equal(3, r.GetProperty("ppl_by_segment").GetArrayLength());   // 2,499 predictions
                Assert.True(r.GetProperty("tokens_per_second").GetDouble() > 0);
                Assert.True(r.GetProperty("peak_rss_bytes").GetInt64() > 0);
                string[] lines = File.ReadAllLines(csv);
                Assert.Equal("index,token,nll_sink:4+60", lines[0]);
                Assert.Equal(2500, lines.Length);
                double mean = lines.Skip(1).Average(l => double.Parse(l.Split(',')[2], System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(Math.Log(r.GetProperty("ppl").GetDouble()), mean, 6);
            }

            (code, stdout, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.WarAndPeace, "--compare", "window:64,sink:4+60,recompute:64",
                "--tokens", "1200", "--out", dir, "--json", "-t", "2");
            Assert.True(code == 0, stderr);
            using (JsonDocument doc = JsonDocument.Parse(stdout))
            {
                var runs = doc.RootElement.GetProperty("runs").EnumerateArray().ToArray();
                Assert.Equal(["window:64", "sink:4+60", "recompute:64"], runs.Select(r => r.GetProperty("policy").GetString()));
            }
            // what each cache policy keeps (recompute holds no cache to plot)
            Assert.Equal(["kept_sink_4_60.png", "kept_window_64.png", "memory.png", "results.json", "running_ppl.png", "segment_ppl.png", "table.md"],
                Directory.GetFiles(dir).Select(Path.GetFileName).Order());
            Assert.Contains("| sink:4+60 |", File.ReadAllText(Path.Combine(dir, "table.md")));
        }
        finally
        {
            if (File.Exists(csv)) File.Delete(csv);
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("sink:4+0", "window W must be ≥ 1")]
    [InlineData("window:-1", "window W")]
    [InlineData("sink:4", "expected sink:S+W")]
    [InlineData("shift:600", "K = 600")]
    [InlineData("lru:8", "unknown")]
    public void BadPoliciesFailWithOneLine(string policy, string message)
    {
        var (code, stdout, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.WarAndPeace, "--cache", policy, "--tokens", "100");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("sinklab: error:", stderr);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void WindowBeyondTheContextWarnsOrFailsWithStrict()
    {
        var (code, _, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.WarAndPeace, "--cache", "sink:4+600", "--tokens", "50", "--json");
        Assert.Equal(0, code);
        Assert.Contains("warning", stderr);
        Assert.Contains("context length 512", stderr);
        (code, _, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.WarAndPeace, "--cache", "sink:4+600", "--tokens", "50", "--strict");
        Assert.Equal(2, code);
        Assert.Contains("exceed the model's context length 512", stderr);
    }

    [Fact]
    public void EmptyOrShortInputFails()
    {
        string empty = Temp("empty") + ".txt";
        File.WriteAllText(empty, "  \n");
        string csv = Temp("never") + ".csv";
        try
        {
            var (code, _, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", empty, "--csv", csv);
            Assert.Equal(2, code);
            Assert.Contains("empty", stderr);
            Assert.False(File.Exists(csv));
            (code, _, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--tokens", "100000000");
            Assert.Equal(2, code);
            Assert.Contains("holds only", stderr);
            (code, _, stderr) = CliTests.Run("stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--positions", "sideways");
            Assert.Equal(2, code);
            Assert.Contains("--positions", stderr);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public void GenerateWithASinkCacheRunsPastTheContextAndChatAnswersEachLine()
    {
        var (code, stdout, stderr) = CliTests.Run("generate", Shared.StoriesF32, "-p", "Once upon a time", "-n", "1500", "--cache", "sink:4+252",
            "--ignore-eos", "--json", "-t", "1");
        Assert.True(code == 0, stderr);
        using (JsonDocument doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal(1500, doc.RootElement.GetProperty("generated_tokens").GetInt32());
            Assert.Equal(256, doc.RootElement.GetProperty("cache_tokens").GetInt32());
        }
        (code, _, stderr) = CliTests.Run("generate", Shared.StoriesF32, "-p", "Once upon a time", "-n", "1500", "--ignore-eos", "--json");
        Assert.Equal(0, code);   // full cache: stops at the context (512) without error

        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "SinkLab.Cli.dll"), "chat", Shared.StoriesF32, "--cache", "sink:4+60", "-n", "20", "-t", "1" })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.WriteLine("Tell me a story.");
        p.StandardInput.WriteLine("What happened next?");
        p.StandardInput.Close();
        string output = p.StandardOutput.ReadToEnd(), log = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(2, log.Split('\n').Count(l => l.Contains("cache ")));
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SinkLab.Tests.Cli;

/// <summary>`sinklab inspect` and `sinklab attention` end to end, including the HTML report in headless Chromium.</summary>
public class InspectCliTests
{
    private static string TempDir() => Directory.CreateTempSubdirectory("sinklab-inspect-").FullName;

    [Fact]
    public void InspectWritesJsonAndAReportThatABrowserRendersCompletely()
    {
        string dir = TempDir();
        string outDir = Path.Combine(dir, "report");
        var (code, stdout, stderr) = CliTests.Run("inspect", Shared.StoriesF32, "-f", Shared.TinyStories, "--sequences", "12", "--tokens", "32",
            "--sensitivity-sequences", "2", "--out", outDir, "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement r = doc.RootElement;
        Assert.Equal(1, r.GetProperty("schema_version").GetInt32());
        Assert.Equal(new[] { "0.3", "0.5", "0.8" }, r.GetProperty("sink_rate").EnumerateObject().Select(p => p.Name));
        Assert.Equal(5, r.GetProperty("alpha_first").GetArrayLength());
        Assert.Equal(8, r.GetProperty("alpha_first")[0].GetArrayLength());
        Assert.Equal(5, r.GetProperty("massive_activations").GetArrayLength());
        Assert.Equal(3, r.GetProperty("sensitivity").GetProperty("curves").GetArrayLength());
        Assert.Equal(5, r.GetProperty("collapse").GetProperty("mean_cosine_with_sink").GetArrayLength());
        Assert.Equal(4, r.GetProperty("bos_ablation").GetArrayLength());
        Assert.Equal(JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json"))).RootElement.GetProperty("alpha_first").ToString(),
            r.GetProperty("alpha_first").ToString());

        string html = Path.Combine(outDir, "report.html");
        int imgTags = Regex.Matches(File.ReadAllText(html), "<img ").Count;
        Assert.True(imgTags >= 10, $"{imgTags} images");
        string body = Chromium.DumpBody(html);
        Assert.Contains($"data-images=\"{imgTags}\"", body);
        Assert.Contains("data-broken-images=\"0\"", body);
        Assert.Contains("data-errors=\"0\"", body);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void OnlySelectsAnalysesAndAttentionDrawsAPng()
    {
        var (code, stdout, _) = CliTests.Run("inspect", Shared.StoriesF32, "-f", Shared.TinyStories, "-N", "5", "-T", "16", "--only", "sinks,massive", "--json");
        Assert.Equal(0, code);
        using (JsonDocument doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal(JsonValueKind.Object, doc.RootElement.GetProperty("sink_rate").ValueKind);
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("sensitivity").ValueKind);
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("bos_ablation").ValueKind);
        }
        string dir = TempDir();
        string png = Path.Combine(dir, "head.png");
        (code, _, _) = CliTests.Run("attention", Shared.StoriesF32, "-p", "Once upon a time, there was a girl.", "--layer", "2", "--head", "6", "--out", png);
        Assert.Equal(0, code);
        byte[] bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("inspect", "--sequences", "100000")]           // file too short for N × T
    [InlineData("inspect", "--eps", "0.3,1.5")]                // ε outside (0, 1)
    [InlineData("inspect", "--eps", "0")]
    [InlineData("inspect", "--only", "sinks,bogus")]
    [InlineData("inspect", "--tokens", "4096")]                // longer than the context
    [InlineData("inspect", "--out", "/nonexistent-parent/dir")] // unwritable output
    [InlineData("attention", "--layer", "5")]
    [InlineData("attention", "--head", "-1")]
    public void BadInputFailsCleanlyWithoutAPartialReport(string verb, string option, string value)
    {
        string dir = TempDir();
        string outDir = Path.Combine(dir, "out");
        var args = verb == "inspect"
            ? new List<string> { "inspect", Shared.StoriesF32, "-f", Shared.TinyStories, "--sequences", "4", "--tokens", "16", "--out", outDir }
            : new List<string> { "attention", Shared.StoriesF32, "-p", "Once upon a time", "--layer", "0", "--head", "0", "--out", Path.Combine(dir, "a.png") };
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var (code, stdout, stderr) = CliTests.Run([.. args]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith("sinklab: error: ", stderr);
        Assert.Empty(Directory.GetFileSystemEntries(dir));   // nothing written, no temp folder left behind
        Directory.Delete(dir, true);
    }
}

/// <summary>Debian's Chromium, headless, as the project's browser test driver.</summary>
internal static class Chromium
{
    public static string DumpBody(string htmlPath)
    {
        string exe = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("Chromium is not installed (.ci/run installs Debian's 'chromium')");
        string profile = Directory.CreateTempSubdirectory("sinklab-chromium-").FullName;
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", $"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", "file://" + htmlPath })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(90_000), "chromium timed out");
        Directory.Delete(profile, true);
        Match body = Regex.Match(stdout.Result, "<body[^>]*>");
        Assert.True(body.Success, "no <body> in chromium's DOM dump");
        return body.Value;
    }
}

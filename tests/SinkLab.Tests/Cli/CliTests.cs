using System.Diagnostics;
using System.Text.Json;

namespace SinkLab.Tests.Cli;

/// <summary>The built CLI, run as a process: one JSON object on stdout, one error line and a non-zero code on bad input.</summary>
public class CliTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SinkLab.Cli.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "CLI timed out");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void GenerateJsonHasReferenceIdsAndText()
    {
        var (code, stdout, _) = Run("generate", Shared.StoriesF32, "-p", "Once upon a time", "-n", "64", "--temp", "0", "--threads", "1", "--json");
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        int[] ids = doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(69, ids.Length);
        Assert.Equal(new[] { 1, 403, 407, 261, 378, 432 }, ids[..6]);
        Assert.Equal(336, ids[^1]);
        Assert.EndsWith("Lily's mom said", doc.RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public void PerplexityJsonFollowsTheProtocol()
    {
        var (code, stdout, _) = Run("perplexity", Shared.StoriesF32, "-f", Shared.TinyStories, "--ctx", "256", "--chunks", "10", "--json");
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement r = doc.RootElement;
        Assert.Equal(10, r.GetProperty("chunks").GetInt32());
        Assert.Equal(393019, r.GetProperty("tokens").GetInt32());
        double[] running = r.GetProperty("running_ppl").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(10, running.Length);
        Assert.InRange(running[9] / 3.4982 - 1, -1e-3, 1e-3);
        Assert.Equal(running[9], r.GetProperty("ppl").GetDouble(), 9);
    }

    [Fact]
    public void InfoBenchAndConvertPrintOneJsonObject()
    {
        var (code, stdout, _) = Run("info", Shared.StoriesQ4, "--json");
        Assert.Equal(0, code);
        using (JsonDocument doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal("llama", doc.RootElement.GetProperty("architecture").GetString());
            Assert.Equal(31, doc.RootElement.GetProperty("tensor_types").GetProperty("Q4_0").GetInt32());
            Assert.Equal(5, doc.RootElement.GetProperty("config").GetProperty("layers").GetInt32());
        }
        (code, stdout, _) = Run("bench", Shared.StoriesF32, "--prompt", "32", "--gen", "16", "-r", "2", "--threads", "1", "--json");
        Assert.Equal(0, code);
        using (JsonDocument doc = JsonDocument.Parse(stdout))
        {
            Assert.True(doc.RootElement.GetProperty("prompt_tokens_per_second").GetDouble() > 0);
            Assert.True(doc.RootElement.GetProperty("generation_tokens_per_second").GetDouble() > 0);
        }
        string dir = Directory.CreateTempSubdirectory("sinklab-cli-").FullName;
        string outPath = Path.Combine(dir, "converted.gguf");
        (code, stdout, _) = Run("convert", Shared.StoriesBin, "--tokenizer", Shared.Tok512, "-o", outPath, "--json");
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllBytes(Shared.StoriesF32), File.ReadAllBytes(outPath));
        Assert.Single(Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("info", "/nonexistent/model.gguf")]
    [InlineData("info", "@TRUNCATED")]
    [InlineData("generate", "@MODEL", "-p", "x", "-n", "-3")]
    [InlineData("generate", "@MODEL", "-p", "x", "--top-p", "0")]
    [InlineData("perplexity", "@MODEL", "-f", "@TINYTEXT", "--ctx", "256")]
    [InlineData("perplexity", "@MODEL", "-f", "@CORPUS", "--ctx", "256", "--threads", "0")]
    [InlineData("bench", "@MODEL", "--prompt", "100000")]
    public void BadInputPrintsOneLineAndExitsNonZero(params string[] args)
    {
        string dir = Directory.CreateTempSubdirectory("sinklab-bad-").FullName;
        string truncated = Path.Combine(dir, "truncated.gguf");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Shared.StoriesF32)[..4000]);
        string tiny = Path.Combine(dir, "tiny.txt");
        File.WriteAllText(tiny, "Once upon a time.");
        string[] resolved = args.Select(a => a switch
        {
            "@MODEL" => Shared.StoriesF32, "@TRUNCATED" => truncated, "@TINYTEXT" => tiny, "@CORPUS" => Shared.TinyStories, _ => a,
        }).ToArray();
        var (code, stdout, stderr) = Run(resolved);
        Directory.Delete(dir, true);
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        string[] lines = stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("sinklab: error: ", lines[0]);
    }

    [Fact]
    public void TruncatedModelErrorNamesFileOffsetAndWhatWasExpected()
    {
        string dir = Directory.CreateTempSubdirectory("sinklab-bad-").FullName;
        string truncated = Path.Combine(dir, "truncated.gguf");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Shared.StoriesF32)[..4000]);
        var (code, _, stderr) = Run("info", truncated);
        Directory.Delete(dir, true);
        Assert.Equal(2, code);
        Assert.Contains(truncated, stderr);
        Assert.Contains("at byte", stderr);
        Assert.Contains("expected", stderr);
    }
}

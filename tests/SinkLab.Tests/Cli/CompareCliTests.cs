using System.Text.Json;
using System.Text.RegularExpressions;

namespace SinkLab.Tests.Cli;

/// <summary><c>sinklab compare</c>: the same sequences for every file, one row each, a report a browser renders.</summary>
public class CompareCliTests
{
    [Fact]
    public void ComparesQuantizationsOfOneModelSideBySide()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sinklab-compare-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, err) = CliTests.Run("compare", Shared.StoriesF32, Shared.StoriesQ8, Shared.StoriesQ4, "-f", Shared.TinyStories,
                "-N", "6", "-T", "32", "-o", dir, "--json", "-t", "2");
            Assert.True(code == 0, err);
            using JsonDocument doc = JsonDocument.Parse(stdout);
            JsonElement[] models = doc.RootElement.GetProperty("models").EnumerateArray().ToArray();
            Assert.Equal(new[] { "stories260K-f32-ctx512.gguf", "stories260K-q8_0.gguf", "stories260K-q4_0.gguf" }, models.Select(m => m.GetProperty("file").GetString()));
            Assert.Equal("F32", models[0].GetProperty("types")[0].GetString());
            Assert.Equal("Q8_0", models[1].GetProperty("types")[0].GetString());
            foreach (JsonElement m in models)
            {
                Assert.Equal(3, m.GetProperty("sink_rate").EnumerateObject().Count());
                Assert.InRange(m.GetProperty("mean_alpha_first").GetDouble(), 0, 1);
                Assert.True(m.GetProperty("largest_residual").GetDouble() > 0);
                Assert.True(m.GetProperty("largest_linear_input").GetDouble() > 0);
            }
            // Q8_0 stays close to F32; the measurements are of the same sequences, so they differ only by the weights.
            Assert.Equal(models[0].GetProperty("mean_alpha_first").GetDouble(), models[1].GetProperty("mean_alpha_first").GetDouble(), 0.02);
            string body = Chromium.DumpBody(Path.Combine(dir, "compare.html"));
            Assert.Equal("3", Regex.Match(body, "data-images=\"(\\d+)\"").Groups[1].Value);
            Assert.Equal("0", Regex.Match(body, "data-broken-images=\"(\\d+)\"").Groups[1].Value);
            Assert.Equal("0", Regex.Match(body, "data-errors=\"(\\d+)\"").Groups[1].Value);
            Assert.True(File.Exists(Path.Combine(dir, "compare.json")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void OneFileOrFilesOfDifferentModelsAreRefused()
    {
        var (code, _, err) = CliTests.Run("compare", Shared.StoriesF32, "-f", Shared.TinyStories);
        Assert.Equal(2, code);
        Assert.Contains("at least two", err);
        string other = Path.Combine(Shared.Root, "reference", "arch", "gpt2.gguf");
        if (!File.Exists(other)) other = Directory.GetFiles(Path.Combine(Shared.Root, "reference", "arch"), "*.gguf").First(f => !f.Contains("llama", StringComparison.Ordinal));
        (code, _, err) = CliTests.Run("compare", Shared.StoriesF32, other, "-f", Shared.TinyStories, "-N", "2", "-T", "16");
        Assert.Equal(2, code);
        Assert.Contains("not files of one model", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}

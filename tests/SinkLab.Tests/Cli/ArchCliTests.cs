using SinkLab.Analysis;
using System.Diagnostics;
using System.Text.Json;
using SinkLab.Models;

namespace SinkLab.Tests.Cli;

/// <summary>Every verb on every architecture, through the built CLI: a model written by <c>synth --arch</c>, then
/// <c>inspect</c> with all analyses and <c>stream --compare</c> over every cache policy; the other verbs (generate with
/// a streaming cache, perplexity, attention, quantize, bench, chat) on the architectures whose positions, norms or
/// residuals differ most.</summary>
public class ArchCliTests
{
    public static TheoryData<string> Names => new(ArchitectureRegistry.Supported);

    private static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"sinklab-{name}-{Guid.NewGuid():N}");

    private static string Synth(string arch, string type = "F32")
    {
        string path = Temp(arch) + ".gguf";
        var (code, _, stderr) = CliTests.Run("synth", "--arch", arch, "--shape", "tiny", "--type", type, "-o", path);
        Assert.True(code == 0, stderr);
        return path;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InspectAndStreamCompareRun(string arch)
    {
        string model = Synth(arch), report = Temp("report"), cmp = Temp("cmp");
        try
        {
            var (code, stdout, stderr) = CliTests.Run("inspect", model, "-f", Shared.TinyStories, "-T", "40", "-N", "4", "--sensitivity-sequences", "2",
                "--out", report, "--json", "-t", "1");
            Assert.True(code == 0, stderr);
            using (JsonDocument doc = JsonDocument.Parse(stdout))
            {
                JsonElement r = doc.RootElement;
                Assert.Equal(arch, r.GetProperty("config").GetProperty("architecture").GetString());
                Assert.Equal(AnalysisNames.All.Length, r.GetProperty("analyses").GetArrayLength());
                double[] alpha = r.GetProperty("alpha_by_position").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                Assert.Equal(40, alpha.Length);
                Assert.All(alpha, a => Assert.InRange(a, 0, 1));
                Assert.True(r.GetProperty("bos_ablation").GetArrayLength() >= 2);
            }
            Assert.True(File.Exists(Path.Combine(report, "report.html")));

            (code, stdout, stderr) = CliTests.Run("stream", model, "-f", Shared.WarAndPeace, "--compare", "full,window:32,sink:4+28,sink:4+28@original,shift:4,recompute:32",
                "--tokens", "200", "--out", cmp, "--json", "-t", "1");
            if (arch == "gpt2")
            {
                // Learned positions cannot follow stream positions forever: refused by name, nothing written.
                Assert.Equal(2, code);
                Assert.Contains("learned absolute positions", stderr);
                Assert.DoesNotContain("PPL", stderr);   // refused before the first policy ran
                Assert.False(Directory.Exists(cmp) && Directory.EnumerateFiles(cmp).Any());
                (code, stdout, stderr) = CliTests.Run("stream", model, "-f", Shared.WarAndPeace, "--compare", "full,window:32,sink:4+28,shift:4,recompute:32",
                    "--tokens", "200", "--out", cmp, "--json", "-t", "1");
            }
            Assert.True(code == 0, stderr);
            using (JsonDocument doc = JsonDocument.Parse(stdout))
            {
                JsonElement[] runs = doc.RootElement.GetProperty("runs").EnumerateArray().ToArray();
                Assert.All(runs, run => Assert.True(double.IsFinite(run.GetProperty("ppl").GetDouble()) && run.GetProperty("ppl").GetDouble() > 1));
                // While nothing is evicted the caches agree; a 32-slot window over 200 tokens must differ from full.
                Assert.NotEqual(runs[0].GetProperty("ppl").GetDouble(), runs[1].GetProperty("ppl").GetDouble());
            }
        }
        finally
        {
            File.Delete(model);
            foreach (string d in new[] { report, cmp }) if (Directory.Exists(d)) Directory.Delete(d, true);
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("mpt")]
    [InlineData("gemma3")]
    [InlineData("gptneox")]
    [InlineData("olmo2")]
    public void EveryOtherVerbRuns(string arch)
    {
        string model = Synth(arch), quantized = Temp("q") + ".gguf", png = Temp("att") + ".png";
        try
        {
            var (code, stdout, stderr) = CliTests.Run("generate", model, "-p", "Once upon a time", "-n", "300", "--cache", "sink:4+60", "--ignore-eos", "--json", "-t", "1");
            Assert.True(code == 0, stderr);
            using (JsonDocument doc = JsonDocument.Parse(stdout)) Assert.Equal(300, doc.RootElement.GetProperty("generated_tokens").GetInt32());
            (code, stdout, stderr) = CliTests.Run("perplexity", model, "-f", Shared.Shakespeare, "--ctx", "64", "--chunks", "4", "--json");
            Assert.True(code == 0, stderr);
            (code, _, stderr) = CliTests.Run("attention", model, "-p", "Once upon a time, there was a girl.", "--layer", "1", "--head", "0", "--out", png);
            Assert.True(code == 0 && new FileInfo(png).Length > 0, stderr);
            (code, _, stderr) = CliTests.Run("quantize", model, "-o", quantized, "--type", "Q8_0");
            Assert.True(code == 0, stderr);
            (code, stdout, stderr) = CliTests.Run("info", quantized, "--json");
            Assert.True(code == 0, stderr);
            using (JsonDocument doc = JsonDocument.Parse(stdout)) Assert.Equal(arch, doc.RootElement.GetProperty("architecture").GetString());
            (code, _, stderr) = CliTests.Run("bench", quantized, "--prompt", "32", "--gen", "8", "-r", "1", "--threads", "1", "--json");
            Assert.True(code == 0, stderr);

            var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "SinkLab.Cli.dll"), "chat", model, "--cache", "sink:4+60", "-n", "20", "-t", "1" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.StandardInput.WriteLine("Tell me a story.");
            p.StandardInput.Close();
            string log = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(60_000));
            Assert.True(p.ExitCode == 0, log);
        }
        finally
        {
            foreach (string f in new[] { model, quantized, png }) File.Delete(f);
        }
    }
}

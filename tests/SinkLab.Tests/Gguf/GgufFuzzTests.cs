using System.Diagnostics;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Gguf;

/// <summary>
/// Seeded mutation fuzzing of real GGUF files: every outcome is a model that runs, or a GgufFormatException /
/// ModelNotSupportedException. Any other exception, a hang or a crash fails the test.
/// </summary>
public class GgufFuzzTests
{
    [Theory]
    [InlineData("stories260K-f32-ctx512.gguf", 1)]
    [InlineData("stories260K-q4_0.gguf", 2)]
    public void TwoThousandMutationsNeverEscapeTheTypedErrors(string file, int seed)
    {
        byte[] original = File.ReadAllBytes(Path.Combine(Shared.Models, file));
        long dataOffset;
        using (var f = GgufFile.Parse(original)) dataOffset = f.DataOffset;
        var rng = new Random(seed);
        int rejected = 0, loaded = 0;
        for (int i = 0; i < 2000; i++)
        {
            byte[] b = (byte[])original.Clone();
            Mutate(b, rng, (int)dataOffset);
            if (rng.Next(10) == 0) Array.Resize(ref b, rng.Next(b.Length));
            var sw = Stopwatch.StartNew();
            try
            {
                using GgufFile f = GgufFile.Parse(b, $"mutant-{i}");
                using Model m = Model.FromGguf(f);
                using var s = new InferenceSession(m, new SessionOptions { ContextSize = 8 });
                s.Prefill(m.Tokenizer.Encode("Once"));
                loaded++;
            }
            catch (Exception e) when (e is GgufFormatException or ModelNotSupportedException)
            {
                rejected++;
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"mutant {i} took {sw.Elapsed}");
        }
        Assert.True(rejected > 200 && loaded > 50, $"rejected {rejected}, loaded {loaded}: mutations should hit both outcomes");
    }

    private static void Mutate(byte[] b, Random rng, int header)
    {
        int n = 1 + rng.Next(4);
        for (int k = 0; k < n; k++)
        {
            int at = rng.Next(10) < 9 ? rng.Next(header) : rng.Next(b.Length);
            switch (rng.Next(5))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2: b[at] = 0xFF; break;
                case 3: for (int j = at; j < Math.Min(b.Length, at + 8); j++) b[j] = 0xFF; break;
                default: b[at] = 0; break;
            }
        }
    }
}

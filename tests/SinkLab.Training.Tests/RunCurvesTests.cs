namespace SinkLab.Training.Tests;

/// <summary>Reading probe and metric curves from run folders, and averaging a grid point's seeds.</summary>
public class RunCurvesTests
{
    private static string Run(string root, string name, params (int Step, double Mean, double Uniform, double Rate3)[] probes)
    {
        string dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllLines(Path.Combine(dir, "probes.jsonl"), probes.Select(p =>
            $"{{\"step\":{p.Step},\"sink_rate\":{{\"0.3\":{p.Rate3},\"0.5\":0,\"0.8\":0}},\"mean_alpha_first\":{p.Mean},\"max_alpha_first\":0.9," +
            $"\"uniform_alpha\":{p.Uniform},\"nll_with_first\":2.0,\"nll_without_first\":2.5}}"));
        File.WriteAllLines(Path.Combine(dir, "metrics.jsonl"),
            ["{\"step\":1,\"loss\":4,\"learning_rate\":0.1,\"tokens_per_second\":1,\"eval_loss\":null}",
             "{\"step\":2,\"loss\":3,\"learning_rate\":0.1,\"tokens_per_second\":1,\"eval_loss\":3.5}"]);
        return dir;
    }

    [Fact]
    public void SeedsOfAGridPointAverageOverTheStepsTheyShare()
    {
        string root = Directory.CreateTempSubdirectory("sinklab-curves-").FullName;
        string a = Run(root, "ctx64-s1", (50, 0.2, 0.1, 0.25), (100, 0.4, 0.1, 0.5));
        string b = Run(root, "ctx64-s2", (100, 0.2, 0.1, 0.0), (50, 0.1, 0.1, 0.0), (150, 0.9, 0.1, 1));   // unordered, one step more
        string c = Run(root, "ctx128-s1", (50, 0.3, 0.05, 0));
        var g = RunCurves.Grouped([a, b, c], "alpha-ratio");
        Assert.Equal(["ctx64", "ctx128"], g.Select(x => x.Name));
        Assert.Equal([50, 100], g[0].Steps);
        Assert.Equal(2, g[0].Runs);
        Assert.Equal(1.5, g[0].Mean[0], 12);   // (2 + 1) / 2
        Assert.Equal(3.0, g[0].Mean[1], 12);   // (4 + 2) / 2
        Assert.Equal(6.0, g[1].Mean[0], 12);
        Assert.Equal(25.0, RunCurves.Load(a, "sink-rate-0.3")[0].Value, 12);
        Assert.Equal(0.5, RunCurves.Load(a, "first-token-cost")[1].Value, 12);
        Assert.Equal([(2, 3.5)], RunCurves.Load(a, "val-loss"));
        Directory.Delete(root, true);
    }

    [Fact]
    public void BadRunFoldersAreNamed()
    {
        string root = Directory.CreateTempSubdirectory("sinklab-curves-").FullName;
        string a = Run(root, "x-s1", (50, 0.2, 0.1, 0));
        Assert.Contains("--metric", Assert.Throws<ArgumentException>(() => RunCurves.Load(a, "loss")).Message);
        string empty = Directory.CreateDirectory(Path.Combine(root, "empty")).FullName;
        Assert.Contains("probes.jsonl", Assert.Throws<FileNotFoundException>(() => RunCurves.Load(empty, "alpha-ratio")).Message);
        File.AppendAllText(Path.Combine(a, "probes.jsonl"), "{\"step\":\n");
        Assert.Contains("probes.jsonl:2", Assert.Throws<InvalidDataException>(() => RunCurves.Load(a, "alpha-ratio")).Message);
        Directory.Delete(root, true);
    }

    [Fact]
    public void PointTablesGroupBySeriesAndNameBadCells()
    {
        string path = Path.GetTempFileName();
        File.WriteAllLines(path, ["series\tx\tmean\thalf", "own T\t32\t1.5\t0.2", "at 32\t32\t1.0\tnan", "own T\t64\t2.5\t0.1"]);
        var t = PointTable.Read(path);
        Assert.Equal(["own T", "at 32"], t.Select(s => s.Name));
        Assert.Equal([32.0, 64.0], t[0].X);
        Assert.Equal([1.5, 2.5], t[0].Mean);
        Assert.True(double.IsNaN(t[1].Half[0]));
        File.WriteAllLines(path, ["series\tx\tmean\thalf", "a\t32\tlots\t0"]);
        Assert.Contains(":2: column 'mean'", Assert.Throws<InvalidDataException>(() => PointTable.Read(path)).Message);
        File.WriteAllLines(path, ["x\ty"]);
        Assert.Contains(":1:", Assert.Throws<InvalidDataException>(() => PointTable.Read(path)).Message);
        File.Delete(path);
    }
}

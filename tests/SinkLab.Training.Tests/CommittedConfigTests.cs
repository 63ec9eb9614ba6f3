namespace SinkLab.Training.Tests;

/// <summary>Every training config committed under models/ loads, validates, and (where it trains here) names data that
/// exists; the emergence grids hold tokens per step equal as their design says.</summary>
public class CommittedConfigTests
{
    private static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SinkLab.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (SinkLab.slnx) not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.EnumerateFiles(Path.Combine(Root(), "models"), "*.json", SearchOption.AllDirectories).Order())
            if (!f.EndsWith(".result.json", StringComparison.Ordinal)) data.Add(Path.GetRelativePath(Root(), f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void LoadsAndValidates(string relative)
    {
        TrainConfig c = TrainConfig.Load(Path.Combine(Root(), relative), []);
        c.Validate();
        Assert.Equal(Path.GetFileNameWithoutExtension(relative), relative.Contains("paper") ? c.Name["paper-".Length..] : c.Name);
        bool paper = relative.Contains(Path.Combine("emergence", "paper"));
        if (!paper && c.Data.Source != "bigram-recall")
            Assert.True(File.Exists(Path.Combine(Root(), c.Data.Source)), $"{relative}: data.source {c.Data.Source} not found");
        if (relative.Contains("emergence"))
        {
            Assert.Equal(paper ? 262_144 : 4_096, c.Batch * c.Model.Context);
            Assert.Equal("bos-at-window-start", c.Data.Packing);
            Assert.True(c.FusedAttention);
        }
    }
}

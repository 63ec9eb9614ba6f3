using System.Net;
using System.Text;
using System.Text.Json;
using SinkLab.Analysis;

namespace SinkLab.Reports;

/// <summary>Writes a <see cref="ComparisonReport"/>: compare.json, compare.html (tables and embedded plots) and PNGs.</summary>
public static class CompareWriter
{
    /// <summary>Writes the files into <paramref name="outDir"/> (all or nothing: a temporary folder is renamed).</summary>
    public static void Write(string outDir, ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var images = Plots(report);
        var files = new Dictionary<string, byte[]>
        {
            ["compare.json"] = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(report with { Models = [.. report.Models.Select(m => m with { Report = null })] }, ReportJson.Options)),
            ["compare.html"] = Encoding.UTF8.GetBytes(Html(report, images)),
        };
        foreach (var (name, _, png) in images) files[name] = png;
        AtomicFile.WriteDirectory(outDir, files);
    }

    /// <summary>The side-by-side table as Markdown.</summary>
    public static string Table(ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        string[] eps = report.Models[0].SinkRate.Keys.ToArray();
        var sb = new StringBuilder();
        sb.Append("| file | MB | main type | ").Append(string.Join(" | ", eps.Select(e => $"sink rate ε={e}")))
          .Append(" | mean α₀ | largest resid \\|h\\| (pos, ch) | ratio to median | largest linear input \\|x\\| | NLL with BOS | NLL without |\n");
        sb.Append("|---|---:|---|").Append(string.Concat(eps.Select(_ => "---:|"))).Append("---:|---:|---:|---:|---:|---:|\n");
        foreach (ComparedModel m in report.Models)
        {
            BosAblationRow? with = m.Bos.FirstOrDefault(b => b.Variant == "bos"), without = m.Bos.FirstOrDefault(b => b.Variant == "no_bos");
            sb.Append($"| {m.File} | {m.Bytes / 1e6:F2} | {m.Types.FirstOrDefault()} | ")
              .Append(string.Join(" | ", eps.Select(e => $"{m.SinkRate[e] * 100:F1} %")))
              .Append($" | {m.MeanAlphaFirst:F4} | {m.LargestResidual:G4} ({string.Join(", ", m.Spike)}) | {m.LargestResidualRatio:F1} | {m.LargestLinearInput:G4} | {with?.MeanNll:F4} | {without?.MeanNll:F4} |\n");
        }
        return sb.ToString();
    }

    private static List<(string File, string Caption, byte[] Png)> Plots(ComparisonReport r)
    {
        var list = new List<(string, string, byte[])>();
        string[] names = r.Models.Select(m => m.File).ToArray();
        string[] eps = r.Models[0].SinkRate.Keys.ToArray();
        list.Add(("sink_rate.png", "Sink rate of each file at each ε.",
            Charts.GroupedBars("Sink rate by file", "sink rate (%)", names, eps.Select(e => ($"ε = {e}", r.Models.Select(m => 100 * m.SinkRate[e]).ToArray())).ToList())));
        double[] layers = Enumerable.Range(0, r.Models[0].AlphaFirstByLayer.Length).Select(i => (double)i).ToArray();
        list.Add(("alpha_first.png", "α₀ (attention to the first token) averaged over each layer's heads, per file.",
            Charts.Lines("α₀ by layer", "layer", "mean α₀", layers, r.Models.Select(m => (m.File, m.AlphaFirstByLayer)))));
        list.Add(("largest_residual.png", "Largest |h| in each layer's residual stream, per file (log scale).",
            Charts.Lines("Largest residual activation by layer", "layer", "max |h|", layers, r.Models.Select(m => (m.File, m.LargestResidualByLayer)), logY: true)));
        return list;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Html(ComparisonReport r, List<(string File, string Caption, byte[] Png)> images)
    {
        var sb = new StringBuilder();
        HtmlPage.Head(sb, "SinkLab comparison", 1000);
        sb.Append("</head><body>\n<h1>Does weight precision move the sinks?</h1>\n");
        sb.Append("<p>").Append(E(r.Corpus)).Append($": the same {r.Sequences} sequences of {r.Tokens} tokens for every file. Definitions: docs/metrics.md; numbers: compare.json.</p>\n");
        string[] eps = r.Models[0].SinkRate.Keys.ToArray();
        sb.Append("<table><tr><th>file</th><th>MB</th><th>main type</th>");
        foreach (string e in eps) sb.Append("<th>sink rate ε=").Append(E(e)).Append("</th>");
        sb.Append("<th>mean α₀</th><th>largest resid |h|</th><th>position, channel</th><th>ratio</th><th>largest linear input |x|</th><th>NLL with BOS</th><th>NLL without</th></tr>\n");
        foreach (ComparedModel m in r.Models)
        {
            BosAblationRow? with = m.Bos.FirstOrDefault(b => b.Variant == "bos"), without = m.Bos.FirstOrDefault(b => b.Variant == "no_bos");
            sb.Append("<tr><th>").Append(E(m.File)).Append($"</th><td>{m.Bytes / 1e6:F2}</td><td>").Append(E(m.Types.FirstOrDefault() ?? "")).Append("</td>");
            foreach (string e in eps) sb.Append($"<td>{m.SinkRate[e]:P1}</td>");
            sb.Append($"<td>{m.MeanAlphaFirst:F4}</td><td>{m.LargestResidual:G4}</td><td>{string.Join(", ", m.Spike)}</td><td>{m.LargestResidualRatio:F1}</td><td>{m.LargestLinearInput:G4}</td><td>{with?.MeanNll:F4}</td><td>{without?.MeanNll:F4}</td></tr>\n");
        }
        sb.Append("</table>\n");
        HtmlPage.Figures(sb, images);
        sb.Append("</body></html>\n");
        return sb.ToString();
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using SinkLab.Analysis;
using SinkLab.Models;

namespace SinkLab.Reports;

/// <summary>
/// Writes <c>report.json</c>, the PNG plots and a self-contained <c>report.html</c> (plots embedded as data URIs).
/// Everything is written into a temporary sibling folder first and moved into place at the end, so a failure
/// leaves no partial report.
/// </summary>
public static class ReportWriter
{
    /// <summary>Fails early (before any computation) when <paramref name="outDir"/> cannot be written.</summary>
    /// <exception cref="IOException">The folder (or its parent) does not exist or is not writable.</exception>
    public static void CheckOutputDirectory(string? outDir)
    {
        if (outDir == null) return;
        string full = Path.GetFullPath(outDir);
        if (File.Exists(full)) throw new IOException($"--out: '{outDir}' is a file, not a directory");
        string probeDir = Directory.Exists(full) ? full : Path.GetDirectoryName(full) ?? full;
        if (!Directory.Exists(probeDir)) throw new DirectoryNotFoundException($"--out: the parent directory '{probeDir}' does not exist");
        string probe = Path.Combine(probeDir, $".sinklab-write-test-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new IOException($"--out: cannot write to '{probeDir}': {e.Message}", e);
        }
    }

    /// <summary>Writes the report files into <paramref name="outDir"/> (created if missing).</summary>
    public static void Write(Model model, InspectReport report, string outDir)
    {
        ArgumentNullException.ThrowIfNull(report);
        var images = Plots(report);
        var files = new Dictionary<string, byte[]>
        {
            ["report.json"] = System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(report, ReportJson.Options)),
            ["report.html"] = System.Text.Encoding.UTF8.GetBytes(Html(report, images)),
        };
        foreach (var (name, _, png) in images) files[name] = png;
        AtomicFile.WriteDirectory(outDir, files);
    }

    private static List<(string File, string Caption, byte[] Png)> Plots(InspectReport r)
    {
        var list = new List<(string, string, byte[])>();
        if (r.AlphaFirst is { } alpha)
        {
            list.Add(("alpha_first.png", "α of the first token for every layer and head: the mean attention that queries give to position 0.", Charts.AlphaHeatmap(alpha)));
            list.Add(("sink_rate.png", "Share of heads whose α of the first token exceeds ε, for every ε (dashed: the reported thresholds).", Charts.SinkRateCurve(alpha, r.Epsilons)));
        }
        if (r.AlphaByPosition is { } byPos)
            list.Add(("alpha_by_position.png", "α_k averaged over all heads, for each key position k.",
                Charts.Lines("Mean attention received by each position", "key position k", "α_k", Enumerable.Range(0, byPos.Length).Select(i => (double)i).ToArray(), [("all heads", byPos)])));
        if (r.MassiveActivations is { } massive)
            list.Add(("massive.png", "Largest |h| in the residual stream of each layer, relative to that layer's median |h|.", Charts.Massive(massive)));
        if (r.Outliers is { Length: > 0 } o)
        {
            double[] layerAxis = Enumerable.Range(0, o.Length).Select(i => (double)i).ToArray();
            list.Add(("outliers.png", "Largest |x| of each layer at the residual stream, the attention input, the FFN input and the FFN's hidden activation (log scale).",
                Charts.Lines("Activation outliers by layer", "layer", "max |x|", layerAxis,
                    o[0].Points.Select((p, i) => (p.Point, o.Select(l => l.Points[i].MaxAbs).ToArray())), logY: true)));
            var worst = o.SelectMany(l => l.Points).MaxBy(p => p.MaxAbs)!;
            list.Add(("outlier_positions.png", $"Each token's largest |x| by position at {worst.Hook} (where the largest activation is), mean over sequences, beside the median token ({worst.MedianTokenMax:G4}).",
                Charts.Lines($"Token maxima by position at {worst.Hook}", "position", "mean max |x|", Enumerable.Range(0, worst.TokenMaxByPosition.Length).Select(i => (double)i).ToArray(),
                    [(worst.Point, worst.TokenMaxByPosition)], logY: true)));
        }
        if (r.Sensitivity is { } s)
        {
            double[] layers = Enumerable.Range(0, s.Curves[0].ByLayer.Length).Select(i => (double)i).ToArray();
            list.Add(("sensitivity_layers.png", $"‖Δh_i‖ / ‖δx_j‖ averaged over later tokens i, per layer, after moving the embedding of position j = {s.Position} by δ = {s.Delta}.",
                Charts.Lines("Over-mixing: spread of a perturbation by layer", "layer", "‖Δh‖/‖δx‖", layers, s.Curves.Select(c => (c.Variant, c.ByLayer)), logY: true)));
            double[] dist = Enumerable.Range(0, s.Curves.Max(c => c.ByDistance.Length)).Select(i => (double)i).ToArray();
            list.Add(("sensitivity_distance.png", "The same at the last layer, by distance i − j.",
                Charts.Lines("Over-mixing: spread by distance (last layer)", "distance i − j", "‖Δh‖/‖δx‖", dist, s.Curves.Select(c => (c.Variant, c.ByDistance)), logY: true)));
        }
        if (r.Collapse is { } c)
        {
            double[] layers = Enumerable.Range(0, c.MeanCosineWithSink.Length).Select(i => (double)i).ToArray();
            list.Add(("collapse.png", "Mean pairwise cosine of token states and ‖X − 1μᵀ‖_F/‖X‖_F per layer, with the first token and without it.",
                Charts.Lines("Representation collapse", "layer", "value", layers,
                [("cosine, with sink", c.MeanCosineWithSink), ("cosine, without", c.MeanCosineWithoutSink),
                 ("centred norm, with sink", c.CenteredNormWithSink), ("centred norm, without", c.CenteredNormWithoutSink)])));
        }
        if (r.Entropy is { } ent)
            list.Add(("entropy.png", "Mean attention entropy (nats) per layer and head.", Charts.Heatmap(ent, "Attention entropy (nats)", "head", "layer")));
        if (r.ExamplePatterns is { } patterns)
            for (int i = 0; i < patterns.Length; i++)
                list.Add(($"pattern_{i}.png", $"Attention pattern of layer {patterns[i].Layer}, head {patterns[i].Head} on the first sequence.", Charts.Pattern(patterns[i])));
        return list;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Html(InspectReport r, List<(string File, string Caption, byte[] Png)> images)
    {
        var sb = new StringBuilder();
        HtmlPage.Head(sb, "SinkLab report: " + r.Model, 900);
        sb.Append("</head><body>\n<h1>Attention sinks in ").Append(E(r.Model)).Append("</h1>\n");
        sb.Append("<p><strong>").Append(E(ReportText.Summary(r))).Append("</strong></p>\n");
        sb.Append("<p>Corpus ").Append(E(r.Corpus)).Append($": {r.Sequences} sequences of {r.Tokens} tokens (BOS first). Model: {r.Config.Layers} layers × {r.Config.Heads} heads, width {r.Config.Dim}. ")
          .Append("Definitions and citations: docs/metrics.md. The numbers behind every plot are in report.json.</p>\n");
        if (r.SinkRate is { } rate)
        {
            sb.Append("<table><tr><th>ε</th>");
            foreach (var kv in rate) sb.Append("<th>").Append(E(kv.Key)).Append("</th>");
            sb.Append("</tr><tr><th>sink rate</th>");
            foreach (var kv in rate) sb.Append($"<td>{kv.Value:P1}</td>");
            sb.Append("</tr></table>\n");
        }
        HtmlPage.Figures(sb, images);
        if (r.Sensitivity is { } s)
        {
            sb.Append("<h2>Over-mixing sensitivity</h2><table><tr><th>variant</th><th>last layer ‖Δh‖/‖δx‖</th><th>Jacobian norm</th></tr>");
            foreach (var c in s.Curves) sb.Append($"<tr><th>{E(c.Variant)}</th><td>{c.ByLayer[^1]:G4}</td><td>{c.JacobianNorm:G4}</td></tr>");
            sb.Append($"</table><p>Ratio to intact: first token dropped {s.RatioDroppedToIntact:F3}, key 0 masked {s.RatioMaskedToIntact:F3} (the paper predicts ratios above 1). Jacobian: {E(s.JacobianMethod)}.</p>\n");
        }
        if (r.MassiveActivations is { } m)
        {
            sb.Append("<h2>Massive activations</h2><table><tr><th>layer</th><th>top |h|</th><th>position</th><th>channel</th><th>median |h|</th><th>ratio</th><th>&gt;100×</th><th>&gt;1000×</th></tr>");
            foreach (var l in m)
            {
                var t = l.Top.FirstOrDefault();
                sb.Append($"<tr><td>{l.Layer}</td><td>{Math.Abs(t?.Value ?? 0):G4}</td><td>{t?.Position}</td><td>{t?.Channel}</td><td>{l.Median:G4}</td><td>{l.TopRatio:F1}</td><td>{(l.Over100 ? "yes" : "no")}</td><td>{(l.Over1000 ? "yes" : "no")}</td></tr>");
            }
            sb.Append("</table>\n");
        }
        if (r.Outliers is { } outl)
        {
            sb.Append("<h2>Activation outliers</h2><table><tr><th>layer</th><th>point</th><th>max |x|</th><th>position</th><th>channel</th><th>median |x|</th><th>top-1/median</th><th>kurtosis</th><th>top position (× median token)</th></tr>");
            foreach (var l in outl)
                foreach (var p in l.Points)
                {
                    var t = p.Tokens.FirstOrDefault();
                    sb.Append($"<tr><td>{l.Layer}</td><td>{E(p.Point)}</td><td>{p.MaxAbs:G4}</td><td>{p.Position}</td><td>{p.Channel}</td><td>{p.Median:G4}</td><td>{p.Ratio:F1}</td><td>{p.Kurtosis:F1}</td><td>{t?.Position} ({t?.Ratio:F1}×)</td></tr>");
                }
            sb.Append("</table>\n");
        }
        if (r.BosAblation is { } bos)
        {
            sb.Append("<h2>First-token ablation</h2><table><tr><th>variant</th><th>first token</th><th>mean NLL</th>");
            foreach (string k in bos[0].SinkRate.Keys) sb.Append("<th>sink rate ε=").Append(E(k)).Append("</th>");
            sb.Append("<th>mean α first</th></tr>");
            foreach (var row in bos)
            {
                sb.Append($"<tr><th>{E(row.Variant)}</th><td>{E(row.FirstToken)}</td><td>{row.MeanNll:F4}</td>");
                foreach (double v in row.SinkRate.Values) sb.Append($"<td>{v:P1}</td>");
                sb.Append($"<td>{row.MeanAlphaFirst:F3}</td></tr>");
            }
            sb.Append("</table>\n");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }
}

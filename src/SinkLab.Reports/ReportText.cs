using System.Globalization;
using SinkLab.Analysis;

namespace SinkLab.Reports;

/// <summary>Plain-language sentences about an <see cref="InspectReport"/>.</summary>
public static class ReportText
{
    /// <summary>One sentence: does the model have first-token sinks, by the sink rate at each ε.</summary>
    public static string Summary(InspectReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ci = CultureInfo.InvariantCulture;
        if (r.SinkRate is not { } rate || r.AlphaFirst is not { } alpha)
            return $"{r.Model} on {r.Corpus}: {r.Sequences} sequences of {r.Tokens} tokens (sink scores not computed).";
        int pairs = alpha.Sum(x => x.Length);
        double max = alpha.SelectMany(x => x).Max();
        string rates = string.Join(", ", rate.Select(kv => $"{kv.Value.ToString("P0", ci)} at ε = {kv.Key}"));
        double first = rate.First().Value;
        string verdict = first >= 0.3 ? "a clear first-token sink in many heads"
            : first > 0 ? "first-token sinks in a few heads"
            : "no first-token sink by this measure";
        string learned = r.LearnedSinkMass is { } mass
            ? $" Its learned sink logits take {mass.SelectMany(x => x).Average().ToString("F2", ci)} of the attention on average " +
              $"(up to {mass.SelectMany(x => x).Max().ToString("F2", ci)} in one head), against α₀ = {alpha.SelectMany(x => x).Average().ToString("F2", ci)} on the first token."
            : "";
        return $"{r.Model} on {r.Corpus} ({r.Sequences} × {r.Tokens} tokens) shows {verdict}: sink rate {rates} " +
               $"of {pairs} heads; the strongest head gives the first token α = {max.ToString("F2", ci)}." + learned;
    }
}

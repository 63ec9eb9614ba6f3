using ScottPlot;
using SinkLab.Analysis;

namespace SinkLab.Reports;

/// <summary>PNG charts of an <see cref="InspectReport"/> (ScottPlot, rendered headless).</summary>
public static class Charts
{
    private const int W = 760, H = 420;

    private static byte[] Png(Plot plt, int w = W, int h = H) => plt.GetImageBytes(w, h, ImageFormat.Png);

    /// <summary>Heatmap of values[row][col] with a colour bar.</summary>
    public static byte[] Heatmap(double[][] values, string title, string xLabel, string yLabel, double? max = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        int rows = values.Length, cols = values.Max(r => r.Length);
        var data = new double[rows, cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < values[r].Length; c++) data[r, c] = values[r][c];
        var plt = new Plot();
        var hm = plt.Add.Heatmap(data);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        if (max is double m) hm.ManualRange = new ScottPlot.Range(0, m);
        plt.Add.ColorBar(hm);
        IntegerTicks(plt, bottom: cols <= 40, left: rows <= 40);
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        return Png(plt);
    }

    /// <summary>α of the first token per layer (rows) and head (columns).</summary>
    public static byte[] AlphaHeatmap(double[][] alpha) => Heatmap(alpha, "α of the first token per layer and head", "head", "layer", 1);

    /// <summary>Ticks at whole numbers (cells, layers).</summary>
    private static void IntegerTicks(Plot plt, bool bottom = true, bool left = true)
    {
        if (bottom) plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        if (left) plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
    }

    /// <summary>Sink rate as a function of ε, from the per-head α values.</summary>
    public static byte[] SinkRateCurve(double[][] alpha, IReadOnlyList<double> marks)
    {
        ArgumentNullException.ThrowIfNull(alpha);
        double[] eps = Enumerable.Range(1, 99).Select(i => i / 100.0).ToArray();
        double[] rate = eps.Select(e => 100.0 * SinkMetrics.Rates(alpha, [e]).Values.First()).ToArray();
        var plt = new Plot();
        var line = plt.Add.Scatter(eps, rate);
        line.MarkerSize = 0;
        line.LegendText = "share of heads with α_first > ε";
        foreach (double m in marks)
        {
            var v = plt.Add.VerticalLine(m);
            v.LinePattern = LinePattern.Dashed;
        }
        plt.Axes.SetLimits(0, 1, 0, 100);
        plt.Title("Sink rate against ε");
        plt.XLabel("ε");
        plt.YLabel("sink rate (%)");
        plt.ShowLegend();
        return Png(plt);
    }

    /// <summary>Several named series against a shared x (markers).</summary>
    public static byte[] Lines(string title, string xLabel, string yLabel, double[] x, IEnumerable<(string Name, double[] Y)> series, bool logY = false)
        => Series(title, xLabel, yLabel, series.Select(s => (s.Name, x.Take(s.Y.Length).ToArray(), s.Y)), logY, markerSize: 4);

    /// <summary>Several named series, each with its own x (lines, no markers).</summary>
    public static byte[] Curves(string title, string xLabel, string yLabel, IEnumerable<(string Name, double[] X, double[] Y)> series, bool logY = false)
        => Series(title, xLabel, yLabel, series, logY, markerSize: 0);

    private static byte[] Series(string title, string xLabel, string yLabel, IEnumerable<(string Name, double[] X, double[] Y)> series, bool logY, float markerSize)
    {
        var plt = new Plot();
        foreach (var (name, x, y) in series)
        {
            double[] ys = logY ? y.Select(v => Math.Log10(Math.Max(v, 1e-12))).ToArray() : y;
            var s = plt.Add.Scatter(x, ys);
            s.LegendText = name;
            s.MarkerSize = markerSize;
            if (markerSize == 0) s.LineWidth = 2;
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(logY ? $"log10 {yLabel}" : yLabel);
        plt.ShowLegend();
        return Png(plt);
    }

    /// <summary>Named series of means with error bars (e.g. a 95 % interval over seeds) against x, optionally on a log₂ x
    /// axis (training contexts 32…512).</summary>
    public static byte[] ErrorBars(string title, string xLabel, string yLabel,
        IEnumerable<(string Name, double[] X, double[] Mean, double[] Half)> series, bool log2X = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plt = new Plot();
        foreach (var (name, x, mean, half) in series)
        {
            double[] xs = log2X ? x.Select(Math.Log2).ToArray() : x;
            var line = plt.Add.Scatter(xs, mean);
            line.LegendText = name;
            line.MarkerSize = 6;
            line.LineWidth = 2;
            if (half.Any(h => h > 0 && double.IsFinite(h)))
            {
                var bars = plt.Add.ErrorBar(xs, mean, half.Select(h => double.IsFinite(h) ? h : 0).ToArray());
                bars.Color = line.Color;
            }
        }
        if (log2X)
        {
            double[] ticks = series.SelectMany(s => s.X).Distinct().Order().ToArray();
            plt.Axes.Bottom.SetTicks(ticks.Select(Math.Log2).ToArray(), ticks.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.ShowLegend();
        return Png(plt);
    }

    /// <summary>A cloud of (x, y) points (small markers, no lines).</summary>
    public static byte[] Points(string title, string xLabel, string yLabel, (double X, double Y)[] points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var plt = new Plot();
        var s = plt.Add.ScatterPoints(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
        s.MarkerSize = 2;
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        return Png(plt);
    }

    /// <summary>Top |h| / median |h| per layer (log scale), with the 100× and 1000× thresholds.</summary>
    public static byte[] Massive(MassiveLayer[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var plt = new Plot();
        double[] ratios = layers.Select(l => Math.Log10(Math.Max(l.TopRatio, 1e-12))).ToArray();
        plt.Add.Bars(ratios);
        var h100 = plt.Add.HorizontalLine(2);
        h100.LinePattern = LinePattern.Dashed;
        h100.LegendText = "100 × median";
        var h1000 = plt.Add.HorizontalLine(3);
        h1000.LinePattern = LinePattern.Dotted;
        h1000.LegendText = "1000 × median";
        IntegerTicks(plt, left: false);
        plt.Title("Largest residual activation / median |h|, per layer");
        plt.XLabel("layer");
        plt.YLabel("log10 ratio");
        plt.ShowLegend();
        return Png(plt);
    }

    /// <summary>One head's attention pattern on a sequence (rows = queries).</summary>
    public static byte[] Pattern(HeadPattern p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return Heatmap(p.Pattern.Select(r => r.Select(v => (double)v).ToArray()).ToArray(),
            $"layer {p.Layer}, head {p.Head} (α_first = {p.AlphaFirst:F2})", "key position", "query position", 1);
    }

    /// <summary>Grouped bars: one group per label, one bar per series.</summary>
    public static byte[] GroupedBars(string title, string yLabel, string[] labels, IReadOnlyList<(string Name, double[] Values)> series)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(series);
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double width = 0.8 / Math.Max(1, series.Count);
        for (int s = 0; s < series.Count; s++)
        {
            var bars = new List<Bar>();
            for (int i = 0; i < labels.Length; i++)
                bars.Add(new Bar { Position = i + (s - (series.Count - 1) / 2.0) * width, Value = series[s].Values[i], Size = width * 0.95, FillColor = palette.GetColor(s) });
            var bp = plt.Add.Bars(bars);
            bp.LegendText = series[s].Name;
        }
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
        plt.Title(title);
        plt.YLabel(yLabel);
        plt.ShowLegend();
        return Png(plt, 900, 420);
    }
}

using System.Numerics.Tensors;

namespace SinkLab.Analysis;

/// <summary>
/// Representation collapse of token states X ∈ R^{n×d} (rows = tokens) at one layer: the mean pairwise cosine
/// similarity of distinct rows, and ‖X − 1μᵀ‖_F / ‖X‖_F (μ = mean row); the first tends to 1 and the second to 0 as
/// states collapse together (Barbero et al. 2025).
/// </summary>
public static class RepresentationCollapse
{
    /// <summary>Mean cosine similarity over all pairs of distinct rows of X [rows, dim] (rows from
    /// <paramref name="firstRow"/> on).</summary>
    public static double MeanPairwiseCosine(float[] x, int dim, int firstRow = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rows = x.Length / dim - firstRow;
        if (rows < 2) return double.NaN;
        var sum = new double[dim];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = x.AsSpan((firstRow + r) * dim, dim);
            float norm = TensorPrimitives.Norm(row);
            if (norm == 0) continue;
            for (int i = 0; i < dim; i++) sum[i] += row[i] / norm;
        }
        // Σ_{i≠j} cos(x_i, x_j) = ‖Σ x̂_i‖² − Σ ‖x̂_i‖²
        double total = 0;
        foreach (double s in sum) total += s * s;
        return (total - rows) / ((double)rows * (rows - 1));
    }

    /// <summary>‖X − 1μᵀ‖_F / ‖X‖_F over rows from <paramref name="firstRow"/> on.</summary>
    public static double CenteredNormRatio(float[] x, int dim, int firstRow = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rows = x.Length / dim - firstRow;
        if (rows < 1) return double.NaN;
        var mean = new double[dim];
        double all = 0;
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < dim; i++) { double v = x[(firstRow + r) * dim + i]; mean[i] += v / rows; all += v * v; }
        double centered = 0;
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < dim; i++) { double v = x[(firstRow + r) * dim + i] - mean[i]; centered += v * v; }
        return all > 0 ? Math.Sqrt(centered / all) : double.NaN;
    }
}

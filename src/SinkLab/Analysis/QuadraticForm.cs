namespace SinkLab.Analysis;

/// <summary>The spectrum of one output channel of a gated MLP seen as a quadratic form of its input.</summary>
/// <param name="Value">x·A·x: the channel's output at x, through the form.</param>
/// <param name="Eigenvalues">The five eigenvalues of the symmetric form with the largest |λ|, largest first.</param>
/// <param name="TopVector">The eigenvector of the direction that carries the most of x·A·x.</param>
/// <param name="TopContribution">λ·(v·x)² of that direction.</param>
/// <param name="TopShare">Its share of the output: TopContribution / Value.</param>
/// <param name="SpectralShare">|λ| of the largest eigenvalue over Σ|λ|.</param>
/// <param name="Cosine">cos(x, TopVector).</param>
public sealed record QuadraticFormSpectrum(double Value, double[] Eigenvalues, double[] TopVector, double TopContribution, double TopShare,
    double SpectralShare, double Cosine);

/// <summary>
/// A gated MLP's output channel c as a quadratic form (docs/metrics.md, "Where the outliers come from"): with
/// g = W_g·x, u = W_u·x and act(g) = φ(g)·g (SwiGLU: φ = sigmoid; GeGLU: φ = gelu(g)/g),
/// f_c(x) = Σ_i W_d[c,i]·act(g_i)·u_i = xᵀ·A·x with A = Σ_i W_d[c,i]·φ(g_i)·w_g,i·w_u,iᵀ, the gates φ frozen at the
/// token analysed — exact at that token, and the quadratic form the block is close to wherever the gates stay near
/// their values there. The symmetric part (A + Aᵀ)/2 carries the whole of xᵀAx; its eigen-decomposition says how much
/// of the output one direction carries (Sun et al. 2024 found massive activations made by a few FFN directions; a 2025
/// analysis finds one dominant direction of this form).
/// </summary>
public static class QuadraticForm
{
    /// <summary>The form's matrix (symmetrised) for output channel weights <paramref name="down"/> (one row of W_d),
    /// gate and up rows, and the frozen gates φ.</summary>
    public static double[,] Matrix(float[] down, float[][] gateRows, float[][] upRows, double[] phi)
    {
        ArgumentNullException.ThrowIfNull(down);
        ArgumentNullException.ThrowIfNull(gateRows);
        ArgumentNullException.ThrowIfNull(upRows);
        ArgumentNullException.ThrowIfNull(phi);
        int d = gateRows[0].Length;
        var a = new double[d, d];
        for (int i = 0; i < down.Length; i++)
        {
            double w = down[i] * phi[i];
            if (w == 0) continue;
            float[] g = gateRows[i], u = upRows[i];
            for (int r = 0; r < d; r++)
            {
                double wr = w * g[r];
                if (wr == 0) continue;
                for (int s = 0; s < d; s++) a[r, s] += wr * u[s];
            }
        }
        for (int r = 0; r < d; r++)
            for (int s = r + 1; s < d; s++)
            {
                double m = 0.5 * (a[r, s] + a[s, r]);
                a[r, s] = m; a[s, r] = m;
            }
        return a;
    }

    /// <summary>Decomposes the symmetric form <paramref name="a"/> and splits xᵀAx over its eigen-directions.</summary>
    public static QuadraticFormSpectrum Analyze(double[,] a, double[] x)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(x);
        int d = x.Length;
        (double[] values, double[,] vectors) = Eigen(a);
        double value = 0, absSum = 0;
        var contrib = new double[d];
        for (int k = 0; k < d; k++)
        {
            double p = 0;
            for (int r = 0; r < d; r++) p += vectors[r, k] * x[r];
            contrib[k] = values[k] * p * p;
            value += contrib[k];
            absSum += Math.Abs(values[k]);
        }
        int top = 0;
        for (int k = 1; k < d; k++) if (Math.Abs(contrib[k]) > Math.Abs(contrib[top])) top = k;
        var v = new double[d];
        for (int r = 0; r < d; r++) v[r] = vectors[r, top];
        double xn = Math.Sqrt(x.Sum(t => t * t)), dot = v.Zip(x, (p, q) => p * q).Sum();
        double[] largest = [.. values.OrderByDescending(Math.Abs).Take(5)];
        return new QuadraticFormSpectrum(value, largest, v, contrib[top], value != 0 ? contrib[top] / value : 0,
            absSum > 0 ? Math.Abs(largest[0]) / absSum : 0, xn > 0 ? dot / xn : 0);
    }

    /// <summary>Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations, in double.</summary>
    public static (double[] Values, double[,] Vectors) Eigen(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, diag = 0;
            for (int p = 0; p < n; p++)
            {
                diag += a[p, p] * a[p, p];
                for (int q = p + 1; q < n; q++) off += a[p, q] * a[p, q];
            }
            if (off <= 1e-26 * Math.Max(diag, 1e-300)) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p, q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = a[i, i];
        return (values, v);
    }
}

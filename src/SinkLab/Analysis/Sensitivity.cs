using SinkLab.Hooks;
using SinkLab.Inference;

namespace SinkLab.Analysis;

/// <summary>
/// Over-mixing sensitivity (Barbero et al. 2025, "Why do LLMs attend to the first token?"): the input embedding of
/// the token at position j is moved by δx = δ·‖x_j‖·u (u a random unit vector, several seeds), and
/// ‖Δh_i^(l)‖ / ‖δx‖ is measured for every later token i and layer l (hook_resid_post). Reported as a curve over
/// layers (mean over i > j) and over the distance i − j (last layer). The Jacobian norm ‖∂h_i^(L)/∂x_j‖₂ for the last
/// token is estimated by central finite differences and power iteration on JᵀJ. Each measurement is made with the
/// sink intact, with the first token dropped, and with attention to key 0 masked in every layer and head.
/// </summary>
public static class Sensitivity
{
    /// <summary>Runs the three variants.</summary>
    /// <param name="session">Session whose batch holds a whole sequence.</param>
    /// <param name="sequences">Sequences starting with BOS.</param>
    /// <param name="position">j, the perturbed position in the intact sequence (≥ 1).</param>
    /// <param name="delta">Relative norm δ of the perturbation.</param>
    /// <param name="seeds">Random directions per sequence.</param>
    /// <param name="jacobianSequences">Sequences on which the Jacobian norm is estimated (0 = skip).</param>
    public static SensitivityReport Measure(InferenceSession session, IReadOnlyList<int[]> sequences, int position = 1,
        double delta = 1e-2, int seeds = 3, int jacobianSequences = 1)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(sequences);
        int T = sequences[0].Length;
        if (position < 1 || position >= T - 1) throw new ArgumentOutOfRangeException(nameof(position), position, $"must be in [1, {T - 2}]");
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "must be positive");
        int dim = session.Model.Config.Dim, layers = session.Model.Config.Layers;
        string method = dim <= 256 ? $"central differences over all {dim} input directions, power iteration on JᵀJ"
                                   : "central differences over 64 random input directions (a lower bound), power iteration";
        var curves = new[]
        {
            Curve("intact", session, sequences, s => s, position, null, delta, seeds, jacobianSequences),
            Curve("first_dropped", session, sequences, s => Interventions.DropFirst(s), position - 1, null, delta, seeds, jacobianSequences),
            Curve("key0_masked", session, sequences, s => s, position, new HookSet().MaskKey(0, layers), delta, seeds, jacobianSequences),
        };
        double Final(SensitivityCurve c) => c.ByLayer[^1];
        return new SensitivityReport(position, delta, sequences.Count, seeds, curves,
            Final(curves[1]) / Final(curves[0]), Final(curves[2]) / Final(curves[0]), method);
    }

    private static SensitivityCurve Curve(string name, InferenceSession session, IReadOnlyList<int[]> sequences, Func<int[], int[]> edit,
        int j, HookSet? hooks, double delta, int seeds, int jacobianSequences)
    {
        int layers = session.Model.Config.Layers, dim = session.Model.Config.Dim;
        using IDisposable? scope = hooks == null ? null : session.Hooks(hooks);
        int T = edit(sequences[0]).Length;
        var byLayer = new double[layers];
        var byDistance = new double[T - j];
        int samples = 0;
        double jacobian = 0;
        int jacobianCount = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            int[] ids = edit(sequences[s]);
            ActivationCache clean = session.RunWithCache(ids, n => n == "hook_embed" || n.EndsWith("hook_resid_post", StringComparison.Ordinal));
            float[] xj = clean[HookPoint.Embed].Data.AsSpan(j * dim, dim).ToArray();
            double xNorm = Norm(xj);
            for (int seed = 0; seed < seeds; seed++)
            {
                float[] d = RandomUnit(dim, new Random(1000 * s + seed));
                for (int i = 0; i < dim; i++) d[i] = (float)(d[i] * delta * xNorm);
                double dNorm = Norm(d);
                ActivationCache pert;
                using (session.Hooks(new HookSet().PerturbEmbedding(j, d)))
                    pert = session.RunWithCache(ids, n => n.EndsWith("hook_resid_post", StringComparison.Ordinal));
                for (int l = 0; l < layers; l++)
                {
                    float[] a = clean[HookPoint.ResidPost, l].Data, b = pert[HookPoint.ResidPost, l].Data;
                    double mean = 0;
                    for (int i = j + 1; i < T; i++) mean += DiffNorm(a, b, i, dim) / dNorm;
                    byLayer[l] += mean / (T - j - 1);
                    if (l == layers - 1)
                        for (int i = j; i < T; i++) byDistance[i - j] += DiffNorm(a, b, i, dim) / dNorm;
                }
                samples++;
            }
            if (s < jacobianSequences)
            {
                jacobian += JacobianNorm(session, ids, j, xNorm, dim, layers);
                jacobianCount++;
            }
        }
        for (int l = 0; l < layers; l++) byLayer[l] /= samples;
        for (int d = 0; d < byDistance.Length; d++) byDistance[d] /= samples;
        return new SensitivityCurve(name, byLayer, byDistance, jacobianCount > 0 ? jacobian / jacobianCount : double.NaN);
    }

    /// <summary>‖∂h_last^(L)/∂x_j‖₂ by central differences and power iteration on JᵀJ.</summary>
    private static double JacobianNorm(InferenceSession session, int[] ids, int j, double xNorm, int dim, int layers)
    {
        int probes = dim <= 256 ? dim : 64;
        int last = ids.Length - 1;
        double eps = 1e-3 * Math.Max(xNorm, 1e-6);
        var J = new double[dim, probes];   // J · P, P = identity or random unit directions
        string finalName = HookNames.Name(HookPoint.ResidPost, layers - 1);
        for (int c = 0; c < probes; c++)
        {
            float[] dir = probes == dim ? Basis(dim, c) : RandomUnit(dim, new Random(77 + c));
            float[] plus = dir.Select(v => (float)(v * eps)).ToArray(), minus = dir.Select(v => (float)(-v * eps)).ToArray();
            float[] hp, hm;
            using (session.Hooks(new HookSet().PerturbEmbedding(j, plus))) hp = session.RunWithCache(ids, n => n == finalName)[finalName].Data;
            using (session.Hooks(new HookSet().PerturbEmbedding(j, minus))) hm = session.RunWithCache(ids, n => n == finalName)[finalName].Data;
            for (int r = 0; r < dim; r++) J[r, c] = (hp[last * dim + r] - hm[last * dim + r]) / (2 * eps);
        }
        // Power iteration on JᵀJ (probes × probes).
        var v = new double[probes];
        var rng = new Random(5);
        for (int i = 0; i < probes; i++) v[i] = rng.NextDouble() - 0.5;
        double sigma = 0;
        for (int it = 0; it < 200; it++)
        {
            var u = new double[dim];
            for (int r = 0; r < dim; r++) for (int c = 0; c < probes; c++) u[r] += J[r, c] * v[c];
            var w = new double[probes];
            for (int c = 0; c < probes; c++) for (int r = 0; r < dim; r++) w[c] += J[r, c] * u[r];
            double norm = Math.Sqrt(w.Sum(x => x * x));
            if (norm == 0) return 0;
            double next = Math.Sqrt(norm);
            for (int c = 0; c < probes; c++) v[c] = w[c] / norm;
            if (Math.Abs(next - sigma) < 1e-9 * next) { sigma = next; break; }
            sigma = next;
        }
        return sigma;
    }

    private static float[] Basis(int dim, int i) { var e = new float[dim]; e[i] = 1; return e; }

    private static float[] RandomUnit(int dim, Random rng)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++)
        {
            // Box–Muller: a Gaussian direction is uniform on the sphere once normalised.
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        double n = Norm(v);
        for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / n);
        return v;
    }

    private static double Norm(ReadOnlySpan<float> v) { double s = 0; foreach (float x in v) s += (double)x * x; return Math.Sqrt(s); }

    private static double DiffNorm(float[] a, float[] b, int row, int dim)
    {
        double s = 0;
        for (int i = row * dim; i < (row + 1) * dim; i++) { double d = (double)a[i] - b[i]; s += d * d; }
        return Math.Sqrt(s);
    }
}

namespace SinkLab.Models;

/// <summary>What a planned tensor holds (decides how synthetic values are drawn and whether it may be quantized).</summary>
public enum TensorKind
{
    /// <summary>A weight matrix (quantizable).</summary>
    Matrix,
    /// <summary>A norm's gain.</summary>
    NormGain,
    /// <summary>A bias.</summary>
    Bias,
    /// <summary>A learned position table (kept F32, as llama.cpp does).</summary>
    Positions,
}

/// <summary>One tensor of a model as llama.cpp's converter writes it.</summary>
/// <param name="Name">GGUF tensor name.</param>
/// <param name="Dims">Dimensions in ggml order (row length first).</param>
/// <param name="Kind">What it holds.</param>
public sealed record PlannedTensor(string Name, long[] Dims, TensorKind Kind);

/// <summary>
/// The tensors a configuration needs, in llama.cpp's names and the layout its converter writes (fused Q|K|V and
/// gate|up where the architecture's converter fuses them, biases where it writes them). <see cref="SyntheticModel"/>
/// writes exactly this list; the loader reads it (and also the unfused forms llama.cpp accepts).
/// </summary>
public static class TensorPlan
{
    /// <summary>The tensors of <paramref name="c"/> laid out as <paramref name="layout"/>, in file order.</summary>
    public static IEnumerable<PlannedTensor> For(ModelConfig c, TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(layout);
        BlockDescription b = c.Block;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, ff = c.HiddenDim;
        bool normBias = b.Norm == NormKind.LayerNorm && layout.NormBias;
        PlannedTensor M(string name, int cols, int rows) => new(name, [cols, rows], TensorKind.Matrix);
        PlannedTensor V(string name, int n, TensorKind kind) => new(name, [n], kind);

        yield return M(GgufKeys.TokenEmbedding, dim, c.VocabSize);
        if (b.Positions == PositionKind.Learned) yield return new(GgufKeys.PositionEmbedding, [dim, c.PositionRows], TensorKind.Positions);
        yield return V(GgufKeys.OutputNorm, dim, TensorKind.NormGain);
        if (normBias) yield return V(GgufKeys.OutputNormBias, dim, TensorKind.Bias);
        if (layout.Output && !c.TiedOutput) yield return M(GgufKeys.Output, dim, c.VocabSize);
        for (int l = 0; l < c.Layers; l++)
        {
            string B(string s) => GgufKeys.Block(l, s);
            if (b.HasPreNorms)
            {
                yield return V(B(GgufKeys.AttnNorm), dim, TensorKind.NormGain);
                if (normBias) yield return V(B(GgufKeys.AttnNormBias), dim, TensorKind.Bias);
            }
            if (layout.FusedQkv)
            {
                yield return M(B(GgufKeys.AttnQkv), dim, qDim + 2 * kvDim);
                if (layout.QkvBias) yield return V(B(GgufKeys.AttnQkvBias), qDim + 2 * kvDim, TensorKind.Bias);
            }
            else
            {
                yield return M(B(GgufKeys.AttnQ), dim, qDim);
                yield return M(B(GgufKeys.AttnK), dim, kvDim);
                yield return M(B(GgufKeys.AttnV), dim, kvDim);
                if (layout.QkvBias)
                {
                    yield return V(B(GgufKeys.AttnQBias), qDim, TensorKind.Bias);
                    yield return V(B(GgufKeys.AttnKBias), kvDim, TensorKind.Bias);
                    yield return V(B(GgufKeys.AttnVBias), kvDim, TensorKind.Bias);
                }
            }
            if (b.QkNorm != QkNormKind.None)
            {
                yield return V(B(GgufKeys.AttnQNorm), b.QkNorm == QkNormKind.PerHead ? c.HeadDim : qDim, TensorKind.NormGain);
                yield return V(B(GgufKeys.AttnKNorm), b.QkNorm == QkNormKind.PerHead ? c.HeadDim : kvDim, TensorKind.NormGain);
            }
            yield return M(B(GgufKeys.AttnOutput), qDim, dim);
            if (layout.OutputBias) yield return V(B(GgufKeys.AttnOutputBias), dim, TensorKind.Bias);
            if (b.HasPostNorms) yield return V(B(GgufKeys.PostAttentionNorm), dim, TensorKind.NormGain);
            if (layout.AttnSinks) yield return V(B(GgufKeys.AttnSinks), c.Heads, TensorKind.Bias);
            if (b.HasPreNorms && b.Residual != ResidualKind.ParallelSharedNorm)
            {
                yield return V(B(layout.FfnNorm), dim, TensorKind.NormGain);
                if (normBias) yield return V(B(GgufKeys.FfnNormBias), dim, TensorKind.Bias);
            }
            if (b.Moe is { } moe)
            {
                int e = moe.Experts, h = moe.ExpertHidden;
                yield return M(B(GgufKeys.FfnGateInp), dim, e);
                if (layout.ExpertBias) yield return V(B(GgufKeys.FfnGateInpBias), e, TensorKind.Bias);
                yield return new(B(GgufKeys.FfnGateExps), [dim, h, e], TensorKind.Matrix);
                if (layout.ExpertBias) yield return new(B(GgufKeys.FfnGateExpsBias), [h, e], TensorKind.Bias);
                yield return new(B(GgufKeys.FfnUpExps), [dim, h, e], TensorKind.Matrix);
                if (layout.ExpertBias) yield return new(B(GgufKeys.FfnUpExpsBias), [h, e], TensorKind.Bias);
                yield return new(B(GgufKeys.FfnDownExps), [h, dim, e], TensorKind.Matrix);
                if (layout.ExpertBias) yield return new(B(GgufKeys.FfnDownExpsBias), [dim, e], TensorKind.Bias);
                continue;
            }
            if (b.Gated && layout.FusedGateUp) yield return M(B(GgufKeys.FfnUp), dim, 2 * ff);
            else
            {
                if (b.Gated) yield return M(B(GgufKeys.FfnGate), dim, ff);
                yield return M(B(GgufKeys.FfnUp), dim, ff);
                if (layout.MlpBias) yield return V(B(GgufKeys.FfnUpBias), ff, TensorKind.Bias);
            }
            yield return M(B(GgufKeys.FfnDown), ff, dim);
            if (layout.MlpBias) yield return V(B(GgufKeys.FfnDownBias), dim, TensorKind.Bias);
            if (b.HasPostNorms) yield return V(B(GgufKeys.PostFfwNorm), dim, TensorKind.NormGain);
        }
    }
}

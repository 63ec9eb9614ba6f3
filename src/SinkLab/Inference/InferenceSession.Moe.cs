using SinkLab.Hooks;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Inference;

/// <summary>The mixture-of-experts feed-forward block (<see cref="MoeSpec"/>): router, top-k choice and weights per
/// token, then expert by expert the tokens that chose it, gathered into one batch (so a prefill multiplies each chosen
/// expert's rows once for all its tokens and never touches the others'), and the weighted sum in the order of each
/// token's choices, as llama.cpp adds them.</summary>
public sealed unsafe partial class InferenceSession
{
    private float[] _router = [], _moeIn = [], _slotOut = [], _choiceWeight = [];
    private int[] _choice = [], _expertTokens = [], _expertSlots = [], _expertCount = [];

    private void AllocateExperts(MoeSpec m, Func<long, float[]> alloc)
    {
        _router = alloc((long)_batch * m.Experts);
        _moeIn = alloc((long)_batch * _c.Dim);
        _slotOut = alloc((long)_batch * m.Used * _c.Dim);
        _choiceWeight = new float[_batch * m.Used];
        _choice = new int[_batch * m.Used];
        _expertTokens = new int[m.Experts * _batch];
        _expertSlots = new int[m.Experts * _batch];
        _expertCount = new int[m.Experts];
    }

    private void MixtureOfExperts(int l, ExpertWeights ex, float* input, int n)
    {
        MoeSpec m = _b.Moe!;
        int dim = _c.Dim, h = m.ExpertHidden, experts = m.Experts, k = m.Used;
        fixed (float* router = _router, xin = _moeIn, hb = _hb, hb2 = _hb2, slotOut = _slotOut)
        {
            _matmul.Run(ex.Router, input, dim, n, router, experts);
            if (ex.RouterBias != null) AddBias(_router, ex.RouterBias, n);
            Fire(HookPoint.Router, l, _router, n, experts);
            Array.Clear(_expertCount);
            for (int t = 0; t < n; t++)
            {
                Span<int> chosen = _choice.AsSpan(t * k, k);
                Span<float> w = _choiceWeight.AsSpan(t * k, k);
                MoeRouting.TopK(_router.AsSpan(t * experts, experts), chosen);
                MoeRouting.Weights(_router.AsSpan(t * experts, experts), chosen, m.Gating, w, m.NormalizeWeights, m.WeightScale);
                for (int j = 0; j < k; j++)
                {
                    int e = chosen[j], i = _expertCount[e]++;
                    _expertTokens[e * _batch + i] = t;
                    _expertSlots[e * _batch + i] = t * k + j;
                }
            }
            for (int e = 0; e < experts; e++)
            {
                int count = _expertCount[e];
                if (count == 0) continue;
                for (int i = 0; i < count; i++)
                    new ReadOnlySpan<float>(input + (long)_expertTokens[e * _batch + i] * dim, dim).CopyTo(_moeIn.AsSpan(i * dim, dim));
                _matmul.Run(xin, dim, count, ex.Gate[e], hb, h, ex.Up[e], hb2, h);
                if (ex.BiasGate != null) AddBias(_hb, ex.BiasGate[e], count);
                if (ex.BiasUp != null) AddBias(_hb2, ex.BiasUp[e], count);
                GatedActivation(_hb.AsSpan(0, count * h), _hb2.AsSpan(0, count * h));   // element-wise: one call for all rows
                _matmul.Run(ex.Down[e], hb, h, count, xin, dim);   // the gathered inputs are spent: reuse their rows
                if (ex.BiasDown != null) AddBias(_moeIn, ex.BiasDown[e], count);
                for (int i = 0; i < count; i++)
                    _moeIn.AsSpan(i * dim, dim).CopyTo(_slotOut.AsSpan(_expertSlots[e * _batch + i] * dim, dim));
            }
            for (int t = 0; t < n; t++)
            {
                Span<float> mo = _mo.AsSpan(t * dim, dim);
                System.Numerics.Tensors.TensorPrimitives.Multiply(_slotOut.AsSpan(t * k * dim, dim), _choiceWeight[t * k], mo);
                for (int j = 1; j < k; j++)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_slotOut.AsSpan((t * k + j) * dim, dim), _choiceWeight[t * k + j], mo, mo);
            }
            if (ex.SharedUp is { } sharedUp) SharedExperts(ex, sharedUp, input, n);
        }
    }

    /// <summary>Shared experts (Qwen-MoE style): every token through one more MLP of the block's kind, its output scaled
    /// by σ(w·x) when the block has a shared-expert gate, added to the routed experts' sum in <c>_mo</c>.</summary>
    private void SharedExperts(ExpertWeights ex, WeightMatrix up, float* input, int n)
    {
        int dim = _c.Dim, h = up.Rows;
        fixed (float* hb = _hb, hb2 = _hb2, xin = _moeIn)
        {
            _matmul.Run(input, dim, n, ex.SharedGate!, hb, h, up, hb2, h);   // the loader requires all three
            GatedActivation(_hb.AsSpan(0, n * h), _hb2.AsSpan(0, n * h));
            _matmul.Run(ex.SharedDown!, hb, h, n, xin, dim);
            for (int t = 0; t < n; t++)
            {
                Span<float> o = _moeIn.AsSpan(t * dim, dim), mo = _mo.AsSpan(t * dim, dim);
                float scale = 1f;
                if (ex.SharedGateInput is { } w)
                    scale = 1f / (1f + MathF.Exp(-System.Numerics.Tensors.TensorPrimitives.Dot(w, new ReadOnlySpan<float>(input + (long)t * dim, dim))));
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(o, scale, mo, mo);
            }
        }
    }
}

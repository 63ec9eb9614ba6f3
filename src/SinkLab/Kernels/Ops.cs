using System.Numerics.Tensors;

namespace SinkLab.Kernels;

/// <summary>Element-wise operators of the forward pass (norms, RoPE, softmax, GLU activations, soft-capping) over spans.
/// Source and destination may be the same span.</summary>
internal static class Ops
{
    /// <summary>y = x / sqrt(mean(x²) + eps) ⊙ g.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> g, float eps, Span<float> y)
    {
        float ss = TensorPrimitives.SumOfSquares(x);
        float scale = 1f / MathF.Sqrt(ss / x.Length + eps);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, g, y);
    }

    /// <summary>y = (x − mean(x)) / sqrt(var(x) + eps) ⊙ g (+ b), as ggml's norm then mul/add compute it.</summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> g, ReadOnlySpan<float> b, float eps, Span<float> y)
    {
        float mean = TensorPrimitives.Sum(x) / x.Length;
        TensorPrimitives.Subtract(x, mean, y);
        float variance = TensorPrimitives.SumOfSquares(y) / x.Length;
        TensorPrimitives.Multiply(y, 1f / MathF.Sqrt(variance + eps), y);
        TensorPrimitives.Multiply(y, g, y);
        if (!b.IsEmpty) TensorPrimitives.Add(y, b, y);
    }

    /// <summary>x ← cap · tanh(x / cap) (Gemma 2's soft-capping of scores and logits).</summary>
    public static void SoftCap(Span<float> x, float cap)
    {
        TensorPrimitives.Multiply(x, 1f / cap, x);
        TensorPrimitives.Tanh(x, x);
        TensorPrimitives.Multiply(x, cap, x);
    }

    /// <summary>Rotates each head of <paramref name="x"/> (heads × headDim) by the angles whose cos/sin are given
    /// for the first <c>2·cos.Length</c> dimensions; adjacent pairs (normal) or halves (NeoX).</summary>
    public static void Rope(Span<float> x, int heads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool neox)
    {
        int half = cos.Length;
        for (int h = 0; h < heads; h++)
        {
            Span<float> v = x.Slice(h * headDim, headDim);
            for (int i = 0; i < half; i++)
            {
                int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b], c = cos[i], s = sin[i];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }

    /// <summary>In-place softmax with the maximum subtracted; a row whose every score is −∞ (all keys masked)
    /// becomes all zero instead of NaN.</summary>
    public static void Softmax(Span<float> x) => FastExp.Softmax(x);

    /// <summary>gate ← gelu(gate) ⊙ up (GeGLU), GELU as <see cref="Gelu"/> computes it.</summary>
    public static void GeGlu(Span<float> gate, ReadOnlySpan<float> up, bool exact)
    {
        Gelu.Apply(gate, exact);
        TensorPrimitives.Multiply(gate, up, gate);
    }

    /// <summary>gate ← silu(gate) ⊙ up (<see cref="FastExp"/>).</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up) => FastExp.SwiGlu(gate, up);
}

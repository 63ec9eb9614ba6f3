using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SinkLab.Kernels;

/// <summary>
/// e^x in single precision for the hot element-wise loops (attention softmax, SwiGLU), eight lanes at a time:
/// Cephes' <c>expf</c> (range reduction by n = round(x·log₂e) with ln 2 split in two, a degree-6 polynomial on
/// [−ln2/2, ln2/2], 2ⁿ built in the exponent bits), within 2 ulp of the true value (tested against double). .NET's
/// <c>TensorPrimitives.Exp</c> widens each float to double: the softmax of four 256-key rows took 4–7 µs, about as long
/// as scoring and weight-summing them (1.9 µs now; docs/benchmarks.md).
/// llama.cpp also uses its own vector <c>expf</c>. Tails shorter than a vector run the same code on a padded copy, so
/// every element gets the same result wherever it sits. Below −87.3 the result is 0 (no denormals); NaN stays NaN.
/// </summary>
internal static class FastExp
{
    private const float Hi = 88.3762626647949f, Lo = -87.3365447504019f;

    /// <summary>e^x per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        Vector256<float> c = Vector256.Min(Vector256.Max(x, Vector256.Create(Lo)), Vector256.Create(Hi));
        Vector256<float> fx = Vector256.Floor(c * Vector256.Create(1.44269504088896341f) + Vector256.Create(0.5f));
        Vector256<float> r = c - fx * Vector256.Create(0.693359375f) - fx * Vector256.Create(-2.12194440e-4f);
        Vector256<float> y = Vector256.Create(1.9875691500E-4f);
        y = y * r + Vector256.Create(1.3981999507E-3f);
        y = y * r + Vector256.Create(8.3334519073E-3f);
        y = y * r + Vector256.Create(4.1665795894E-2f);
        y = y * r + Vector256.Create(1.6666665459E-1f);
        y = y * r + Vector256.Create(5.0000001201E-1f);
        y = y * (r * r) + r + Vector256<float>.One;
        Vector256<float> pow2n = Vector256.ShiftLeft(Vector256.ConvertToInt32(fx) + Vector256.Create(127), 23).AsSingle();
        Vector256<float> result = y * pow2n;
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Lo)), Vector256<float>.Zero, result);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);   // NaN in, NaN out
    }

    /// <summary>e^x of one value, by the same arithmetic as the vector form.</summary>
    public static float Exp(float x) => Exp(Vector256.Create(x)).ToScalar();

    /// <summary>x ← softmax(x): max, e^(x − max) and its sum in one pass, then the scaling. A row of −∞ becomes zeros.</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.Length == 0) return;
        float max = Max(x);
        if (float.IsNegativeInfinity(max))
        {
            x.Clear();
            return;
        }
        float sum = ExpShifted(x, max);
        Scale(x, 1f / sum);
    }

    /// <summary>x ← softpick(x) = ReLU(e^(x−m) − e^(−m)) / (Σ|e^(x−m) − e^(−m)| + 1e-8), m the row maximum (Zuhri et al.
    /// 2025's stable form; −∞ entries contribute nothing and get 0).</summary>
    public static void Softpick(Span<float> x)
    {
        if (x.Length == 0) return;
        float max = Max(x);
        if (float.IsNegativeInfinity(max))
        {
            x.Clear();
            return;
        }
        float shift = Exp(-max), sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (float.IsNegativeInfinity(x[i])) { x[i] = 0; continue; }   // a masked key: no weight, not in the sum
            float e = Exp(x[i] - max) - shift;
            sum += MathF.Abs(e);
            x[i] = e;
        }
        float inv = 1f / (sum + 1e-8f);
        for (int i = 0; i < x.Length; i++) x[i] = x[i] > 0 ? x[i] * inv : 0;
    }

    /// <summary>The largest element (NaN if any is NaN).</summary>
    public static float Max(ReadOnlySpan<float> x)
    {
        int i = 0;
        Vector256<float> m = Vector256.Create(float.NegativeInfinity);
        bool nan = false;
        ref float r0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        for (; i <= x.Length - 8; i += 8)
        {
            Vector256<float> v = Vector256.LoadUnsafe(ref r0, (nuint)i);
            nan |= !Vector256.EqualsAll(v, v);
            m = Vector256.Max(m, v);
        }
        float max = float.NegativeInfinity;
        for (int k = 0; k < 8; k++) max = MathF.Max(max, m[k]);
        for (; i < x.Length; i++)
        {
            nan |= float.IsNaN(x[i]);
            max = MathF.Max(max, x[i]);
        }
        return nan ? float.NaN : max;
    }

    /// <summary>x ← e^(x − shift); returns Σ of the results (in eight lanes, then across them).</summary>
    public static float ExpShifted(Span<float> x, float shift)
    {
        int i = 0;
        Vector256<float> s = Vector256.Create(shift), acc = Vector256<float>.Zero;
        ref float r0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        for (; i <= x.Length - 8; i += 8)
        {
            Vector256<float> e = Exp(Vector256.LoadUnsafe(ref r0, (nuint)i) - s);
            e.StoreUnsafe(ref r0, (nuint)i);
            acc += e;
        }
        if (i < x.Length)
        {
            Span<float> pad = stackalloc float[8];
            pad.Fill(float.NegativeInfinity);
            x[i..].CopyTo(pad);
            Vector256<float> e = Exp(Vector256.Create((ReadOnlySpan<float>)pad) - s);
            e.CopyTo(pad);
            pad[..(x.Length - i)].CopyTo(x[i..]);
            acc += e;   // the padding's e^(−∞) is 0
        }
        return Vector256.Sum(acc);
    }

    /// <summary>x ← x · factor.</summary>
    public static void Scale(Span<float> x, float factor)
    {
        int i = 0;
        Vector256<float> f = Vector256.Create(factor);
        ref float r0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        for (; i <= x.Length - 8; i += 8) (Vector256.LoadUnsafe(ref r0, (nuint)i) * f).StoreUnsafe(ref r0, (nuint)i);
        for (; i < x.Length; i++) x[i] *= factor;
    }

    /// <summary>gate ← silu(gate) ⊙ up = gate / (1 + e^−gate) ⊙ up.</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        if (up.Length < gate.Length) throw new ArgumentException("up is shorter than gate", nameof(up));
        int i = 0;
        ref float g0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(gate);
        ref float u0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(up);
        for (; i <= gate.Length - 8; i += 8)
        {
            Vector256<float> g = Vector256.LoadUnsafe(ref g0, (nuint)i);
            (g / (Vector256<float>.One + Exp(-g)) * Vector256.LoadUnsafe(ref u0, (nuint)i)).StoreUnsafe(ref g0, (nuint)i);
        }
        for (; i < gate.Length; i++) gate[i] = gate[i] / (1f + Exp(-gate[i])) * up[i];
    }
}

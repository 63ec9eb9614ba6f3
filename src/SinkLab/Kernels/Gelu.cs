namespace SinkLab.Kernels;

/// <summary>
/// GELU as ggml's CPU backend computes it: the tanh approximation 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))),
/// evaluated through a table over every fp16 value. x is rounded to fp16, the result is the table entry (itself rounded
/// to fp16); x ≤ −10 gives 0 and x ≥ 10 gives x. llama.cpp's GELU models (GPT-2, GPT-NeoX, MPT, StarCoder 2, Gemma's
/// GeGLU) are matched to ~1e-4 only with the same rounding.
/// </summary>
internal static class Gelu
{
    private const float Coefficient = 0.044715f;
    private const float Sqrt2OverPi = 0.79788456080286535587989211986876f;

    private static readonly Lazy<Half[]> LazyTable = new(Build);

    /// <summary>ggml's f32 formula, exactly as written there (before the fp16 rounding).</summary>
    public static float Formula(float x) => 0.5f * x * (1.0f + MathF.Tanh(Sqrt2OverPi * x * (1.0f + Coefficient * x * x)));

    private static Half[] Build()
    {
        var table = new Half[1 << 16];
        for (int i = 0; i < table.Length; i++)
            table[i] = (Half)Formula(Fp16.ToFloat((ushort)i));
        return table;
    }

    /// <summary>GELU of one value, through the table.</summary>
    public static float Of(float x, Half[] table)
    {
        if (x <= -10f) return 0f;
        if (x >= 10f) return x;
        return Fp16.ToFloat(table[BitConverter.HalfToUInt16Bits((Half)x)]);
    }

    /// <summary>x ← gelu(x) element-wise: through the table, or (<paramref name="exact"/>) by the formula.</summary>
    public static void Apply(Span<float> x, bool exact = false)
    {
        if (exact)
        {
            for (int i = 0; i < x.Length; i++) x[i] = Formula(x[i]);
            return;
        }
        Half[] table = LazyTable.Value;
        for (int i = 0; i < x.Length; i++) x[i] = Of(x[i], table);
    }
}

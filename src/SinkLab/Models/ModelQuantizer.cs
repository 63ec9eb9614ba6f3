using System.Globalization;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Models;

/// <summary>A quantization recipe: a default matrix type plus llama.cpp's per-tensor exceptions.</summary>
/// <param name="Name">Name as llama-quantize spells it (Q4_K_M, Q8_0, …).</param>
/// <param name="Default">Type of an ordinary matrix.</param>
/// <param name="FileType">Value of <c>general.file_type</c> (llama.cpp's <c>llama_ftype</c>).</param>
public sealed record QuantRecipe(string Name, GgmlType Default, uint FileType)
{
    /// <summary>Recipes <see cref="ModelQuantizer"/> can write.</summary>
    public static readonly IReadOnlyList<QuantRecipe> All =
    [
        new("F32", GgmlType.F32, 0), new("F16", GgmlType.F16, 1), new("BF16", GgmlType.BF16, 32),
        new("Q8_0", GgmlType.Q8_0, 7), new("Q4_0", GgmlType.Q4_0, 2), new("Q4_1", GgmlType.Q4_1, 3),
        new("Q5_0", GgmlType.Q5_0, 8), new("Q5_1", GgmlType.Q5_1, 9),
        new("Q2_K", GgmlType.Q2_K, 10), new("Q2_K_S", GgmlType.Q2_K, 21),
        new("Q3_K_S", GgmlType.Q3_K, 11), new("Q3_K_M", GgmlType.Q3_K, 12), new("Q3_K_L", GgmlType.Q3_K, 13),
        new("Q4_K_S", GgmlType.Q4_K, 14), new("Q4_K_M", GgmlType.Q4_K, 15),
        new("Q5_K_S", GgmlType.Q5_K, 16), new("Q5_K_M", GgmlType.Q5_K, 17), new("Q6_K", GgmlType.Q6_K, 18),
        new("IQ4_NL", GgmlType.IQ4_NL, 25), new("IQ4_XS", GgmlType.IQ4_XS, 30),
    ];

    /// <summary>The recipe called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static QuantRecipe Parse(string name) =>
        All.FirstOrDefault(r => r.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown quantization type '{name}' (known: {string.Join(", ", All.Select(r => r.Name))})", nameof(name));
}

/// <summary>What happened to one tensor.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="From">Type in the input file.</param>
/// <param name="To">Type written.</param>
/// <param name="Fallback">Set when the recipe's type did not fit the row length and a 32-element type replaced it.</param>
public sealed record QuantizedTensor(string Name, GgmlType From, GgmlType To, string? Fallback);

/// <summary>
/// Re-encodes a GGUF model with a <see cref="QuantRecipe"/>, choosing each tensor's type as llama.cpp's
/// <c>llama_tensor_get_type</c> does (its rules go by tensor category and the order tensors come in, so they apply
/// to every architecture), and encoding each block as <c>llama-quantize</c> does (byte-identical without an
/// importance matrix, tested against llama.cpp's own files):
/// <list type="bullet">
/// <item>1-D tensors, norms and the learned position table stay as they are; only 2-D <c>*.weight</c> matrices are
/// quantized.</item>
/// <item><c>output.weight</c> (or a tied <c>token_embd.weight</c>) becomes Q6_K, or Q8_0 when its rows are not whole
/// blocks of the recipe's type or the recipe is Q8_0 / a float type (which keeps its own type).</item>
/// <item><c>attn_v</c> (and fused <c>attn_qkv</c>, which llama.cpp now treats as attn_v): Q2_K → Q3_K (Q4_K from 4
/// query heads per KV head), Q3_K_M → Q5_K for the first two then Q4_K, Q3_K_L → Q5_K, IQ4_NL/IQ4_XS → Q5_K from 4
/// query heads per KV head, Q4_K_M/Q5_K_M → Q6_K in the layers <c>use_more_bits</c> picks, Q4_K_S → Q5_K for the
/// first four.</item>
/// <item><c>ffn_down</c>: Q2_K → Q3_K, Q2_K_S → Q4_K in the first eighth, Q3_K_M → Q5_K in the first sixteenth then
/// Q4_K, Q3_K_L → Q5_K, Q4_K_M/Q5_K_M → Q6_K where <c>use_more_bits</c>, IQ4_NL/IQ4_XS without importance → Q5_K in
/// the first eighth, Q4_K_S → Q5_K in the first eighth; with an importance matrix Q4_0/Q5_0 → Q4_1/Q5_1 there.</item>
/// <item><c>attn_output</c>: Q2_K → Q3_K, Q3_K_M → Q4_K, Q3_K_L → Q5_K.</item>
/// <item>When a row length is not a multiple of the chosen type's block, llama.cpp's fallbacks apply: Q2_K/Q3_K →
/// Q4_0, IQ4_XS → IQ4_NL, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and F16 when even 32 does not divide the row.</item>
/// </list>
/// Not modelled (SinkLab runs none of these): Falcon's and mixture-of-experts models' exceptions, the 70B attn_v rule.
/// Weights are decoded to float first, so any readable type can be the input; re-quantizing an already quantized
/// file must be asked for, as with llama-quantize.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>The type <paramref name="recipe"/> gives each tensor of <paramref name="source"/>, in file order.</summary>
    public static IReadOnlyList<QuantizedTensor> Plan(GgufFile source, QuantRecipe recipe, bool importance = false)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Plan(source.Tensors, recipe, source.FilePath, QueryHeadsPerKvHead(source), importance);
    }

    /// <summary>The type <paramref name="recipe"/> gives each of <paramref name="tensors"/> (their names, shapes and
    /// order decide; <paramref name="queryHeadsPerKvHead"/> is the model's grouped-query ratio; <paramref name="file"/>
    /// names them in errors).</summary>
    public static IReadOnlyList<QuantizedTensor> Plan(IReadOnlyList<GgufTensorInfo> tensors, QuantRecipe recipe, string file,
        int queryHeadsPerKvHead = 1, bool importance = false)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(recipe);
        var state = new PlanState
        {
            File = file, Recipe = recipe, Gqa = queryHeadsPerKvHead, Importance = importance,
            Tied = !tensors.Any(t => t.Name == "output.weight"),
            AttnV = tensors.Count(t => IsMatrix(t) && IsAttnV(t.Name)),
            FfnDown = tensors.Count(t => IsMatrix(t) && t.Name.Contains("ffn_down", StringComparison.Ordinal)),
        };
        var plan = new List<QuantizedTensor>(tensors.Count);
        foreach (GgufTensorInfo t in tensors)
        {
            if (!IsMatrix(t)) { plan.Add(new(t.Name, t.Type, t.Type, null)); continue; }
            GgmlType type = Choose(t, state);
            string? fallback = null;
            if (GgmlTypeInfo.TryGetBlock(type, out int block, out _) && t.RowLength % block != 0)
            {
                GgmlType wanted = type;
                type = type switch
                {
                    GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.Q4_0,
                    GgmlType.IQ4_XS => GgmlType.IQ4_NL,
                    GgmlType.Q4_K => GgmlType.Q5_0,
                    GgmlType.Q5_K => GgmlType.Q5_1,
                    GgmlType.Q6_K => GgmlType.Q8_0,
                    _ => type,
                };
                if (t.RowLength % 32 != 0) type = GgmlType.F16;
                fallback = $"{t.RowLength} columns are not whole {wanted} blocks of {block}; {type} instead";
            }
            plan.Add(new(t.Name, t.Type, type, fallback));
        }
        return plan;
    }

    /// <summary>llama.cpp's <c>n_gqa()</c>: query heads per KV head (1 when the file does not say).</summary>
    private static int QueryHeadsPerKvHead(GgufFile f)
    {
        string? arch = f.GetStringOrNull(GgufKeys.Architecture);
        if (arch == null) return 1;
        int heads = f.GetInt(GgufKeys.Arch(arch, GgufKeys.HeadCount), 0, 0, int.MaxValue);
        int kv = f.GetInt(GgufKeys.Arch(arch, GgufKeys.HeadCountKv), heads, 0, int.MaxValue);
        return heads > 0 && kv > 0 ? heads / kv : 1;
    }

    private sealed class PlanState
    {
        public required string File;
        public required QuantRecipe Recipe;
        public int Gqa, AttnV, FfnDown, IAttnV, IFfnDown;
        public bool Tied, Importance;
    }

    private static bool IsAttnV(string name) => name.Contains("attn_v.weight", StringComparison.Ordinal)
        || name.Contains("attn_qkv.weight", StringComparison.Ordinal) || name.Contains("attn_kv_b.weight", StringComparison.Ordinal);

    /// <summary>Writes <paramref name="source"/> quantized by <paramref name="recipe"/> to <paramref name="path"/>
    /// (atomically); returns the plan that was applied.</summary>
    /// <exception cref="ArgumentException">The input is already quantized and <paramref name="allowRequantize"/> is false.</exception>
    /// <exception cref="ModelNotSupportedException">A tensor's type cannot be decoded.</exception>
    /// <exception cref="ArgumentException">An importance entry whose length is not the tensor's row length.</exception>
    public static IReadOnlyList<QuantizedTensor> Quantize(GgufFile source, QuantRecipe recipe, string path, bool allowRequantize = false,
        ImportanceMatrix? importance = null)
    {
        IReadOnlyList<QuantizedTensor> plan = Plan(source, recipe, importance != null);
        foreach (QuantizedTensor q in plan)
        {
            if (q.From == q.To) continue;
            if (!Quantizer.CanDecode(q.From))
                throw new ModelNotSupportedException(q.From.ToString(), $"{source.FilePath}: tensor '{q.Name}' has type {q.From}, which SinkLab cannot decode");
            if (q.From is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) && !allowRequantize)
                throw new ArgumentException($"tensor '{q.Name}' is already quantized ({q.From}); re-quantizing loses precision twice (allow it explicitly)", nameof(allowRequantize));
        }
        var w = new GgufWriter { Version = source.Version };
        foreach (var (k, v) in source.Metadata)
            if (k is not (GgufKeys.FileType or GgufKeys.QuantizationVersion)) w.Add(k, v);
        w.Add(GgufKeys.FileType, GgufValue.Of(recipe.FileType));
        w.Add(GgufKeys.QuantizationVersion, GgufValue.Of(2u));
        for (int i = 0; i < plan.Count; i++)
        {
            GgufTensorInfo info = source.Tensors[i];
            QuantizedTensor q = plan[i];
            if (q.From == q.To) w.AddTensor(info.Name, info.Type, info.Dimensions, () => source.GetTensorData(info));
            else
            {
                float[]? imp = importance?.For(info.Name);
                if (imp != null && imp.Length != info.RowLength)
                    throw new ArgumentException($"{importance!.Path}: the importance of '{info.Name}' has {imp.Length} values, the tensor's rows {info.RowLength}", nameof(importance));
                w.AddTensor(info.Name, q.To, info.Dimensions, () => Reencode(source, info, q.To, imp));
            }
        }
        w.Write(path);
        return plan;
    }

    private static byte[] Reencode(GgufFile source, GgufTensorInfo info, GgmlType to, float[]? importance)
    {
        long rows = info.RowCount;
        int cols = checked((int)info.RowLength);
        int inRow = (int)GgmlTypeInfo.ByteSize(info.Type, cols), outRow = (int)GgmlTypeInfo.ByteSize(to, cols);
        var result = new byte[rows * outRow];
        ReadOnlySpan<byte> data = source.GetTensorData(info);
        var floats = new float[cols];
        for (long r = 0; r < rows; r++)
        {
            Quantizer.Dequantize(info.Type, data.Slice((int)(r * inRow), inRow), floats);
            if (importance != null) ImportanceEncoders.Quantize(to, floats, importance, result.AsSpan((int)(r * outRow), outRow));
            else Quantizer.Quantize(to, floats, result.AsSpan((int)(r * outRow), outRow));
        }
        return result;
    }

    /// <summary>2-D weights other than norms and the learned position table (llama.cpp keeps position_embd as it is).</summary>
    private static bool IsMatrix(GgufTensorInfo t) =>
        t.Dimensions.Length == 2 && t.Name.EndsWith("weight", StringComparison.Ordinal) && !t.Name.Contains("norm", StringComparison.Ordinal)
        && t.Name != GgufKeys.PositionEmbedding;

    /// <summary>llama.cpp's <c>use_more_bits</c>: the first and last eighth, and every third layer in between.</summary>
    public static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    private static GgmlType Choose(GgufTensorInfo t, PlanState q)
    {
        GgmlType type = q.Recipe.Default;
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return type;
        string name = t.Name, r = q.Recipe.Name;
        if (name == "output.weight" || (q.Tied && name == "token_embd.weight"))
        {
            GgmlTypeInfo.TryGetBlock(type, out int block, out _);
            return t.RowLength % block != 0 ? GgmlType.Q8_0 : type == GgmlType.Q8_0 ? type : GgmlType.Q6_K;
        }
        if (name == "token_embd.weight") return type;
        if (IsAttnV(name))
        {
            int i = q.IAttnV++;
            return r switch
            {
                "Q2_K" => q.Gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K,
                "Q2_K_S" when q.Gqa >= 4 => GgmlType.Q4_K,
                "Q3_K_M" => i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K,
                "Q3_K_L" => GgmlType.Q5_K,
                "IQ4_NL" or "IQ4_XS" when q.Gqa >= 4 => GgmlType.Q5_K,
                "Q4_K_M" or "Q5_K_M" when UseMoreBits(i, q.AttnV) => GgmlType.Q6_K,
                "Q4_K_S" when i < 4 => GgmlType.Q5_K,
                _ => type,
            };
        }
        if (name.Contains("ffn_down", StringComparison.Ordinal))
        {
            int i = q.IFfnDown++, n = q.FfnDown;
            return r switch
            {
                "Q2_K" => GgmlType.Q3_K,
                "Q2_K_S" when i < n / 8 => GgmlType.Q4_K,
                "Q3_K_M" => i < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K,
                "Q3_K_L" => GgmlType.Q5_K,
                "Q4_K_M" when UseMoreBits(i, n) => GgmlType.Q6_K,
                "IQ4_NL" or "IQ4_XS" when i < n / 8 && !q.Importance => GgmlType.Q5_K,
                "Q5_K_M" when UseMoreBits(i, n) => GgmlType.Q6_K,
                "Q4_K_S" when i < n / 8 => GgmlType.Q5_K,
                "Q4_0" when q.Importance && i < n / 8 => GgmlType.Q4_1,
                "Q5_0" when q.Importance && i < n / 8 => GgmlType.Q5_1,
                _ => type,
            };
        }
        if (name.Contains("attn_output.weight", StringComparison.Ordinal))
            return r switch { "Q2_K" => GgmlType.Q3_K, "Q3_K_M" => GgmlType.Q4_K, "Q3_K_L" => GgmlType.Q5_K, _ => type };
        return type;
    }
}

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
        new("Q4_K_S", GgmlType.Q4_K, 14), new("Q4_K_M", GgmlType.Q4_K, 15),
        new("Q5_K_S", GgmlType.Q5_K, 16), new("Q5_K_M", GgmlType.Q5_K, 17), new("Q6_K", GgmlType.Q6_K, 18),
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
/// <c>llama_tensor_get_type</c> does without an importance matrix (the rules go by tensor name, so they apply to every
/// architecture: fused <c>attn_qkv</c> gets Q5_K in Q4_K_M and Q6_K in Q5_K_M):
/// <list type="bullet">
/// <item>1-D tensors, norms and the learned position table stay as they are; only 2-D <c>*.weight</c> matrices are
/// quantized.</item>
/// <item><c>output.weight</c> (or a tied <c>token_embd.weight</c>) becomes Q6_K, or Q8_0 when its rows are not whole
/// K-quant blocks or the recipe is Q8_0 / a float type (which keeps its own type).</item>
/// <item>Q4_K_M / Q5_K_M: <c>attn_v</c> and <c>ffn_down</c> get Q6_K in the layers <c>use_more_bits</c> picks (the
/// first and last eighth and every third layer between); Q4_K_S: the first four <c>attn_v</c> and the first eighth of
/// <c>ffn_down</c> get Q5_K.</item>
/// <item>When a row length is not a multiple of the chosen type's block, llama.cpp's fallbacks apply: Q4_K → Q5_0,
/// Q5_K → Q5_1, Q6_K → Q8_0, and F16 when even 32 does not divide the row.</item>
/// </list>
/// Weights are decoded to float first, so any readable type can be the input; re-quantizing an already quantized
/// file must be asked for, as with llama-quantize.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>The type <paramref name="recipe"/> gives each tensor of <paramref name="source"/>, in file order.</summary>
    public static IReadOnlyList<QuantizedTensor> Plan(GgufFile source, QuantRecipe recipe)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Plan(source.Tensors, recipe, source.FilePath);
    }

    /// <summary>The type <paramref name="recipe"/> gives each of <paramref name="tensors"/> (their names and shapes
    /// decide; <paramref name="file"/> names them in errors).</summary>
    public static IReadOnlyList<QuantizedTensor> Plan(IReadOnlyList<GgufTensorInfo> tensors, QuantRecipe recipe, string file)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(recipe);
        bool hasOutput = tensors.Any(t => t.Name == "output.weight");
        int nAttnV = tensors.Count(t => t.Name.Contains("attn_v.weight", StringComparison.Ordinal));
        int nLayers = tensors.Count(t => t.Name.Contains("ffn_down", StringComparison.Ordinal) && t.Dimensions.Length >= 2);
        int iAttnV = 0;
        var plan = new List<QuantizedTensor>(tensors.Count);
        foreach (GgufTensorInfo t in tensors)
        {
            if (!IsMatrix(t)) { plan.Add(new(t.Name, t.Type, t.Type, null)); continue; }
            GgmlType type = Choose(file, t, recipe, hasOutput, ref iAttnV, nAttnV, nLayers);
            string? fallback = null;
            if (GgmlTypeInfo.TryGetBlock(type, out int block, out _) && t.RowLength % block != 0)
            {
                GgmlType wanted = type;
                type = type switch
                {
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

    /// <summary>Writes <paramref name="source"/> quantized by <paramref name="recipe"/> to <paramref name="path"/>
    /// (atomically); returns the plan that was applied.</summary>
    /// <exception cref="ArgumentException">The input is already quantized and <paramref name="allowRequantize"/> is false.</exception>
    /// <exception cref="ModelNotSupportedException">A tensor's type cannot be decoded.</exception>
    public static IReadOnlyList<QuantizedTensor> Quantize(GgufFile source, QuantRecipe recipe, string path, bool allowRequantize = false)
    {
        IReadOnlyList<QuantizedTensor> plan = Plan(source, recipe);
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
            else w.AddTensor(info.Name, q.To, info.Dimensions, () => Reencode(source, info, q.To));
        }
        w.Write(path);
        return plan;
    }

    private static byte[] Reencode(GgufFile source, GgufTensorInfo info, GgmlType to)
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
            Quantizer.Quantize(to, floats, result.AsSpan((int)(r * outRow), outRow));
        }
        return result;
    }

    /// <summary>2-D weights other than norms and the learned position table (llama.cpp keeps position_embd as it is).</summary>
    private static bool IsMatrix(GgufTensorInfo t) =>
        t.Dimensions.Length == 2 && t.Name.EndsWith("weight", StringComparison.Ordinal) && !t.Name.Contains("norm", StringComparison.Ordinal)
        && t.Name != GgufKeys.PositionEmbedding;

    /// <summary>llama.cpp's <c>use_more_bits</c>: the first and last eighth, and every third layer in between.</summary>
    public static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    private static GgmlType Choose(string file, GgufTensorInfo t, QuantRecipe recipe, bool hasOutput, ref int iAttnV, int nAttnV, int nLayers)
    {
        GgmlType type = recipe.Default;
        bool isFloat = type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16;
        string name = t.Name;
        if (name == "output.weight" || (!hasOutput && name == "token_embd.weight"))
        {
            if (isFloat) return type;
            GgmlTypeInfo.TryGetBlock(type, out int block, out _);
            return t.RowLength % block != 0 ? GgmlType.Q8_0 : type == GgmlType.Q8_0 ? type : GgmlType.Q6_K;
        }
        if (name.Contains("attn_v.weight", StringComparison.Ordinal))
        {
            int i = iAttnV++;
            if (recipe.Name is "Q4_K_M" or "Q5_K_M" && UseMoreBits(i, nAttnV)) return GgmlType.Q6_K;
            if (recipe.Name == "Q4_K_S" && i < 4) return GgmlType.Q5_K;
            return type;
        }
        if (name.Contains("ffn_down", StringComparison.Ordinal))
        {
            int i = LayerOf(file, t);
            if (recipe.Name is "Q4_K_M" or "Q5_K_M" && UseMoreBits(i, nLayers)) return GgmlType.Q6_K;
            if (recipe.Name == "Q4_K_S" && i < nLayers / 8) return GgmlType.Q5_K;
            return type;
        }
        if (name.Contains("attn_qkv.weight", StringComparison.Ordinal))
            return recipe.Name switch { "Q4_K_M" => GgmlType.Q5_K, "Q5_K_M" => GgmlType.Q6_K, _ => type };
        return type;
    }

    private static int LayerOf(string file, GgufTensorInfo t)
    {
        string name = t.Name;
        // "blk.N.ffn_down.weight"
        if (name.StartsWith("blk.", StringComparison.Ordinal))
        {
            int dot = name.IndexOf('.', 4);
            if (dot > 4 && int.TryParse(name.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int i)) return i;
        }
        throw new GgufFormatException(file, t.Offset, $"tensor '{name}'", "a layer tensor named blk.N.…", $"'{name}'");
    }
}

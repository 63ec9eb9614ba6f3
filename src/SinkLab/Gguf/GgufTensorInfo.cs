namespace SinkLab.Gguf;

/// <summary>
/// One tensor's descriptor in a GGUF file. <see cref="Dimensions"/> is in ggml order: element 0 is the
/// fastest-varying (row length), so a weight matrix of <c>rows × cols</c> has <c>Dimensions = [cols, rows]</c>.
/// </summary>
/// <param name="Name">Tensor name, e.g. <c>blk.0.attn_q.weight</c>.</param>
/// <param name="Type">Element type.</param>
/// <param name="Dimensions">Sizes, fastest-varying first (1 to 4 entries).</param>
/// <param name="Offset">Offset of the data from the start of the data section.</param>
/// <param name="ByteSize">Size of the data in bytes.</param>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Dimensions, long Offset, long ByteSize)
{
    /// <summary>Total number of elements.</summary>
    public long ElementCount
    {
        get { long n = 1; foreach (long d in Dimensions) n *= d; return n; }
    }

    /// <summary>Row length (Dimensions[0]), or 1 for a zero-dimensional tensor.</summary>
    public long RowLength => Dimensions.Length > 0 ? Dimensions[0] : 1;

    /// <summary>Number of rows: the product of every dimension after the first.</summary>
    public long RowCount => RowLength == 0 ? 0 : ElementCount / RowLength;

    /// <summary>Shape as text, ggml order, e.g. <c>[64, 512]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Dimensions) + "]";
}

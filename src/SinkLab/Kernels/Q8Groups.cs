using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SinkLab.Kernels;

/// <summary>
/// Q8_0 repacked at load into groups of eight rows, as <see cref="Q4KGroups"/> does for Q4_K: each 32-bit lane is one
/// row, one <c>vpdpbusd</c> multiplies four weights of each of the eight rows by four broadcast activations, and a
/// block's eight row scales are applied by one multiply-add. The row tile (<see cref="QuantTile.Symmetric{T}"/>)
/// spends a conversion, a scale product and a multiply-add per block, row and token on 32 products; here the same
/// three serve 256. Per group and block, <see cref="BlockBytes"/> bytes: d[8] as float32, then eight 32-byte vectors
/// whose lane r holds row r's elements 4j..4j+3, offset by +128 (w ^ 0x80, unsigned for <c>vpdpbusd</c>); each dot
/// starts from −128·Σx, which cancels the offset exactly. Needs AVX-VNNI: without it the offset weights (up to 255)
/// would overflow <c>vpmaddubsw</c>'s int16 pairs, and the row kernels run.
/// </summary>
internal static unsafe class Q8Groups
{
    /// <summary>Bytes per group and block (8 rows × 34 bytes in the file: 272).</summary>
    public const int BlockBytes = 288;

    /// <summary>Whether the kernels can run here.</summary>
    public static bool Supported => AvxVnni.IsSupported;

    /// <summary>Packs rows [8g, 8g + 8) of a Q8_0 matrix for every whole group g into <paramref name="dst"/>.</summary>
    public static void Pack(byte* src, int rowBytes, int groups, int blocks, byte* dst)
    {
        const int rows = Q4KGroups.Rows;
        for (int g = 0; g < groups; g++)
            for (int b = 0; b < blocks; b++, dst += BlockBytes)
                for (int r = 0; r < rows; r++)
                {
                    byte* blk = src + (long)(g * rows + r) * rowBytes + (long)b * 34;
                    ((float*)dst)[r] = Fp16.ToFloat(*(ushort*)blk);
                    for (int j = 0; j < 8; j++)
                        for (int k = 0; k < 4; k++)
                            dst[32 + j * 32 + r * 4 + k] = (byte)(blk[2 + 4 * j + k] ^ 0x80);
                }
    }

    /// <summary>Eight rows × four tokens: token k's blocks start at x + k·stride; writes result[k·8 + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile4(byte* g, ActivationBlock* x, int stride, int blocks, float* result)
    {
        ActivationBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, g += BlockBytes, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(g, BlockBytes);
            sbyte* q0 = ActivationBlock.QsOf(x), q1 = ActivationBlock.QsOf(x1), q2 = ActivationBlock.QsOf(x2), q3 = ActivationBlock.QsOf(x3);
            Vector256<int> i0 = Vector256.Create(-128 * x->Sum), i1 = Vector256.Create(-128 * x1->Sum),
                i2 = Vector256.Create(-128 * x2->Sum), i3 = Vector256.Create(-128 * x3->Sum);
            for (int j = 0; j < 8; j++)
            {
                Vector256<byte> w = Vector256.Load(g + 32 + 32 * j);
                i0 = Dot(i0, w, q0 + 4 * j);
                i1 = Dot(i1, w, q1 + 4 * j);
                i2 = Dot(i2, w, q2 + 4 * j);
                i3 = Dot(i3, w, q3 + 4 * j);
            }
            Vector256<float> d = Vector256.Load((float*)g);
            a0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i0), d * x->D, a0);
            a1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i1), d * x1->D, a1);
            a2 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i2), d * x2->D, a2);
            a3 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i3), d * x3->D, a3);
        }
        Q4KGroups.Store(result, a0, a1, a2, a3);
    }

    /// <summary>Eight rows × one token: writes result[0..7].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot1(byte* g, ActivationBlock* x, int blocks, float* result)
    {
        Vector256<float> a = default, c = default;
        for (int b = 0; b < blocks; b++, g += BlockBytes, x++)
        {
            Prefetch.Block(g, BlockBytes);
            sbyte* q = ActivationBlock.QsOf(x);
            Vector256<int> i0 = Vector256.Create(-128 * x->Sum), i1 = default;   // two chains
            for (int j = 0; j < 8; j += 2)
            {
                i0 = Dot(i0, Vector256.Load(g + 32 + 32 * j), q + 4 * j);
                i1 = Dot(i1, Vector256.Load(g + 64 + 32 * j), q + 4 * j + 4);
            }
            Vector256<float> s = Vector256.Load((float*)g) * Vector256.Create(x->D);
            if ((b & 1) == 0) a = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i0 + i1), s, a);
            else c = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i0 + i1), s, c);
        }
        (a + c).Store(result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, sbyte* q) =>
        AvxVnni.MultiplyWideningAndAdd(acc, u, Vector256.Create(*(int*)q).AsSByte());
}

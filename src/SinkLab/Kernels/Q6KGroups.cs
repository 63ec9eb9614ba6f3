using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SinkLab.Kernels;

/// <summary>
/// Q6_K repacked at load into groups of eight rows, as <see cref="Q4KGroups"/> does for Q4_K (lanes are rows; one
/// <c>vpdpbusd</c> serves eight rows; one multiply-add applies a sub-block's eight scales). A Q4_K_M file keeps
/// attn_v, half the ffn_down tensors and the output matrix in Q6_K. The quants stay 6-bit (decode reads every weight
/// each token): per group and super-block, <see cref="BlockBytes"/> bytes: d[8] as float32, the int8 scales as pairs
/// sc[sub-block pair][row][2], then for each 16-element sub-block two 32-byte vectors of low nibbles (lane r: row r's
/// elements 8j..8j+3 low, 8j+4..8j+7 high) and one of the high two bits (lane r, byte k: elements k, 4+k, 8+k, 12+k
/// in bits 0-1, 2-3, 4-5, 6-7). The quants are taken unsigned (0-63) and the −32 offset is applied once per
/// super-block through Σx of each sub-block.
/// </summary>
internal static unsafe class Q6KGroups
{
    /// <summary>Bytes per group and super-block (8 rows × 210 bytes in the file: 1,680).</summary>
    public const int BlockBytes = 1696;
    private const int DAt = 0, ScAt = 32, QsAt = 160, SubBytes = 96;

    /// <summary>Packs rows [8g, 8g + 8) of a Q6_K matrix for every whole group g into <paramref name="dst"/>.</summary>
    public static void Pack(byte* src, int rowBytes, int groups, int superBlocks, byte* dst)
    {
        const int rows = Q4KGroups.Rows;
        for (int g = 0; g < groups; g++)
            for (int sb = 0; sb < superBlocks; sb++, dst += BlockBytes)
            {
                new Span<byte>(dst, BlockBytes).Clear();
                for (int r = 0; r < rows; r++)
                {
                    byte* b = src + (long)(g * rows + r) * rowBytes + (long)sb * KQuants.Q6KBytes;
                    ((float*)(dst + DAt))[r] = Fp16.ToFloat(*(ushort*)(b + 208));
                    for (int s = 0; s < 16; s++) dst[ScAt + s / 2 * 16 + r * 2 + s % 2] = b[192 + s];
                    for (int s = 0; s < 16; s++)
                    {
                        byte* sub = dst + QsAt + s * SubBytes;
                        for (int k = 0; k < 4; k++)
                        {
                            int e = 16 * s;
                            sub[r * 4 + k] = (byte)(Quant(b, e + k) & 0xF | (Quant(b, e + 4 + k) & 0xF) << 4);
                            sub[32 + r * 4 + k] = (byte)(Quant(b, e + 8 + k) & 0xF | (Quant(b, e + 12 + k) & 0xF) << 4);
                            sub[64 + r * 4 + k] = (byte)(Quant(b, e + k) >> 4 | (Quant(b, e + 4 + k) >> 4) << 2
                                | (Quant(b, e + 8 + k) >> 4) << 4 | (Quant(b, e + 12 + k) >> 4) << 6);
                        }
                    }
                }
            }
    }

    /// <summary>The unsigned quant (0-63) of element e of a Q6_K block (ggml's <c>dequantize_row_q6_K</c> order).</summary>
    private static int Quant(byte* b, int e)
    {
        int n = e / 128, l = e % 32, quarter = e % 128 / 32;
        byte* ql = b + 64 * n, qh = b + 128 + 32 * n;
        int low = quarter switch { 0 => ql[l] & 0xF, 1 => ql[l + 32] & 0xF, 2 => ql[l] >> 4, _ => ql[l + 32] >> 4 };
        return low | ((qh[l] >> (2 * quarter)) & 3) << 4;
    }

    /// <summary>Eight rows × four tokens: token k's super-blocks start at x + k·stride; writes result[k·8 + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile4(byte* g, ActivationSuperBlock* x, int stride, int superBlocks, float* result)
    {
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> r0 = default, r1 = default, r2 = default, r3 = default;
        for (int sb = 0; sb < superBlocks; sb++, g += BlockBytes, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(g, 160);
            Vector256<float> d = Vector256.Load((float*)(g + DAt));
            sbyte* q0 = ActivationSuperBlock.QsOf(x), q1 = ActivationSuperBlock.QsOf(x1), q2 = ActivationSuperBlock.QsOf(x2), q3 = ActivationSuperBlock.QsOf(x3);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int p = 0; p < 8; p++)
            {
                Scales(g, p, d, out Vector256<float> dsc0, out Vector256<float> dsc1);
                for (int h = 0; h < 2; h++)
                {
                    byte* w = g + QsAt + (2 * p + h) * SubBytes;
                    Prefetch.Block(w, 96);
                    Unpack(w, out var v0, out var v1, out var v2, out var v3);
                    int o = 16 * (2 * p + h);
                    Vector256<float> dsc = h == 0 ? dsc0 : dsc1;
                    a0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot16(v0, v1, v2, v3, q0 + o)), dsc, a0);
                    a1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot16(v0, v1, v2, v3, q1 + o)), dsc, a1);
                    a2 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot16(v0, v1, v2, v3, q2 + o)), dsc, a2);
                    a3 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot16(v0, v1, v2, v3, q3 + o)), dsc, a3);
                }
            }
            r0 = Finish(a0, Offset(g, x), d, x->D, r0);
            r1 = Finish(a1, Offset(g, x1), d, x1->D, r1);
            r2 = Finish(a2, Offset(g, x2), d, x2->D, r2);
            r3 = Finish(a3, Offset(g, x3), d, x3->D, r3);
        }
        Q4KGroups.Store(result, r0, r1, r2, r3);
    }

    /// <summary>Eight rows × one token: writes result[0..7].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot1(byte* g, ActivationSuperBlock* x, int superBlocks, float* result)
    {
        Vector256<float> r = default;
        for (int sb = 0; sb < superBlocks; sb++, g += BlockBytes, x++)
        {
            Prefetch.Block(g, 160);
            Vector256<float> d = Vector256.Load((float*)(g + DAt));
            sbyte* q = ActivationSuperBlock.QsOf(x);
            Vector256<float> a = default, b = default;
            for (int p = 0; p < 8; p++)
            {
                Scales(g, p, d, out Vector256<float> dsc0, out Vector256<float> dsc1);
                byte* w = g + QsAt + 2 * p * SubBytes;
                Prefetch.Block(w, 192);
                Unpack(w, out var v0, out var v1, out var v2, out var v3);
                a = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot16(v0, v1, v2, v3, q + 32 * p)), dsc0, a);
                Unpack(w + SubBytes, out v0, out v1, out v2, out v3);
                b = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot16(v0, v1, v2, v3, q + 32 * p + 16)), dsc1, b);
            }
            r = Finish(a + b, Offset(g, x), d, x->D, r);
        }
        r.Store(result);
    }

    /// <summary>d · sc of sub-blocks 2p and 2p + 1 for the eight rows, from the int8 pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scales(byte* g, int p, Vector256<float> d, out Vector256<float> dsc0, out Vector256<float> dsc1)
    {
        Vector256<int> pair = Avx2.ConvertToVector256Int16((sbyte*)(g + ScAt + 16 * p)).AsInt32();   // lane r: sc[2p] | sc[2p+1] << 16
        dsc0 = Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(pair, 16), 16)) * d;
        dsc1 = Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(pair, 16)) * d;
    }

    /// <summary>The four vectors of one 16-element sub-block: lane r holds row r's elements 4i..4i+3 of vector i (0-63).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack(byte* w, out Vector256<byte> v0, out Vector256<byte> v1, out Vector256<byte> v2, out Vector256<byte> v3)
    {
        Vector256<byte> low = Vector256.Create((byte)0x0F), top = Vector256.Create((byte)0x30);
        Vector256<ushort> n0 = Vector256.Load((ushort*)w), n1 = Vector256.Load((ushort*)(w + 32)), hb = Vector256.Load((ushort*)(w + 64));
        v0 = (n0.AsByte() & low) | (Vector256.ShiftLeft(hb, 4).AsByte() & top);
        v1 = (Vector256.ShiftRightLogical(n0, 4).AsByte() & low) | (Vector256.ShiftLeft(hb, 2).AsByte() & top);
        v2 = (n1.AsByte() & low) | (hb.AsByte() & top);
        v3 = (Vector256.ShiftRightLogical(n1, 4).AsByte() & low) | (Vector256.ShiftRightLogical(hb, 2).AsByte() & top);
    }

    /// <summary>Σ q·x over a 16-element sub-block for the eight rows (q unsigned, 0-63), in two chains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot16(Vector256<byte> v0, Vector256<byte> v1, Vector256<byte> v2, Vector256<byte> v3, sbyte* q) =>
        Q4KGroups.Dot(Q4KGroups.Dot(default, v0, q), v1, q + 4) + Q4KGroups.Dot(Q4KGroups.Dot(default, v2, q + 8), v3, q + 12);

    /// <summary>Σ_s sc[s][row] · Σx of sub-block s (16 elements) for the eight rows: int16 pairs by <c>vpmaddwd</c>
    /// (|sc| ≤ 128, |Σx| ≤ 16·127; a pair's sum ≤ 2·128·2032 fits int32, and so does the sum of eight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(byte* g, ActivationSuperBlock* x)
    {
        int* s16 = (int*)&x->Sums16;
        // dwords: (Σ0,Σ1) (Σ2,Σ3) (Σ8,Σ9) (Σ10,Σ11) | (Σ4,Σ5) (Σ6,Σ7) (Σ12,Σ13) (Σ14,Σ15)
        Vector256<int> pairs = Avx2.PackSignedSaturate(Vector256.Load(s16), Vector256.Load(s16 + 8)).AsInt32();
        Vector256<int> acc = default;
        ReadOnlySpan<int> at = [0, 1, 4, 5, 2, 3, 6, 7];   // pair p's dword
        for (int p = 0; p < 8; p++)
            acc += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16((sbyte*)(g + ScAt + 16 * p)),
                Avx2.PermuteVar8x32(pairs, Vector256.Create(at[p])).AsInt16());
        return acc;
    }

    /// <summary>result + x.D · (Σ_s d·sc·Σq·x − 32·d·Σ_s sc·Σx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(Vector256<float> scaled, Vector256<int> offset, Vector256<float> d, float xd, Vector256<float> result) =>
        Vector256.MultiplyAddEstimate(Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(offset), d * Vector256.Create(-32f), scaled), Vector256.Create(xd), result);
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static SinkLab.Kernels.SuperBlockKernels;

namespace SinkLab.Kernels;

// The unpackers of SuperBlockKernels, one per type; layouts and formulas are those of LowBitQuants and IQuants (the
// scalar references), rewritten as signed bytes × integer scale × one float factor.

/// <summary>Q2_K: W = q (0-3), S = 4-bit scale per 16, D = d; mins per 16 with DMin = dmin.</summary>
internal unsafe struct Q2KUnpacker : ISuperBlock
{
    public static int Size => 84;
    public static bool HasMins => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        Vector256<byte> three = Vector256.Create((byte)3);
        for (int h = 0; h < 2; h++)
        {
            Vector256<byte> p = Vector256.Load(b + 16 + 32 * h);
            for (int j = 0; j < 4; j++)
            {
                int k = 4 * h + j;
                u.W[k] = (Vector256.ShiftRightLogical(p, 2 * j) & three).AsSByte();
                u.S[k] = Pair(b[2 * k] & 0xF, b[2 * k + 1] & 0xF);
            }
        }
        Vector128<byte> sc = Vector128.Load(b);
        Vector128<byte> m = Vector128.ShiftRightLogical(sc, 4);
        (Vector128<ushort> m0, Vector128<ushort> m1) = Vector128.Widen(m);
        u.Mins0 = Vector256.Create(Vector128.WidenLower(m0), Vector128.WidenUpper(m0)).AsInt32();
        u.Mins1 = Vector256.Create(Vector128.WidenLower(m1), Vector128.WidenUpper(m1)).AsInt32();
        u.D = Fp16.ToFloat(*(Half*)(b + 80));
        u.DMin = Fp16.ToFloat(*(Half*)(b + 82));
    }
}

/// <summary>Q3_K: W = q − 4·[high bit clear] (−4…3), S = 6-bit scale − 32 per 16, D = d.</summary>
internal unsafe struct Q3KUnpacker : ISuperBlock
{
    public static int Size => 110;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        int* sc = stackalloc int[16];
        LowBitQuants.Q3Scales(new ReadOnlySpan<byte>(b + 96, 12), new Span<int>(sc, 16));
        Vector256<byte> hm = Vector256.Load(b), three = Vector256.Create((byte)3), one = Vector256.Create((byte)1);
        Vector256<sbyte> four = Vector256.Create((sbyte)4);
        for (int h = 0; h < 2; h++)
        {
            Vector256<byte> p = Vector256.Load(b + 32 + 32 * h);
            for (int j = 0; j < 4; j++)
            {
                int k = 4 * h + j;
                Vector256<byte> high = Vector256.ShiftLeft(Vector256.ShiftRightLogical(hm, k) & one, 2);
                u.W[k] = ((Vector256.ShiftRightLogical(p, 2 * j) & three) | high).AsSByte() - four;
                u.S[k] = Pair(sc[2 * k] - 32, sc[2 * k + 1] - 32);
            }
        }
        u.D = Fp16.ToFloat(*(Half*)(b + 108));
    }
}

/// <summary>IQ4_XS: W = non-linear value, S = 6-bit scale − 32 per 32, D = d.</summary>
internal unsafe struct Iq4XsUnpacker : ISuperBlock
{
    public static int Size => 136;
    public static bool HasMins => false;
    private static readonly Vector128<sbyte> Values = Vector128.Create(IQuantTables.Iq4Values);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        int scalesH = *(ushort*)(b + 2);
        for (int k = 0; k < 8; k++)
        {
            u.W[k] = Lookup16(Int8Dot.UnpackNibbles(ref b[8 + 16 * k]), Values);
            int ls = ((b[4 + k / 2] >> (4 * (k % 2))) & 0xF) | (((scalesH >> (2 * k)) & 3) << 4);
            u.S[k] = Vector256.Create(ls - 32);
        }
        u.D = Fp16.ToFloat(*(Half*)b);
    }
}

/// <summary>TQ1_0: W = trit − 1, S = 1, D = d (base-3 digits decoded byte by byte).</summary>
internal unsafe struct Tq1Unpacker : ISuperBlock
{
    public static int Size => 54;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        LowBitQuants.TritsTq1(new ReadOnlySpan<byte>(b, 54), UnpackedSuperBlock.Bytes(ref u));
        for (int k = 0; k < 8; k++) u.S[k] = Vector256.Create(1);
        u.D = Fp16.ToFloat(*(Half*)(b + 52));
    }
}

/// <summary>TQ2_0: W = q − 1, S = 1, D = d.</summary>
internal unsafe struct Tq2Unpacker : ISuperBlock
{
    public static int Size => 66;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        Vector256<byte> three = Vector256.Create((byte)3);
        Vector256<sbyte> one = Vector256.Create((sbyte)1);
        for (int h = 0; h < 2; h++)
        {
            Vector256<byte> p = Vector256.Load(b + 32 * h);
            for (int l = 0; l < 4; l++)
            {
                u.W[4 * h + l] = (Vector256.ShiftRightLogical(p, 2 * l) & three).AsSByte() - one;
                u.S[4 * h + l] = Vector256.Create(1);
            }
        }
        u.D = Fp16.ToFloat(*(Half*)(b + 64));
    }
}

/// <summary>IQ2_XXS: W = grid·sign, S = 2s + 1 per 32, D = d/8.</summary>
internal unsafe struct Iq2XxsUnpacker : ISuperBlock
{
    public static int Size => 66;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        ulong[] grid = IQuantTables.Iq2Xxs, masks = SignMasks;
        byte[] ks = IQuantTables.KSigns;
        for (int k = 0; k < 8; k++)
        {
            byte* g = b + 2 + 8 * k;
            uint aux = *(uint*)(g + 4);
            u.W[k] = Signed(grid[g[0]], grid[g[1]], grid[g[2]], grid[g[3]],
                masks[ks[aux & 127]], masks[ks[(aux >> 7) & 127]], masks[ks[(aux >> 14) & 127]], masks[ks[(aux >> 21) & 127]]);
            u.S[k] = Vector256.Create((int)(2 * (aux >> 28) + 1));
        }
        u.D = Fp16.ToFloat(*(Half*)b) * 0.125f;
    }
}

/// <summary>IQ2_XS: W = grid·sign (9-bit index, 7-bit signs per 8), S = 2s + 1 per 16, D = d/8.</summary>
internal unsafe struct Iq2XsUnpacker : ISuperBlock
{
    public static int Size => 74;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        ulong[] grid = IQuantTables.Iq2Xs, masks = SignMasks;
        byte[] ks = IQuantTables.KSigns;
        for (int k = 0; k < 8; k++)
        {
            ushort* q = (ushort*)(b + 2) + 4 * k;
            u.W[k] = Signed(grid[q[0] & 511], grid[q[1] & 511], grid[q[2] & 511], grid[q[3] & 511],
                masks[ks[q[0] >> 9]], masks[ks[q[1] >> 9]], masks[ks[q[2] >> 9]], masks[ks[q[3] >> 9]]);
            byte s = b[66 + k];
            u.S[k] = Pair(2 * (s & 0xF) + 1, 2 * (s >> 4) + 1);
        }
        u.D = Fp16.ToFloat(*(Half*)b) * 0.125f;
    }
}

/// <summary>IQ2_S: W = grid·sign (10-bit index, sign bytes), S = 2s + 1 per 16, D = d/8.</summary>
internal unsafe struct Iq2SUnpacker : ISuperBlock
{
    public static int Size => 82;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        ulong[] grid = IQuantTables.Iq2S, masks = SignMasks;
        byte* qs = b + 2, signs = b + 34, qh = b + 66, scales = b + 74;
        for (int k = 0; k < 8; k++)
        {
            int h = qh[k];
            byte* q = qs + 4 * k, s = signs + 4 * k;
            u.W[k] = Signed(grid[q[0] | ((h << 8) & 0x300)], grid[q[1] | ((h << 6) & 0x300)], grid[q[2] | ((h << 4) & 0x300)], grid[q[3] | ((h << 2) & 0x300)],
                masks[s[0]], masks[s[1]], masks[s[2]], masks[s[3]]);
            u.S[k] = Pair(2 * (scales[k] & 0xF) + 1, 2 * (scales[k] >> 4) + 1);
        }
        u.D = Fp16.ToFloat(*(Half*)b) * 0.125f;
    }
}

/// <summary>IQ3_XXS: W = grid·sign (two 4-weight points per 8), S = 2s + 1 per 32, D = d/4.</summary>
internal unsafe struct Iq3XxsUnpacker : ISuperBlock
{
    public static int Size => 98;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        uint[] grid = IQuantTables.Iq3Xxs;
        ulong[] masks = SignMasks;
        byte[] ks = IQuantTables.KSigns;
        for (int k = 0; k < 8; k++)
        {
            byte* q = b + 2 + 8 * k;
            uint aux = *(uint*)(b + 66 + 4 * k);
            u.W[k] = Signed(grid[q[0]] | (ulong)grid[q[1]] << 32, grid[q[2]] | (ulong)grid[q[3]] << 32,
                grid[q[4]] | (ulong)grid[q[5]] << 32, grid[q[6]] | (ulong)grid[q[7]] << 32,
                masks[ks[aux & 127]], masks[ks[(aux >> 7) & 127]], masks[ks[(aux >> 14) & 127]], masks[ks[(aux >> 21) & 127]]);
            u.S[k] = Vector256.Create((int)(2 * (aux >> 28) + 1));
        }
        u.D = Fp16.ToFloat(*(Half*)b) * 0.25f;
    }
}

/// <summary>IQ3_S: W = grid·sign (9-bit index, sign bytes), S = 2s + 1 per 32, D = d.</summary>
internal unsafe struct Iq3SUnpacker : ISuperBlock
{
    public static int Size => 110;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        uint[] grid = IQuantTables.Iq3S;
        ulong[] masks = SignMasks;
        byte* qs = b + 2, qh = b + 66, signs = b + 74, scales = b + 106;
        for (int k = 0; k < 8; k++)
        {
            byte* q = qs + 8 * k, s = signs + 4 * k;
            int h = qh[k];
            u.W[k] = Signed(grid[q[0] | ((h << 8) & 256)] | (ulong)grid[q[1] | ((h << 7) & 256)] << 32,
                grid[q[2] | ((h << 6) & 256)] | (ulong)grid[q[3] | ((h << 5) & 256)] << 32,
                grid[q[4] | ((h << 4) & 256)] | (ulong)grid[q[5] | ((h << 3) & 256)] << 32,
                grid[q[6] | ((h << 2) & 256)] | (ulong)grid[q[7] | ((h << 1) & 256)] << 32,
                masks[s[0]], masks[s[1]], masks[s[2]], masks[s[3]]);
            u.S[k] = Vector256.Create(2 * ((scales[k / 2] >> (4 * (k % 2))) & 0xF) + 1);
        }
        u.D = Fp16.ToFloat(*(Half*)b);
    }
}

/// <summary>IQ1_S: W = 8·grid ± 1 (the ±1/8 shift folded in), S = 2s + 1 per 32, D = d/8.</summary>
internal unsafe struct Iq1SUnpacker : ISuperBlock
{
    public static int Size => 50;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        ulong[] grid = IQuantTables.Iq1S;
        for (int k = 0; k < 8; k++)
        {
            byte* q = b + 2 + 4 * k;
            int qh = *(ushort*)(b + 34 + 2 * k);
            Vector256<sbyte> g = Vector256.Create(grid[q[0] | ((qh << 8) & 0x700)], grid[q[1] | ((qh << 5) & 0x700)],
                grid[q[2] | ((qh << 2) & 0x700)], grid[q[3] | ((qh >> 1) & 0x700)]).AsSByte();
            u.W[k] = Vector256.ShiftLeft(g, 3) + Vector256.Create((qh & 0x8000) != 0 ? (sbyte)-1 : (sbyte)1);
            u.S[k] = Vector256.Create(2 * ((qh >> 12) & 7) + 1);
        }
        u.D = Fp16.ToFloat(*(Half*)b) * 0.125f;
    }
}

/// <summary>IQ1_M: W = 8·grid ± 1 (a shift per 8), S = 2s + 1 per 16, D = d/8 (d from the scale words' top nibbles).</summary>
internal unsafe struct Iq1MUnpacker : ISuperBlock
{
    public static int Size => 56;
    public static bool HasMins => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* b, ref UnpackedSuperBlock u)
    {
        ulong[] grid = IQuantTables.Iq1S;
        byte* qs = b, qh = b + 32;
        ushort* sc = (ushort*)(b + 48);
        for (int k = 0; k < 8; k++)
        {
            byte* q = qs + 4 * k;
            int h0 = qh[2 * k], h1 = qh[2 * k + 1];
            Vector256<sbyte> g = Vector256.Create(grid[q[0] | ((h0 << 8) & 0x700)], grid[q[1] | ((h0 << 4) & 0x700)],
                grid[q[2] | ((h1 << 8) & 0x700)], grid[q[3] | ((h1 << 4) & 0x700)]).AsSByte();
            Vector256<sbyte> delta = Vector256.Create(Delta(h0 & 0x08), Delta(h0 & 0x80), Delta(h1 & 0x08), Delta(h1 & 0x80)).AsSByte();
            u.W[k] = Vector256.ShiftLeft(g, 3) + delta;
            int s = sc[k / 2] >> (6 * (k % 2));
            u.S[k] = Pair(2 * (s & 7) + 1, 2 * ((s >> 3) & 7) + 1);
        }
        u.D = IQuants.Iq1MScale(new ReadOnlySpan<byte>(b + 48, 8)) * 0.125f;
    }

    private static ulong Delta(int bit) => bit != 0 ? 0xFFFFFFFFFFFFFFFFUL : 0x0101010101010101UL;
}

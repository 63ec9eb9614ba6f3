using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static SinkLab.Kernels.SuperBlockKernels;

namespace SinkLab.Kernels;

// The block readers of SuperBlockKernels, one per type; layouts and formulas are those of LowBitQuants and IQuants (the
// scalar references), rewritten as signed bytes × integer scale × one float factor. Sub-vector k holds weights
// 32k … 32k + 31. Only Q2_K has mins; the others take ISuperBlock's defaults.

/// <summary>Q2_K: W = q (0-3), S = 4-bit scale per 16, D = d; mins per 16 with DMin = dmin.</summary>
internal unsafe struct Q2KReader : ISuperBlock
{
    public static int Size => 84;
    public static bool HasMins => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)(b + 80));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float DMin(byte* b) => Fp16.ToFloat(*(Half*)(b + 82));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k) =>
        (Vector256.ShiftRightLogical(Vector256.Load(b + 16 + 32 * (k >> 2)), 2 * (k & 3)) & Vector256.Create((byte)3)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Pair(b[2 * k] & 0xF, b[2 * k + 1] & 0xF);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Mins(byte* b, int half)
    {
        Vector128<ushort> m = Vector128.WidenLower(Vector128.ShiftRightLogical(Vector128.CreateScalar(*(ulong*)(b + 8 * half)).AsByte(), 4));
        return Vector256.Create(Vector128.WidenLower(m), Vector128.WidenUpper(m)).AsInt32();
    }
}

/// <summary>Q3_K: W = q − 4·[high bit clear] (−4…3), S = 6-bit scale − 32 per 16, D = d.</summary>
internal unsafe struct Q3KReader : ISuperBlock
{
    public static int Size => 110;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)(b + 108));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        Vector256<byte> low = Vector256.ShiftRightLogical(Vector256.Load(b + 32 + 32 * (k >> 2)), 2 * (k & 3)) & Vector256.Create((byte)3);
        Vector256<byte> high = Vector256.ShiftLeft(Vector256.ShiftRightLogical(Vector256.Load(b), k) & Vector256.Create((byte)1), 2);
        return (low | high).AsSByte() - Vector256.Create((sbyte)4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k)
    {
        var packed = new ReadOnlySpan<byte>(b + 96, 12);
        return Pair(LowBitQuants.Q3Scale(packed, 2 * k) - 32, LowBitQuants.Q3Scale(packed, 2 * k + 1) - 32);
    }
}

/// <summary>IQ4_XS: W = non-linear value, S = 6-bit scale − 32 per 32, D = d.</summary>
internal unsafe struct Iq4XsReader : ISuperBlock
{
    public static int Size => 136;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k) => Lookup16(Int8Dot.UnpackNibbles(ref b[8 + 16 * k]), Iq4Values());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Vector256.Create(LowBitQuants.Iq4XsScale(new ReadOnlySpan<byte>(b, 136), k) - 32);
}

/// <summary>TQ1_0: W = trit − 1, S = 1, D = d (base-3 digits read byte by byte).</summary>
internal unsafe struct Tq1Reader : ISuperBlock
{
    public static int Size => 54;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)(b + 52));
    public static Vector256<int> Scales(byte* b, int k) => Vector256.Create(1);

    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        sbyte* t = stackalloc sbyte[32];
        var blk = new ReadOnlySpan<byte>(b, 54);
        for (int i = 0; i < 32; i++) t[i] = LowBitQuants.Tq1Weight(blk, 32 * k + i);
        return Vector256.Load(t);
    }
}

/// <summary>TQ2_0: W = q − 1, S = 1, D = d.</summary>
internal unsafe struct Tq2Reader : ISuperBlock
{
    public static int Size => 66;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)(b + 64));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Scales(byte* b, int k) => Vector256.Create(1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k) =>
        (Vector256.ShiftRightLogical(Vector256.Load(b + 32 * (k >> 2)), 2 * (k & 3)) & Vector256.Create((byte)3)).AsSByte() - Vector256.Create((sbyte)1);
}

/// <summary>IQ2_XXS: W = grid·sign, S = 2s + 1 per 32, D = d/8.</summary>
internal unsafe struct Iq2XxsReader : ISuperBlock
{
    public static int Size => 66;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b) * 0.125f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        ulong[] grid = IQuantTables.Iq2Xxs, masks = SignMasks;
        byte[] ks = IQuantTables.KSigns;
        byte* g = b + 2 + 8 * k;
        uint aux = *(uint*)(g + 4);
        return Signed(grid[g[0]], grid[g[1]], grid[g[2]], grid[g[3]],
            masks[ks[aux & 127]], masks[ks[(aux >> 7) & 127]], masks[ks[(aux >> 14) & 127]], masks[ks[(aux >> 21) & 127]]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Vector256.Create((int)(2 * (*(uint*)(b + 6 + 8 * k) >> 28) + 1));
}

/// <summary>IQ2_XS: W = grid·sign (9-bit index, 7-bit signs per 8), S = 2s + 1 per 16, D = d/8.</summary>
internal unsafe struct Iq2XsReader : ISuperBlock
{
    public static int Size => 74;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b) * 0.125f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        ulong[] grid = IQuantTables.Iq2Xs, masks = SignMasks;
        byte[] ks = IQuantTables.KSigns;
        ushort* q = (ushort*)(b + 2) + 4 * k;
        return Signed(grid[q[0] & 511], grid[q[1] & 511], grid[q[2] & 511], grid[q[3] & 511],
            masks[ks[q[0] >> 9]], masks[ks[q[1] >> 9]], masks[ks[q[2] >> 9]], masks[ks[q[3] >> 9]]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Pair(2 * (b[66 + k] & 0xF) + 1, 2 * (b[66 + k] >> 4) + 1);
}

/// <summary>IQ2_S: W = grid·sign (10-bit index, sign bytes), S = 2s + 1 per 16, D = d/8.</summary>
internal unsafe struct Iq2SReader : ISuperBlock
{
    public static int Size => 82;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b) * 0.125f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        ulong[] grid = IQuantTables.Iq2S, masks = SignMasks;
        byte* q = b + 2 + 4 * k, s = b + 34 + 4 * k;
        int h = b[66 + k];
        return Signed(grid[q[0] | ((h << 8) & 0x300)], grid[q[1] | ((h << 6) & 0x300)], grid[q[2] | ((h << 4) & 0x300)], grid[q[3] | ((h << 2) & 0x300)],
            masks[s[0]], masks[s[1]], masks[s[2]], masks[s[3]]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Pair(2 * (b[74 + k] & 0xF) + 1, 2 * (b[74 + k] >> 4) + 1);
}

/// <summary>IQ3_XXS: W = grid·sign (two 4-weight points per 8), S = 2s + 1 per 32, D = d/4.</summary>
internal unsafe struct Iq3XxsReader : ISuperBlock
{
    public static int Size => 98;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b) * 0.25f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        uint[] grid = IQuantTables.Iq3Xxs;
        ulong[] masks = SignMasks;
        byte[] ks = IQuantTables.KSigns;
        byte* q = b + 2 + 8 * k;
        uint aux = *(uint*)(b + 66 + 4 * k);
        return Signed(grid[q[0]] | (ulong)grid[q[1]] << 32, grid[q[2]] | (ulong)grid[q[3]] << 32,
            grid[q[4]] | (ulong)grid[q[5]] << 32, grid[q[6]] | (ulong)grid[q[7]] << 32,
            masks[ks[aux & 127]], masks[ks[(aux >> 7) & 127]], masks[ks[(aux >> 14) & 127]], masks[ks[(aux >> 21) & 127]]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Vector256.Create((int)(2 * (*(uint*)(b + 66 + 4 * k) >> 28) + 1));
}

/// <summary>IQ3_S: W = grid·sign (9-bit index, sign bytes), S = 2s + 1 per 32, D = d.</summary>
internal unsafe struct Iq3SReader : ISuperBlock
{
    public static int Size => 110;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        uint[] grid = IQuantTables.Iq3S;
        ulong[] masks = SignMasks;
        byte* q = b + 2 + 8 * k, s = b + 74 + 4 * k;
        int h = b[66 + k];
        return Signed(grid[q[0] | ((h << 8) & 256)] | (ulong)grid[q[1] | ((h << 7) & 256)] << 32,
            grid[q[2] | ((h << 6) & 256)] | (ulong)grid[q[3] | ((h << 5) & 256)] << 32,
            grid[q[4] | ((h << 4) & 256)] | (ulong)grid[q[5] | ((h << 3) & 256)] << 32,
            grid[q[6] | ((h << 2) & 256)] | (ulong)grid[q[7] | ((h << 1) & 256)] << 32,
            masks[s[0]], masks[s[1]], masks[s[2]], masks[s[3]]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Vector256.Create(2 * ((b[106 + k / 2] >> (4 * (k % 2))) & 0xF) + 1);
}

/// <summary>IQ1_S: W = 8·grid ± 1 (the ±1/8 shift folded in), S = 2s + 1 per 32, D = d/8.</summary>
internal unsafe struct Iq1SReader : ISuperBlock
{
    public static int Size => 50;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => Fp16.ToFloat(*(Half*)b) * 0.125f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        ulong[] grid = IQuantTables.Iq1S;
        byte* q = b + 2 + 4 * k;
        int qh = *(ushort*)(b + 34 + 2 * k);
        Vector256<sbyte> g = Vector256.Create(grid[q[0] | ((qh << 8) & 0x700)], grid[q[1] | ((qh << 5) & 0x700)],
            grid[q[2] | ((qh << 2) & 0x700)], grid[q[3] | ((qh >> 1) & 0x700)]).AsSByte();
        return Vector256.ShiftLeft(g, 3) + Vector256.Create((qh & 0x8000) != 0 ? (sbyte)-1 : (sbyte)1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k) => Vector256.Create(2 * ((*(ushort*)(b + 34 + 2 * k) >> 12) & 7) + 1);
}

/// <summary>IQ1_M: W = 8·grid ± 1 (a shift per 8), S = 2s + 1 per 16, D = d/8 (d from the scale words' top nibbles).</summary>
internal unsafe struct Iq1MReader : ISuperBlock
{
    public static int Size => 56;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float D(byte* b) => IQuants.Iq1MScale(new ReadOnlySpan<byte>(b + 48, 8)) * 0.125f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Weights(byte* b, int k)
    {
        ulong[] grid = IQuantTables.Iq1S;
        byte* q = b + 4 * k;
        int h0 = b[32 + 2 * k], h1 = b[33 + 2 * k];
        Vector256<sbyte> g = Vector256.Create(grid[q[0] | ((h0 << 8) & 0x700)], grid[q[1] | ((h0 << 4) & 0x700)],
            grid[q[2] | ((h1 << 8) & 0x700)], grid[q[3] | ((h1 << 4) & 0x700)]).AsSByte();
        return Vector256.ShiftLeft(g, 3) + Vector256.Create(Delta(h0 & 0x08), Delta(h0 & 0x80), Delta(h1 & 0x08), Delta(h1 & 0x80)).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* b, int k)
    {
        int s = *(ushort*)(b + 48 + 2 * (k / 2)) >> (6 * (k % 2));
        return Pair(2 * (s & 7) + 1, 2 * ((s >> 3) & 7) + 1);
    }

    private static ulong Delta(int bit) => bit != 0 ? 0xFFFFFFFFFFFFFFFFUL : 0x0101010101010101UL;
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Kernels;

/// <summary>
/// Y[t, r] = W[r, :] · X[t, :] for every token t and weight row r, for all weight types. One instance per session
/// holds the arguments and the quantized-activation scratch, so a call allocates nothing. Work is split across the
/// session's <see cref="WorkerPool"/> by rows of W when the product is large enough to pay for the hand-off.
/// </summary>
internal sealed unsafe class MatMul : ParallelJob
{
    /// <summary>Multiply-adds below which the product runs on the calling thread alone.</summary>
    public const long ParallelThreshold = 1 << 17;

    /// <summary>Tokens whose quantized activations are swept over all rows of a part before the next tokens
    /// (16 × 3 super-blocks of a 768-wide row is 14 KB: L1-resident).</summary>
    private const int TokenChunk = 16;

    /// <summary>Row ranges per thread in a parallel product. Few and long: each range is one sequential stream for the
    /// hardware prefetcher, and eight short ranges per thread (handed out alternately) cost a two-thread Q4_K_M
    /// decode 15-20 % (238-257 against 283-308 tok/s on the 100m synth); 2 and 4 measured alike, 3 worse.</summary>
    private const int PartsPerThread = 2;

    /// <summary>Most products one call can run over the same input (Q, K and V).</summary>
    public const int MaxGroup = 3;

    private readonly WorkerPool _pool;
    private readonly QuantizeJob _quantize;
    private readonly ActivationBlock[] _qx;   // pinned: activations quantized per 32, [token][block]
    private readonly ActivationSuperBlock[] _qk;   // pinned: activations quantized per 256 for K-quants, [token][super-block]
    private readonly WeightMatrix[] _w = new WeightMatrix[MaxGroup];
    private readonly nint[] _packed = new nint[MaxGroup];
    private readonly nint[] _y = new nint[MaxGroup];
    private readonly int[] _yStride = new int[MaxGroup], _rowsPerPart = new int[MaxGroup], _firstPart = new int[MaxGroup + 1];
    private int _count;
    private float* _x;
    private int _n, _xStride;

    public MatMul(WorkerPool pool, int maxTokens, int maxCols)
    {
        // The lattice tables and sign masks are loaded before any kernel is compiled, so the JIT sees them initialised
        // and reads them without a class-initialisation check per access.
        RuntimeHelpers.RunClassConstructor(typeof(IQuantTables).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(SuperBlockKernels).TypeHandle);
        _pool = pool;
        _quantize = new QuantizeJob(this);
        _qx = GC.AllocateArray<ActivationBlock>(maxTokens * ((maxCols + 31) / 32), pinned: true);
        _qk = GC.AllocateArray<ActivationSuperBlock>(maxTokens * ((maxCols + 255) / 256), pinned: true);
    }

    /// <summary>Runs the product; x is n × xStride (first W.Cols used), y is n × yStride (first W.Rows written).</summary>
    public void Run(WeightMatrix w, float* x, int xStride, int n, float* y, int yStride)
    {
        _count = 0;
        Add(w, y, yStride);
        Run(x, xStride, n);
    }

    /// <summary>Runs two or three products of the same input as one parallel job (Q/K/V, gate/up): the activations
    /// are quantized once and the threads meet once, instead of once per product.</summary>
    public void Run(float* x, int xStride, int n, WeightMatrix a, float* ya, int yaStride, WeightMatrix b, float* yb, int ybStride,
        WeightMatrix? c = null, float* yc = null, int ycStride = 0)
    {
        _count = 0;
        Add(a, ya, yaStride);
        Add(b, yb, ybStride);
        if (c != null) Add(c, yc, ycStride);
        Run(x, xStride, n);
    }

    private void Add(WeightMatrix w, float* y, int yStride)
    {
        if (_count > 0 && w.Cols != _w[0].Cols) throw new ArgumentException($"{w.Name} has {w.Cols} columns, {_w[0].Name} {_w[0].Cols}: not the same input");
        _w[_count] = w;
        _packed[_count] = (nint)w.Packed;   // made here, on the calling thread, before any worker reads it
        _y[_count] = (nint)y;
        _yStride[_count] = yStride;
        _count++;
    }

    private void Run(float* x, int xStride, int n)
    {
        _x = x; _xStride = xStride; _n = n;
        int cols = _w[0].Cols;
        bool blocks = false, superBlocks = false;
        long work = 0;
        for (int i = 0; i < _count; i++)
        {
            superBlocks |= QuantDot.UsesSuperBlocks(_w[i].Type);
            blocks |= QuantDot.Supports(_w[i].Type) && !QuantDot.UsesSuperBlocks(_w[i].Type);
            work += (long)_w[i].Rows * cols * n;
        }
        bool parallel = _pool.Threads > 1 && work >= ParallelThreshold;
        _quantizeBlocks = blocks;
        _quantizeSuperBlocks = superBlocks;
        if (parallel && n >= 2 * _pool.Threads && (blocks || superBlocks))
        {
            _tokensPerPart = (n + 2 * _pool.Threads - 1) / (2 * _pool.Threads);   // prefill: the activations in parallel too
            _pool.Run(_quantize, (n + _tokensPerPart - 1) / _tokensPerPart);
        }
        else QuantizeTokens(0, n);
        _firstPart[0] = 0;
        for (int i = 0; i < _count; i++)
        {
            int rows = _w[i].Rows, parts = parallel ? Math.Min(rows, _pool.Threads * PartsPerThread) : 1;
            _rowsPerPart[i] = (rows + parts - 1) / parts;
            if (_packed[i] != 0) _rowsPerPart[i] = (_rowsPerPart[i] + Q4KGroups.Rows - 1) / Q4KGroups.Rows * Q4KGroups.Rows;   // whole groups
            _firstPart[i + 1] = _firstPart[i] + (rows + _rowsPerPart[i] - 1) / _rowsPerPart[i];
        }
        if (parallel) _pool.Run(this, _firstPart[_count]);
        else for (int p = 0; p < _firstPart[_count]; p++) Execute(p);
    }

    private bool _quantizeBlocks, _quantizeSuperBlocks;
    private int _tokensPerPart;

    /// <summary>Quantizes tokens [t0, t1) of the input as the products' kernels take them.</summary>
    private void QuantizeTokens(int t0, int t1)
    {
        int cols = _w[0].Cols;
        for (int t = t0; t < t1; t++)
        {
            var xt = new ReadOnlySpan<float>(_x + (long)t * _xStride, cols);
            if (_quantizeSuperBlocks) ActivationSuperBlock.Quantize(xt, _qk.AsSpan(t * (cols / 256), cols / 256));
            if (_quantizeBlocks) ActivationBlock.Quantize(xt, _qx.AsSpan(t * (cols / 32), cols / 32));
        }
    }

    /// <summary>The activations of a range of tokens, one part each.</summary>
    private sealed class QuantizeJob(MatMul m) : ParallelJob
    {
        public override void Execute(int part) => m.QuantizeTokens(part * m._tokensPerPart, Math.Min(m._n, (part + 1) * m._tokensPerPart));
    }

    public override void Execute(int part)
    {
        int i = 0;
        while (part >= _firstPart[i + 1]) i++;
        WeightMatrix w = _w[i];
        int r0 = (part - _firstPart[i]) * _rowsPerPart[i], r1 = Math.Min(w.Rows, r0 + _rowsPerPart[i]);
        float* y = (float*)_y[i];
        int yStride = _yStride[i];
        switch (w.Type)
        {
            case GgmlType.F32: RowsF32(w, r0, r1, y, yStride); break;
            case GgmlType.F16: RowsF16(w, r0, r1, y, yStride); break;
            case GgmlType.BF16: RowsBf16(w, r0, r1, y, yStride); break;
            case var t when QuantDot.UsesSuperBlocks(t):
                fixed (ActivationSuperBlock* qk = _qk)
                {
                    if (_packed[i] != 0)
                        r0 = w.Type == GgmlType.Q6_K
                            ? RowsPacked((byte*)_packed[i], r0, r1, y, yStride, qk, w, &Q6KGroups.Tile4, &Q6KGroups.Dot1)
                            : RowsPacked((byte*)_packed[i], r0, r1, y, yStride, qk, w, &Q4KGroups.Tile4, &Q4KGroups.Dot1);
                    if (r0 < r1) RowsQuantized(w, r0, r1, y, yStride, qk, w.Cols / 256, QuantDot.ForSuperBlocks(w.Type), QuantTile.ForSuperBlocks(w.Type));
                }
                break;
            default:
                fixed (ActivationBlock* qx = _qx)
                {
                    if (_packed[i] != 0) r0 = RowsPacked((byte*)_packed[i], r0, r1, y, yStride, qx, w, &Q8Groups.Tile4, &Q8Groups.Dot1);
                    if (r0 < r1) RowsQuantized(w, r0, r1, y, yStride, qx, w.Cols / 32, QuantDot.For(w.Type), QuantTile.For(w.Type));
                }
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsF32(WeightMatrix w, int r0, int r1, float* y, int yStride)
    {
        for (int r = r0; r < r1; r++)
        {
            float* row = (float*)(w.Data + (long)r * w.RowBytes);
            for (int t = 0; t < _n; t += 4)
                F32Tile.Dot4(row, _x + (long)t * _xStride, _xStride, w.Cols, Math.Min(4, _n - t), y + (long)t * yStride + r, yStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsF16(WeightMatrix w, int r0, int r1, float* y, int yStride)
    {
        for (int r = r0; r < r1; r++)
        {
            ReadOnlySpan<Half> row = MemoryMarshal.Cast<byte, Half>(w.Row(r));
            for (int t = 0; t < _n; t++)
                y[(long)t * yStride + r] = DotKernels.DotF16(row, new ReadOnlySpan<float>(_x + (long)t * _xStride, w.Cols));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsBf16(WeightMatrix w, int r0, int r1, float* y, int yStride)
    {
        for (int r = r0; r < r1; r++)
        {
            ReadOnlySpan<ushort> row = MemoryMarshal.Cast<byte, ushort>(w.Row(r));
            for (int t = 0; t < _n; t++)
                y[(long)t * yStride + r] = DotKernels.DotBf16(row, new ReadOnlySpan<float>(_x + (long)t * _xStride, w.Cols));
        }
    }

    /// <summary>The whole groups of eight rows in [r0, r1) through the repacked kernels (<see cref="Q4KGroups"/>,
    /// <see cref="Q6KGroups"/>, <see cref="Q8Groups"/>): four tokens at a time, the rest one by one. Returns the first
    /// row not done (r1 unless the matrix ends in a part group, whose rows the row kernels take).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int RowsPacked<TAct>(byte* packed, int r0, int r1, float* y, int yStride, TAct* acts, WeightMatrix w,
        delegate*<byte*, TAct*, int, int, float*, void> tile, delegate*<byte*, TAct*, int, float*, void> one) where TAct : unmanaged
    {
        GroupLayout layout = Q4KGroups.Layout(w.Type);
        int blocks = w.Cols / layout.Elements, blockBytes = layout.BlockBytes;
        int g0 = r0 / Q4KGroups.Rows, g1 = r1 / Q4KGroups.Rows;
        float* out32 = stackalloc float[Q4KGroups.Rows * QuantTile.Tokens];
        for (int t0 = 0; t0 < _n; t0 += TokenChunk)
        {
            int t1 = Math.Min(_n, t0 + TokenChunk);
            for (int g = g0; g < g1; g++)
            {
                byte* group = packed + (long)g * blocks * blockBytes;
                int r = g * Q4KGroups.Rows, t = t0;
                for (; t + QuantTile.Tokens <= t1; t += QuantTile.Tokens)
                {
                    tile(group, acts + t * blocks, blocks, blocks, out32);
                    for (int k = 0; k < QuantTile.Tokens; k++) Vector256.Store(Vector256.Load(out32 + k * Q4KGroups.Rows), y + (long)(t + k) * yStride + r);
                }
                for (; t < t1; t++) one(group, acts + t * blocks, blocks, y + (long)t * yStride + r);
            }
        }
        return Math.Max(r0, g1 * Q4KGroups.Rows);
    }

    /// <summary>Rows of a quantized matrix against the activations quantized as its kernel takes them (32-element
    /// <see cref="ActivationBlock"/>s or K-quant <see cref="ActivationSuperBlock"/>s): with four or more tokens, the
    /// type's <see cref="QuantTile"/> kernel takes them four at a time, the rest one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsQuantized<TAct>(WeightMatrix w, int r0, int r1, float* y, int yStride, TAct* acts, int blocks,
        delegate*<byte*, TAct*, int, float> dot, delegate*<byte*, TAct*, int, int, float*, void> tile) where TAct : unmanaged
    {
        if (dot == null) throw new InvalidOperationException($"no kernel for {w.Type}");
        int tiled = tile == null ? 0 : _n / QuantTile.Tokens * QuantTile.Tokens;
        float* out4 = stackalloc float[QuantTile.Tokens];
        for (int t0 = 0; t0 < _n; t0 += TokenChunk)   // a chunk of tokens' activations stays in L1 across the rows
        {
            int t1 = Math.Min(_n, t0 + TokenChunk), tiledEnd = Math.Min(t1, tiled);
            for (int r = r0; r < r1; r++)
            {
                byte* row = w.Data + (long)r * w.RowBytes;
                int t = t0;
                for (; t < tiledEnd; t += QuantTile.Tokens)
                {
                    tile(row, acts + t * blocks, blocks, blocks, out4);
                    for (int k = 0; k < QuantTile.Tokens; k++) y[(long)(t + k) * yStride + r] = out4[k];
                }
                for (; t < t1; t++)
                    y[(long)t * yStride + r] = dot(row, acts + t * blocks, blocks);
            }
        }
    }
}

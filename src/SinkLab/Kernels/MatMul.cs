using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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

    private readonly WorkerPool _pool;
    private readonly ActivationBlock[] _qx;   // pinned: activations quantized per 32, [token][block]
    private readonly ActivationSuperBlock[] _qk;   // pinned: activations quantized per 256 for K-quants, [token][super-block]
    private WeightMatrix _w = null!;
    private float* _x, _y;
    private int _n, _xStride, _yStride, _rowsPerPart;

    public MatMul(WorkerPool pool, int maxTokens, int maxCols)
    {
        _pool = pool;
        _qx = GC.AllocateArray<ActivationBlock>(maxTokens * ((maxCols + 31) / 32), pinned: true);
        _qk = GC.AllocateArray<ActivationSuperBlock>(maxTokens * ((maxCols + 255) / 256), pinned: true);
    }

    /// <summary>Runs the product; x is n × xStride (first W.Cols used), y is n × yStride (first W.Rows written).</summary>
    public void Run(WeightMatrix w, float* x, int xStride, int n, float* y, int yStride)
    {
        _w = w; _x = x; _xStride = xStride; _n = n; _y = y; _yStride = yStride;
        if (QuantDot.UsesSuperBlocks(w.Type))
        {
            int blocks = w.Cols / 256;
            for (int t = 0; t < n; t++)
                ActivationSuperBlock.Quantize(new ReadOnlySpan<float>(x + (long)t * xStride, w.Cols), _qk.AsSpan(t * blocks, blocks));
        }
        else if (QuantDot.Supports(w.Type))
        {
            int blocks = w.Cols / 32;
            for (int t = 0; t < n; t++)
                ActivationBlock.Quantize(new ReadOnlySpan<float>(x + (long)t * xStride, w.Cols), _qx.AsSpan(t * blocks, blocks));
        }
        long work = (long)w.Rows * w.Cols * n;
        if (_pool.Threads == 1 || work < ParallelThreshold)
        {
            _rowsPerPart = w.Rows;
            Execute(0);
            return;
        }
        int parts = Math.Min(w.Rows, _pool.Threads * 8);
        _rowsPerPart = (w.Rows + parts - 1) / parts;
        _pool.Run(this, (w.Rows + _rowsPerPart - 1) / _rowsPerPart);
    }

    public override void Execute(int part)
    {
        WeightMatrix w = _w;
        int r0 = part * _rowsPerPart, r1 = Math.Min(w.Rows, r0 + _rowsPerPart);
        switch (w.Type)
        {
            case GgmlType.F32: RowsF32(w, r0, r1); break;
            case GgmlType.F16: RowsF16(w, r0, r1); break;
            case GgmlType.BF16: RowsBf16(w, r0, r1); break;
            case GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K:
                fixed (ActivationSuperBlock* qk = _qk)
                    RowsQuantized(w, r0, r1, qk, w.Cols / 256, QuantDot.ForSuperBlocks(w.Type), QuantTile.ForSuperBlocks(w.Type));
                break;
            default:
                fixed (ActivationBlock* qx = _qx)
                    RowsQuantized(w, r0, r1, qx, w.Cols / 32, QuantDot.For(w.Type), QuantTile.For(w.Type));
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsF32(WeightMatrix w, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            float* row = (float*)(w.Data + (long)r * w.RowBytes);
            for (int t = 0; t < _n; t += 4)
                F32Tile.Dot4(row, _x + (long)t * _xStride, _xStride, w.Cols, Math.Min(4, _n - t), _y + (long)t * _yStride + r, _yStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsF16(WeightMatrix w, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ReadOnlySpan<Half> row = MemoryMarshal.Cast<byte, Half>(w.Row(r));
            for (int t = 0; t < _n; t++)
                _y[(long)t * _yStride + r] = DotKernels.DotF16(row, new ReadOnlySpan<float>(_x + (long)t * _xStride, w.Cols));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsBf16(WeightMatrix w, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ReadOnlySpan<ushort> row = MemoryMarshal.Cast<byte, ushort>(w.Row(r));
            for (int t = 0; t < _n; t++)
                _y[(long)t * _yStride + r] = DotKernels.DotBf16(row, new ReadOnlySpan<float>(_x + (long)t * _xStride, w.Cols));
        }
    }

    /// <summary>Rows of a quantized matrix against the activations quantized as its kernel takes them (32-element
    /// <see cref="ActivationBlock"/>s or K-quant <see cref="ActivationSuperBlock"/>s): with four or more tokens, the
    /// type's <see cref="QuantTile"/> kernel takes them four at a time, the rest one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RowsQuantized<TAct>(WeightMatrix w, int r0, int r1, TAct* acts, int blocks,
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
                    for (int k = 0; k < QuantTile.Tokens; k++) _y[(long)(t + k) * _yStride + r] = out4[k];
                }
                for (; t < t1; t++)
                    _y[(long)t * _yStride + r] = dot(row, acts + t * blocks, blocks);
            }
        }
    }
}

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

    private readonly WorkerPool _pool;
    private readonly ActivationBlock[] _qx;   // pinned: activations quantized per 32, [token][block]
    private WeightMatrix _w = null!;
    private float* _x, _y;
    private int _n, _xStride, _yStride, _rowsPerPart;

    public MatMul(WorkerPool pool, int maxTokens, int maxCols)
    {
        _pool = pool;
        _qx = GC.AllocateArray<ActivationBlock>(maxTokens * ((maxCols + 31) / 32), pinned: true);
    }

    /// <summary>Runs the product; x is n × xStride (first W.Cols used), y is n × yStride (first W.Rows written).</summary>
    public void Run(WeightMatrix w, float* x, int xStride, int n, float* y, int yStride)
    {
        _w = w; _x = x; _xStride = xStride; _n = n; _y = y; _yStride = yStride;
        if (QuantDot.Supports(w.Type))
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
            default: RowsQuantized(w, r0, r1, QuantDot.For(w.Type)); break;
        }
    }

    private void RowsF32(WeightMatrix w, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            float* row = (float*)(w.Data + (long)r * w.RowBytes);
            for (int t = 0; t < _n; t += 4)
                F32Tile.Dot4(row, _x + (long)t * _xStride, _xStride, w.Cols, Math.Min(4, _n - t), _y + (long)t * _yStride + r, _yStride);
        }
    }

    private void RowsF16(WeightMatrix w, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ReadOnlySpan<Half> row = MemoryMarshal.Cast<byte, Half>(w.Row(r));
            for (int t = 0; t < _n; t++)
                _y[(long)t * _yStride + r] = DotKernels.DotF16(row, new ReadOnlySpan<float>(_x + (long)t * _xStride, w.Cols));
        }
    }

    private void RowsBf16(WeightMatrix w, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ReadOnlySpan<ushort> row = MemoryMarshal.Cast<byte, ushort>(w.Row(r));
            for (int t = 0; t < _n; t++)
                _y[(long)t * _yStride + r] = DotKernels.DotBf16(row, new ReadOnlySpan<float>(_x + (long)t * _xStride, w.Cols));
        }
    }

    /// <summary>Rows of a block-quantized matrix against the activations quantized per 32 (one path for every
    /// quantized type; <paramref name="dot"/> is the type's <see cref="QuantDot"/> kernel).</summary>
    private void RowsQuantized(WeightMatrix w, int r0, int r1, delegate*<byte*, ActivationBlock*, int, float> dot)
    {
        if (dot == null) throw new InvalidOperationException($"no kernel for {w.Type}");
        int blocks = w.Cols / 32;
        fixed (ActivationBlock* qx = _qx)
            for (int r = r0; r < r1; r++)
            {
                byte* row = w.Data + (long)r * w.RowBytes;
                for (int t = 0; t < _n; t++)
                    _y[(long)t * _yStride + r] = dot(row, qx + t * blocks, blocks);
            }
    }
}

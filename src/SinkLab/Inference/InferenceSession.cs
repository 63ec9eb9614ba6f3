using System.Numerics.Tensors;
using SinkLab.Caching;
using SinkLab.Hooks;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Inference;

/// <summary>
/// Runs a <see cref="Model"/> over a KV cache held by a <see cref="CachePolicy"/> (dense by default; StreamingLLM
/// sinks + window, window, context shift): batched prefill (matrix × matrix) and single-token decode
/// (matrix × vector). Every buffer is allocated once, here; a forward step allocates nothing, and memory does not
/// grow with the stream under a bounded policy.
/// Not thread-safe: one session per concurrent stream.
/// </summary>
public sealed unsafe partial class InferenceSession : IDisposable
{
    private readonly ModelConfig _c;
    private readonly ModelWeights _w;
    private readonly WorkerPool _pool;
    private readonly MatMul _matmul;
    private readonly AttentionJob _attention;
    private readonly int _batch;
    // Scratch, pinned; shapes in tokens × width.
    private readonly float[] _x, _xb, _q, _qPinned, _k, _v, _att, _hb, _hb2, _logits, _ropeCos, _ropeSin, _pinCos, _pinSin, _tmp, _gate;
    private readonly int[] _visPinned, _visSeg1, _visSeg2;   // per token of the running chunk: what it sees (KvRing.Visible)
    private readonly long[] _visQueryPos;                    // and its query position for pinned keys
    private bool _usePinnedQuery;                             // pinned keys are scored with the query at its in-cache position
    private readonly KvRing _ring;
    private float[]? _sinks;   // attn_sinks of the layer being computed
    private readonly double[] _invFreq;
    private readonly float[] _keyCache, _valueCache;   // per layer and KV head: keys [dim][slot] (after RoPE), values [slot][dim]

    /// <summary>Creates a session; <paramref name="options"/> defaults to one thread and the model's context.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Threads, context or batch size below 1.</exception>
    public InferenceSession(Model model, SessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new SessionOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Threads, 1, nameof(options.Threads));
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContextSize, nameof(options.ContextSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(options.BatchSize));
        ArgumentNullException.ThrowIfNull(options.Cache, nameof(options.Cache));
        Model = model;
        _c = model.Config;
        _w = model.Weights;
        Cache = options.Cache;
        _ring = new KvRing(options.Cache, options.ContextSize > 0 ? options.ContextSize : _c.ContextLength);
        ContextSize = _ring.Capacity;
        _batch = Math.Min(options.BatchSize, ContextSize);
        Threads = options.Threads;
        _pool = new WorkerPool(options.Threads);
        int maxCols = Math.Max(Math.Max(_c.Dim, _c.HiddenDim), _c.QDim);
        _matmul = new MatMul(_pool, _batch, maxCols);
        _attention = new AttentionJob(this);

        float[] P(long n) => GC.AllocateArray<float>(checked((int)n), pinned: true);
        _x = P((long)_batch * _c.Dim);
        _xb = P((long)_batch * Math.Max(_c.Dim, _c.QDim));
        _q = P((long)_batch * _c.QDim);
        _qPinned = P(_ring.Pinned > 0 ? (long)_batch * _c.QDim : 0);
        _visPinned = new int[_batch];
        _visSeg1 = new int[_batch];
        _visSeg2 = new int[_batch];
        _visQueryPos = new long[_batch];
        _k = P((long)_batch * _c.KvDim);
        _v = P((long)_batch * _c.KvDim);
        _att = P((long)_batch * _c.QDim);
        _hb = P((long)_batch * _c.HiddenDim);
        _hb2 = P((long)_batch * _c.HiddenDim);
        _logits = P(_c.VocabSize);
        _tmp = P(HiddenOrDim(_c));
        _gate = P((long)_batch * _c.Heads);
        _ropeCos = P((long)_batch * (_c.RopeDim / 2));
        _ropeSin = P((long)_batch * (_c.RopeDim / 2));
        _pinCos = P(_ring.Pinned > 0 ? (long)_batch * (_c.RopeDim / 2) : 0);
        _pinSin = P(_ring.Pinned > 0 ? (long)_batch * (_c.RopeDim / 2) : 0);
        _keyCache = P((long)_c.Layers * ContextSize * _c.KvDim);
        _valueCache = P((long)_c.Layers * ContextSize * _c.KvDim);
        _invFreq = new double[_c.RopeDim / 2];
        for (int i = 0; i < _invFreq.Length; i++)
        {
            double f = Math.Pow(_c.RopeFreqBase, -2.0 * i / _c.RopeDim) * _c.RopeFreqScale;
            if (_w.RopeFreqFactors is { } ff) f /= ff[i];
            _invFreq[i] = f;
        }
        _attention.Allocate(Threads, ContextSize);
    }

    /// <summary>The model this session runs.</summary>
    public Model Model { get; }
    /// <summary>Worker threads.</summary>
    public int Threads { get; }
    /// <summary>Capacity of the KV cache in tokens (slots; for <c>sink:S+W</c> S + W + 1, the token being processed included).</summary>
    public int ContextSize { get; }
    /// <summary>The cache policy.</summary>
    public CachePolicy Cache { get; }
    /// <summary>Slot bookkeeping of the cache (what is live, what was evicted).</summary>
    public KvRing Ring => _ring;
    /// <summary>Tokens fed since the last reset (the stream position of the next token).</summary>
    public long Position => _ring.Position;
    /// <summary>True when a dense cache has no room for another token (bounded policies never fill).</summary>
    public bool IsFull => Cache.Kind == CacheKind.Full && _ring.Live >= ContextSize;
    /// <summary>Logits of the last token processed by <see cref="Decode"/> or <see cref="Prefill"/>.</summary>
    public ReadOnlySpan<float> Logits => _logits;

    /// <summary>Empties the KV cache.</summary>
    public void Reset() => _ring.Reset();

    /// <summary>Feeds one token and returns the next-token logits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Token id outside the vocabulary.</exception>
    /// <exception cref="InvalidOperationException">The context is full.</exception>
    public ReadOnlySpan<float> Decode(int token)
    {
        ReadOnlySpan<int> one = [token];
        Forward(one, _logits, lastOnly: true);
        return _logits;
    }

    /// <summary>Feeds tokens (in batches) and returns the logits after the last one.</summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens)
    {
        Forward(tokens, _logits, lastOnly: true);
        return _logits;
    }

    /// <summary>Feeds tokens and writes the logits of every one of them into <paramref name="logits"/>
    /// (tokens.Length × VocabSize, row t predicting token t + 1).</summary>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is too small.</exception>
    public void Evaluate(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (logits.Length < (long)tokens.Length * _c.VocabSize)
            throw new ArgumentException($"logits needs {tokens.Length} × {_c.VocabSize} floats", nameof(logits));
        Forward(tokens, logits, lastOnly: false);
    }

    private void Forward(ReadOnlySpan<int> tokens, Span<float> logits, bool lastOnly)
    {
        if (tokens.Length == 0) return;
        if (Cache.Kind == CacheKind.Full && _ring.Live + tokens.Length > ContextSize)
            throw new InvalidOperationException($"context full: {_ring.Live} + {tokens.Length} tokens exceed the cache of {ContextSize}");
        foreach (int t in tokens)
            if ((uint)t >= (uint)_c.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id outside the vocabulary of {_c.VocabSize}");
        for (int start = 0; start < tokens.Length;)
        {
            int n = _ring.BeginChunk(Math.Min(_batch, tokens.Length - start));
            bool last = start + n == tokens.Length;
            Span<float> dst = lastOnly ? logits : logits.Slice(start * _c.VocabSize, n * _c.VocabSize);
            ForwardBatch(tokens.Slice(start, n), dst, lastOnly ? (last ? 1 : 0) : n);
            _ring.EndChunk(n);
            start += n;
        }
    }

    /// <summary>Records what each token of the chunk sees and sets the RoPE angles: stream positions for queries and
    /// keys, and in-cache positions for the query copy that scores pinned keys once positions are re-indexed.</summary>
    private void PlanChunk(int n, long pos0)
    {
        int half = _c.RopeDim / 2;
        _usePinnedQuery = false;
        for (int t = 0; t < n; t++)
        {
            var (pinned, seg1, seg2, queryPosition) = _ring.Visible(pos0 + t);
            _visPinned[t] = pinned; _visSeg1[t] = seg1; _visSeg2[t] = seg2; _visQueryPos[t] = queryPosition;
            SetRopeAngles(pos0 + t, _ropeCos.AsSpan(t * half, half), _ropeSin.AsSpan(t * half, half));
            if (pinned > 0 && queryPosition != pos0 + t) _usePinnedQuery = true;
        }
        if (!_usePinnedQuery) return;
        for (int t = 0; t < n; t++)
            SetRopeAngles(_visQueryPos[t], _pinCos.AsSpan(t * half, half), _pinSin.AsSpan(t * half, half));
    }

    /// <summary>One batch of n tokens at positions Position..Position+n-1; writes logits of the last
    /// <paramref name="logitRows"/> tokens.</summary>
    private void ForwardBatch(ReadOnlySpan<int> tokens, Span<float> logits, int logitRows)
    {
        int n = tokens.Length, dim = _c.Dim, kvDim = _c.KvDim, qDim = _c.QDim, hidden = _c.HiddenDim;
        long pos0 = Position;
        int half = _c.RopeDim / 2;
        _stepStart = (int)Math.Min(pos0, int.MaxValue);
        bool neox = _c.RopeStyle == RopeStyle.NeoX;
        for (int t = 0; t < n; t++) _w.TokenEmbedding.DequantizeRow(tokens[t], _x.AsSpan(t * dim, dim));
        PlanChunk(n, pos0);
        Fire(HookPoint.Embed, 0, _x, n, dim);

        fixed (float* x = _x, xb = _xb, q = _q, k = _k, v = _v, att = _att, hb = _hb, hb2 = _hb2)
        {
            for (int l = 0; l < _c.Layers; l++)
            {
                LayerWeights lw = _w.Layers[l];
                _sinks = lw.AttnSinks;
                Fire(HookPoint.ResidPre, l, _x, n, dim);
                for (int t = 0; t < n; t++) Ops.RmsNorm(_x.AsSpan(t * dim, dim), lw.AttnNorm, _c.RmsEps, _xb.AsSpan(t * dim, dim));
                _matmul.Run(xb, dim, n, lw.Wq, q, qDim, lw.Wk, k, kvDim, lw.Wv, v, kvDim);
                if (lw.BiasQ != null) AddBias(_q, lw.BiasQ, n);
                if (lw.BiasK != null) AddBias(_k, lw.BiasK, n);
                if (lw.BiasV != null) AddBias(_v, lw.BiasV, n);
                long layerBase = (long)l * ContextSize * kvDim;
                if (_usePinnedQuery) _q.AsSpan(0, n * qDim).CopyTo(_qPinned);
                for (int t = 0; t < n; t++)
                {
                    if (_usePinnedQuery)
                        Ops.Rope(_qPinned.AsSpan(t * qDim, qDim), _c.Heads, _c.HeadDim, _pinCos.AsSpan(t * half, half), _pinSin.AsSpan(t * half, half), neox);
                    ReadOnlySpan<float> cos = _ropeCos.AsSpan(t * half, half), sin = _ropeSin.AsSpan(t * half, half);
                    Ops.Rope(_q.AsSpan(t * qDim, qDim), _c.Heads, _c.HeadDim, cos, sin, neox);
                    Ops.Rope(_k.AsSpan(t * kvDim, kvDim), _c.KvHeads, _c.HeadDim, cos, sin, neox);
                }
                Fire(HookPoint.Q, l, _q, n, _c.Heads, _c.HeadDim);
                Fire(HookPoint.K, l, _k, n, _c.KvHeads, _c.HeadDim);
                Fire(HookPoint.V, l, _v, n, _c.KvHeads, _c.HeadDim);
                for (int t = 0; t < n; t++) StoreKv(layerBase, _ring.SlotOf(pos0 + t), _k.AsSpan(t * kvDim, kvDim), _v.AsSpan(t * kvDim, kvDim));
                if (_hookSets.Count > 0 && (HookActive(HookPoint.Scores, l) || HookActive(HookPoint.Pattern, l)))
                    AttentionMaterialized(l, layerBase, n, checked((int)pos0));
                else
                    _attention.Run(_pool, layerBase, n);
                if (lw.AttnGate is { } gate) ApplyGate(gate, n);
                Fire(HookPoint.Z, l, _att, n, _c.Heads, _c.HeadDim);
                _matmul.Run(lw.Wo, att, qDim, n, xb, dim);
                Fire(HookPoint.AttnOut, l, _xb, n, dim);
                TensorPrimitives.Add(_x.AsSpan(0, n * dim), _xb.AsSpan(0, n * dim), _x.AsSpan(0, n * dim));
                Fire(HookPoint.ResidMid, l, _x, n, dim);

                for (int t = 0; t < n; t++) Ops.RmsNorm(_x.AsSpan(t * dim, dim), lw.FfnNorm, _c.RmsEps, _xb.AsSpan(t * dim, dim));
                _matmul.Run(xb, dim, n, lw.FfnGate, hb, hidden, lw.FfnUp, hb2, hidden);
                for (int t = 0; t < n; t++)
                    Ops.SwiGlu(_hb.AsSpan(t * hidden, hidden), _hb2.AsSpan(t * hidden, hidden), _tmp);
                Fire(HookPoint.MlpPost, l, _hb, n, hidden);
                _matmul.Run(lw.FfnDown, hb, hidden, n, xb, dim);
                TensorPrimitives.Add(_x.AsSpan(0, n * dim), _xb.AsSpan(0, n * dim), _x.AsSpan(0, n * dim));
                Fire(HookPoint.ResidPost, l, _x, n, dim);
            }
            if (logitRows == 0) return;
            int first = n - logitRows;
            for (int t = first; t < n; t++)
                Ops.RmsNorm(_x.AsSpan(t * dim, dim), _w.OutputNorm, _c.RmsEps, _xb.AsSpan((t - first) * dim, dim));
            Fire(HookPoint.LnFinal, 0, _xb, logitRows, dim);
            fixed (float* lg = logits)
                _matmul.Run(_w.Output, xb, dim, logitRows, lg, _c.VocabSize);
            Fire(HookPoint.Logits, 0, logits, logitRows, _c.VocabSize);
        }
    }

    /// <summary>Writes one token's keys (transposed, [kvHead][dim][slot]) and values ([kvHead][slot][dim]).</summary>
    private void StoreKv(long layerBase, int position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int hd = _c.HeadDim;
        for (int h = 0; h < _c.KvHeads; h++)
        {
            long headBase = layerBase + (long)h * hd * ContextSize;
            for (int d = 0; d < hd; d++) _keyCache[headBase + (long)d * ContextSize + position] = k[h * hd + d];
            v.Slice(h * hd, hd).CopyTo(_valueCache.AsSpan((int)(headBase + (long)position * hd), hd));
        }
    }

    /// <summary>Adds a projection bias to each of the n rows of <paramref name="rows"/>.</summary>
    private static void AddBias(float[] rows, float[] bias, int n)
    {
        for (int t = 0; t < n; t++) TensorPrimitives.Add(rows.AsSpan(t * bias.Length, bias.Length), bias, rows.AsSpan(t * bias.Length, bias.Length));
    }

    /// <summary>Gated attention: z[t, h, :] ×= sigmoid(w_h · x̂_t), x̂ the block's normalised input (still in xb).</summary>
    private void ApplyGate(WeightMatrix gate, int n)
    {
        int heads = _c.Heads, hd = _c.HeadDim;
        fixed (float* xb = _xb, g = _gate) _matmul.Run(gate, xb, _c.Dim, n, g, heads);
        TensorPrimitives.Sigmoid(_gate.AsSpan(0, n * heads), _gate.AsSpan(0, n * heads));
        for (int t = 0; t < n; t++)
            for (int h = 0; h < heads; h++)
                TensorPrimitives.Multiply(_att.AsSpan((t * heads + h) * hd, hd), _gate[t * heads + h], _att.AsSpan((t * heads + h) * hd, hd));
    }

    /// <summary>Turns one row of scores of head <paramref name="head"/> into attention weights, per the model's
    /// attention variant: softmax, softmax with an extra logit (0 for softmax1, the learned attn_sinks value for
    /// sink logits) that takes mass and is dropped, or element-wise sigmoid(score + b).</summary>
    internal void Normalize(Span<float> row, int head)
    {
        if (_c.Attention == AttentionVariant.Sigmoid)
        {
            TensorPrimitives.Add(row, _c.SigmoidBias, row);
            TensorPrimitives.Sigmoid(row, row);
            return;
        }
        float[]? sinks = _sinks;
        if (sinks == null && _c.Attention != AttentionVariant.Softmax1)
        {
            Ops.Softmax(row);
            return;
        }
        float extra = sinks?[head] ?? 0f;
        float max = MathF.Max(TensorPrimitives.Max(row), extra);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float sum = TensorPrimitives.Sum(row) + MathF.Exp(extra - max);
        TensorPrimitives.Multiply(row, 1f / sum, row);
    }

    private static int HiddenOrDim(ModelConfig c) => Math.Max(c.HiddenDim, c.Dim);

    /// <summary>cos/sin of position · θ_i for each rotated pair i (θ_i from base, scaling and rope_freqs).</summary>
    private void SetRopeAngles(long position, Span<float> cos, Span<float> sin)
    {
        for (int i = 0; i < _invFreq.Length; i++)
        {
            double theta = position * _invFreq[i];
            cos[i] = (float)Math.Cos(theta);
            sin[i] = (float)Math.Sin(theta);
        }
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose() => _pool.Dispose();
}

using System.Numerics.Tensors;
using SinkLab.Caching;
using SinkLab.Hooks;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Inference;

/// <summary>
/// Runs a <see cref="Model"/> over a KV cache held by a <see cref="CachePolicy"/> (dense by default; StreamingLLM
/// sinks + window, window, context shift): batched prefill (matrix × matrix) and single-token decode
/// (matrix × vector). One forward pass executes the model's <see cref="BlockDescription"/> — norms and where they sit,
/// MLP kind, positions (RoPE, learned, ALiBi), residual form, Q/K norms, soft-caps, per-layer windows and RoPE — so
/// every architecture runs through the same code, kernels and hooks. Every buffer is allocated once, here; a forward
/// step allocates nothing, and memory does not grow with the stream under a bounded policy.
/// Not thread-safe: one session per concurrent stream.
/// </summary>
public sealed unsafe partial class InferenceSession : IDisposable
{
    private readonly ModelConfig _c;
    private readonly BlockDescription _b;
    private readonly ModelWeights _w;
    private readonly WorkerPool _pool;
    private readonly MatMul _matmul;
    private readonly AttentionJob _attention;
    private readonly int _batch;
    // Scratch, pinned; shapes in tokens × width. _xn: attention input (normed); _xn2: MLP input (normed);
    // _ao / _mo: attention and MLP outputs before the residual add; _pos: learned position rows.
    private readonly float[] _x, _xn, _xn2, _ao, _mo, _q, _qPinned, _k, _v, _att, _hb, _hb2, _logits, _tmp, _gate, _pos;
    private readonly Half[]? _halfKv;   // scratch of HalfPrecisionKv, or null
    private readonly KvRing _ring;
    private float[]? _sinks;   // attn_sinks of the layer being computed
    private readonly RopeTable[] _ropes;        // one per distinct RoPE configuration
    private readonly int[] _ropeOfLayer;
    private readonly int[] _prefix;             // SessionOptions.Prefix, fed again on Reset when windowed layers evicted it
    private readonly int[] _windows;            // distinct windows (0 = full causal); a "view" per window
    private readonly int[] _viewOfLayer;
    private readonly KeyRange[] _ranges;        // [view][token of the chunk]: which cached keys the token sees
    private readonly long[] _queryPos;          // per token of the chunk: its position as the cache policy defines it
    private readonly float[] _slopes;           // ALiBi slope per head (empty without ALiBi)
    private readonly bool _exactGelu;           // GELU by the formula instead of ggml's fp16 table
    private readonly bool _shapesScores;        // soft-capping or ALiBi change the raw scores
    private bool _usePinnedQuery;               // pinned keys are scored with the query at its in-cache position
    private readonly float[] _keyCache, _valueCache;   // per layer and KV head: keys [dim][slot] (after RoPE), values [slot][dim]
    private readonly int _kvStride;   // slots per key row (≥ ContextSize): see KvStride
    private readonly EvictingCache? _evict;            // eviction policies: per-head slots (else null)
    private readonly EvictingAttentionJob? _evictJob;
    private readonly SlotMove? _moveSlot;                                          // cached delegates: no allocation per step
    private readonly Func<int, (float[] Keys, int Offset, int Stride, int Dim)>? _keysOf;
    private long _evictLayerBase;
    private readonly RopeTable[]? _rankRopes;   // eviction policies with positions inside the cache: cos/sin per rank

    /// <summary>Creates a session; <paramref name="options"/> defaults to one thread and the model's context.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Threads, context or batch size below 1.</exception>
    /// <exception cref="ArgumentException">A cache that would need more learned positions than the model has.</exception>
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
        _b = _c.Block;
        _w = model.Weights;
        Cache = options.Cache;
        int[] prefix = _prefix = options.Prefix?.ToArray() ?? [];
        CachePolicy ringPolicy = PinPrefix(options.Cache, prefix.Length);
        _ring = new KvRing(ringPolicy, options.ContextSize > 0 ? options.ContextSize : _c.ContextLength, _c.Layers);
        if (prefix.Length > 0 && prefix.Length >= _ring.Capacity)
            throw new ArgumentException($"the prefix has {prefix.Length} tokens; the cache holds {_ring.Capacity}, which leaves no room after it", "--prefix");
        ContextSize = _ring.Capacity;
        // Eviction policies: a sliding-window layer keeps its own last W − 1 tokens (EvictingCache) plus a chunk.
        int slots = ringPolicy.IsEviction ? ContextSize + Math.Max(0, _c.LayerSpecs.Max(s => s.Window) - 1) : ContextSize;
        _kvStride = KvStride(slots);
        CheckPositions(_c, options.Cache, ContextSize);
        _batch = Math.Min(options.BatchSize, ContextSize);
        Threads = options.Threads;
        _pool = new WorkerPool(options.Threads);
        int sharedHidden = _w.Layers.Max(l => l.Experts?.SharedUp?.Rows ?? 0);
        int hiddenMax = Math.Max(Math.Max(_c.HiddenDim, _b.Moe?.ExpertHidden ?? 0), sharedHidden);
        int maxCols = Math.Max(Math.Max(_c.Dim, hiddenMax), _c.QDim);
        _matmul = new MatMul(_pool, _batch, maxCols);
        _attention = new AttentionJob(this);

        float[] P(long n) => GC.AllocateArray<float>(checked((int)n), pinned: true);
        _x = P((long)_batch * _c.Dim);
        _xn = P((long)_batch * _c.Dim);
        _xn2 = P((long)_batch * _c.Dim);
        _ao = P((long)_batch * _c.Dim);
        _mo = P((long)_batch * _c.Dim);
        _pos = P(_w.PositionEmbedding != null ? (long)_batch * _c.Dim : 0);
        _q = P((long)_batch * _c.QDim);
        _qPinned = P(_ring.Pinned > 0 ? (long)_batch * _c.QDim : 0);
        _k = P((long)_batch * _c.KvDim);
        _v = P((long)_batch * _c.KvDim);
        _att = P((long)_batch * _c.QDim);
        _hb = P((long)_batch * hiddenMax);
        _hb2 = P((long)_batch * hiddenMax);
        if (_b.Moe is { } moe) AllocateExperts(moe, P);
        _logits = P(_c.VocabSize);
        _tmp = P(Math.Max(hiddenMax, _c.Dim));
        _gate = P((long)_batch * _c.Heads);
        _halfKv = options.HalfPrecisionKv ? new Half[(long)_batch * _c.KvDim] : null;
        _keyCache = P((long)_c.Layers * _kvStride * _c.KvDim);
        _valueCache = P((long)_c.Layers * _kvStride * _c.KvDim);

        var ropeConfigs = _c.LayerSpecs.Select(s => s.Rope).Distinct().ToList();
        _ropeOfLayer = _c.LayerSpecs.Select(s => ropeConfigs.IndexOf(s.Rope)).ToArray();
        _ropes = _b.Positions == PositionKind.Rope
            ? ropeConfigs.Select(r => new RopeTable(r, _c.RopeDim, _w.RopeFreqFactors, _batch, _ring.Pinned > 0)).ToArray()
            : [];
        _windows = _c.LayerSpecs.Select(s => s.Window).Prepend(0).Distinct().ToArray();
        _viewOfLayer = _c.LayerSpecs.Select(s => Array.IndexOf(_windows, s.Window)).ToArray();
        _ranges = new KeyRange[_windows.Length * _batch];
        _queryPos = new long[_batch];
        _slopes = _b.Positions == PositionKind.Alibi ? AlibiSlopes(_c.Heads, _b.AlibiMaxBias) : [];
        _shapesScores = _b.AttnSoftCap > 0 || _slopes.Length > 0;
        _exactGelu = options.Gelu == GeluMode.Tanh;
        _attention.Allocate(Threads, _kvStride);
        if (ringPolicy.IsEviction)
        {
            if (_slopes.Length > 0)
                throw new ArgumentException($"cache policy {ringPolicy}: kept tokens sit at scattered positions, and this model's ALiBi biases need consecutive ones (use sink:S+W or full)", "--cache");
            _evict = new EvictingCache(ringPolicy, _c.Layers, _c.KvHeads, slots, _c.HeadDim, _c.LayerSpecs.Select(s => s.Window).ToArray());
            _evictJob = new EvictingAttentionJob(this);
            _evictJob.Allocate(_kvStride);
            _moveSlot = (_, kvh, from, to) => MoveSlot(_evictLayerBase, kvh, from, to);
            if (!ringPolicy.OriginalPositions && _ropes.Length > 0)
            {
                // Positions inside the cache: keys are stored unrotated and rotated at their rank among the kept tokens
                // when read (StreamingLLM's re-indexing for scattered slots); cos/sin of every rank, once.
                _rankRopes = _ropes.Select(r => new RopeTable(r.Config, _c.RopeDim, _w.RopeFreqFactors, slots, false)).ToArray();
                foreach (RopeTable t in _rankRopes) for (int i = 0; i < slots; i++) t.Set(i, i, pinned: false);
            }
            _keysOf = kvh => (_keyCache, checked((int)(_evictLayerBase + (long)kvh * _c.HeadDim * _kvStride)), _kvStride, _c.HeadDim);
        }
        if (prefix.Length > 0) Forward(prefix, _logits, lastOnly: true);
    }

    /// <summary>Tokens of the prefix (<see cref="SessionOptions.Prefix"/>) at the start of the cache; 0 without one.</summary>
    public int PrefixLength => _prefix.Length;

    /// <summary>The policy the ring runs: a prefix of <paramref name="k"/> tokens pinned in front of a sink or shift
    /// policy's own pinned tokens (a dense cache simply holds it first).</summary>
    private static CachePolicy PinPrefix(CachePolicy policy, int k) =>
        k == 0 || !(policy.Kind is CacheKind.Sink or CacheKind.Shift || policy.IsEviction) ? policy : policy with { Sinks = policy.Sinks + k };

    /// <summary>Tokens the cache holds per layer and KV head, on average (eviction policies keep different numbers per
    /// layer; every other policy holds <see cref="KvRing.Live"/> in each).</summary>
    public double CachedTokens => _evict?.MeanLive ?? _ring.Live;

    /// <summary>The eviction policies' per-head slots (null for full, sink, window and shift caches).</summary>
    public EvictingCache? Evicting => _evict;

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

    /// <summary>Empties the KV cache, down to the prefix if the session has one: its keys and values stay in their
    /// slots (no policy ever overwrites the first slots of a stream), so only the bookkeeping is restored.</summary>
    public void Reset()
    {
        _ring.Reset();
        if (_evict is { HasLocalLayers: true } && PrefixLength > 0)
        {
            // Sliding-window layers under an eviction policy let the prefix leave their window: feed it again.
            _evict.Reset();
            Forward(_prefix, _logits, lastOnly: true);
            return;
        }
        _evict?.Reset(PrefixLength);
        if (PrefixLength == 0) return;
        _ring.BeginChunk(PrefixLength);
        _ring.EndChunk(PrefixLength);
    }

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

    /// <summary>Learned positions index a table: a cache whose positions could run past it is refused up front.
    /// Under a bounded policy positions are counted inside the cache (at most its capacity − 1); a dense cache
    /// counts stream positions up to its size; stream positions of a bounded cache (<c>@original</c>) never stop.</summary>
    /// <param name="c">The model's configuration.</param>
    /// <param name="policy">The cache policy.</param>
    /// <param name="capacity">Cache slots the session would hold (<see cref="KvRing.Capacity"/>).</param>
    /// <exception cref="ArgumentException">The policy cannot run on this model.</exception>
    public static void CheckPositions(ModelConfig c, CachePolicy policy, int capacity)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(policy);
        if (c.Block.Positions != PositionKind.Learned) return;
        if (policy.OriginalPositions)
            throw new ArgumentException($"cache policy {policy}: a model with learned absolute positions ({c.PositionRows} rows) cannot keep stream positions in an endless stream; use positions inside the cache (drop @original)");
        if (capacity > c.PositionRows)
            throw new ArgumentException($"cache policy {policy}: {capacity} cache slots need {capacity} positions, but the model has {c.PositionRows} learned positions");
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

    /// <summary>Records what each token of the chunk sees in every view (full causal, and each sliding window), its
    /// position as the policy defines it, and the RoPE angles: stream positions for queries and keys, and in-cache
    /// positions for the query copy that scores pinned keys once positions are re-indexed.</summary>
    private void PlanChunk(int n, long pos0)
    {
        _usePinnedQuery = false;
        for (int t = 0; t < n; t++)
        {
            var (pinned, seg1, seg2, queryPosition) = _ring.Visible(pos0 + t);
            int ring = seg1 + seg2;
            _queryPos[t] = queryPosition;
            for (int v = 0; v < _windows.Length; v++)
                _ranges[v * _batch + t] = KeyRange.Of(pinned, ring, queryPosition, _windows[v]);
            if (pinned > 0 && queryPosition != pos0 + t && _ropes.Length > 0) _usePinnedQuery = true;   // only RoPE needs a second query
        }
        foreach (RopeTable r in _ropes)
        {
            for (int t = 0; t < n; t++) r.Set(t, pos0 + t, pinned: false);
            if (_usePinnedQuery) for (int t = 0; t < n; t++) r.Set(t, _queryPos[t], pinned: true);
        }
    }

    /// <summary>One batch of n tokens at positions Position..Position+n-1; writes logits of the last
    /// <paramref name="logitRows"/> tokens.</summary>
    private void ForwardBatch(ReadOnlySpan<int> tokens, Span<float> logits, int logitRows)
    {
        int n = tokens.Length, dim = _c.Dim;
        long pos0 = Position;
        _stepStart = (int)Math.Min(pos0, int.MaxValue);
        for (int t = 0; t < n; t++) _w.TokenEmbedding.DequantizeRow(tokens[t], _x.AsSpan(t * dim, dim));
        if (_b.EmbeddingScale != 1f) TensorPrimitives.Multiply(_x.AsSpan(0, n * dim), _b.EmbeddingScale, _x.AsSpan(0, n * dim));
        PlanChunk(n, pos0);
        Fire(HookPoint.Embed, 0, _x, n, dim);
        if (_w.PositionEmbedding is { } pe)
        {
            for (int t = 0; t < n; t++) pe.DequantizeRow(checked((int)_queryPos[t]), _pos.AsSpan(t * dim, dim));
            Fire(HookPoint.PosEmbed, 0, _pos, n, dim);
            TensorPrimitives.Add(_x.AsSpan(0, n * dim), _pos.AsSpan(0, n * dim), _x.AsSpan(0, n * dim));
        }

        fixed (float* x = _x, xn = _xn, xn2 = _xn2)
        {
            for (int l = 0; l < _c.Layers; l++)
            {
                LayerWeights lw = _w.Layers[l];
                Fire(HookPoint.ResidPre, l, _x, n, dim);
                float* attnIn = x;
                if (lw.AttnNorm != null)
                {
                    Norm(_x, lw.AttnNorm, _xn, n);
                    attnIn = xn;
                    Fire(HookPoint.Ln1, l, _xn, n, dim);
                }
                Attention(l, lw, attnIn, n, pos0);
                if (lw.AttnPostNorm != null) Norm(_ao, lw.AttnPostNorm, _ao, n);
                Fire(HookPoint.AttnOut, l, _ao, n, dim);

                float* mlpIn;
                if (_b.Residual == ResidualKind.Sequential)
                {
                    AddRows(_x, _ao, n);
                    Fire(HookPoint.ResidMid, l, _x, n, dim);
                    mlpIn = x;
                }
                else mlpIn = attnIn;   // parallel: the MLP reads the block input (its own norm below, or attn_norm's output)
                if (lw.FfnNorm != null)
                {
                    Norm(_x, lw.FfnNorm, _xn2, n);   // sequential: the updated stream; parallel: x is still the block input
                    mlpIn = xn2;
                    Fire(HookPoint.Ln2, l, _xn2, n, dim);
                }
                Mlp(l, lw, mlpIn, n);
                if (lw.FfnPostNorm != null) Norm(_mo, lw.FfnPostNorm, _mo, n);
                Fire(HookPoint.MlpOut, l, _mo, n, dim);
                if (_b.Residual != ResidualKind.Sequential) AddRows(_x, _ao, n);
                AddRows(_x, _mo, n);
                Fire(HookPoint.ResidPost, l, _x, n, dim);
            }
            if (logitRows == 0) return;
            int first = n - logitRows;
            for (int t = first; t < n; t++)
                NormRow(_x.AsSpan(t * dim, dim), _w.OutputNorm, _xn.AsSpan((t - first) * dim, dim));
            Fire(HookPoint.LnFinal, 0, _xn, logitRows, dim);
            fixed (float* lg = logits)
                _matmul.Run(_w.Output, xn, dim, logitRows, lg, _c.VocabSize);
            if (_b.FinalSoftCap > 0) Ops.SoftCap(logits[..(logitRows * _c.VocabSize)], _b.FinalSoftCap);
            Fire(HookPoint.Logits, 0, logits, logitRows, _c.VocabSize);
        }
    }

    /// <summary>The attention sub-layer of layer <paramref name="l"/> on its input rows; output (after W_o and its
    /// bias) in <c>_ao</c>.</summary>
    private void Attention(int l, LayerWeights lw, float* input, int n, long pos0)
    {
        int dim = _c.Dim, kvDim = _c.KvDim, qDim = _c.QDim;
        fixed (float* q = _q, k = _k, v = _v, att = _att, ao = _ao)
        {
            _matmul.Run(input, dim, n, lw.Wq, q, qDim, lw.Wk, k, kvDim, lw.Wv, v, kvDim);
            if (lw.BiasQ != null) AddBias(_q, lw.BiasQ, n);
            if (lw.BiasK != null) AddBias(_k, lw.BiasK, n);
            if (lw.BiasV != null) AddBias(_v, lw.BiasV, n);
            if (_b.ClampQkv > 0)
            {
                Clamp(_q.AsSpan(0, n * qDim), _b.ClampQkv);
                Clamp(_k.AsSpan(0, n * kvDim), _b.ClampQkv);
                Clamp(_v.AsSpan(0, n * kvDim), _b.ClampQkv);
            }
            if (lw.QNorm != null) QkNorm(_q, lw.QNorm, n, _c.Heads);
            if (lw.KNorm != null) QkNorm(_k, lw.KNorm, n, _c.KvHeads);
            if (_ropes.Length > 0 && _rankRopes == null) Rotate(_ropes[_ropeOfLayer[l]], n);   // re-indexing eviction rotates at read time
            Fire(HookPoint.Q, l, _q, n, _c.Heads, _c.HeadDim);
            Fire(HookPoint.K, l, _k, n, _c.KvHeads, _c.HeadDim);
            Fire(HookPoint.V, l, _v, n, _c.KvHeads, _c.HeadDim);
            if (_halfKv != null)
            {
                RoundToHalf(_k.AsSpan(0, n * kvDim), _halfKv);
                RoundToHalf(_v.AsSpan(0, n * kvDim), _halfKv);
            }
            long layerBase = (long)l * _kvStride * kvDim;
            _sinks = lw.AttnSinks;
            int view = _viewOfLayer[l];
            if (_evict != null)
            {
                if (_hookSets.Count > 0 && (HookActive(HookPoint.Scores, l) || HookActive(HookPoint.Pattern, l)))
                    throw new InvalidOperationException($"hook_scores / hook_pattern need the full (dense) cache; this session uses {Cache}");
                int before = _evict.Live(l, 0);
                for (int t = 0; t < n; t++) StoreKvEvicting(l, layerBase, pos0 + t, _k.AsSpan(t * kvDim, kvDim), _v.AsSpan(t * kvDim, kvDim));
                _evictJob!.Run(_pool, l, layerBase, before, n, pos0);
                _evictLayerBase = layerBase;
                Evicted += _evict.Evict(l, pos0 + n - 1, _moveSlot!, _keysOf!);
            }
            else
            {
                for (int t = 0; t < n; t++) StoreKv(layerBase, _ring.SlotOf(pos0 + t), _k.AsSpan(t * kvDim, kvDim), _v.AsSpan(t * kvDim, kvDim));
                if (_hookSets.Count > 0 && (HookActive(HookPoint.Scores, l) || HookActive(HookPoint.Pattern, l)))
                    AttentionMaterialized(l, layerBase, view, n, checked((int)pos0));
                else
                    _attention.Run(_pool, layerBase, view, n);
            }
            if (lw.AttnGate is { } gate) ApplyGate(gate, input, n);
            Fire(HookPoint.Z, l, _att, n, _c.Heads, _c.HeadDim);
            _matmul.Run(lw.Wo, att, qDim, n, ao, dim);
            if (lw.BiasO != null) AddBias(_ao, lw.BiasO, n);
        }
    }

    /// <summary>The MLP of layer <paramref name="l"/> on its input rows; output (after the down projection and its
    /// bias) in <c>_mo</c>.</summary>
    private void Mlp(int l, LayerWeights lw, float* input, int n)
    {
        if (lw.Experts is { } experts)
        {
            MixtureOfExperts(l, experts, input, n);
            return;
        }
        int dim = _c.Dim, hidden = _c.HiddenDim;
        fixed (float* hb = _hb, hb2 = _hb2, mo = _mo)
        {
            if (lw.FfnGate is { } gate)
            {
                _matmul.Run(input, dim, n, gate, hb, hidden, lw.FfnUp!, hb2, hidden);
                if (lw.BiasGate != null) AddBias(_hb, lw.BiasGate, n);
                if (lw.BiasUp != null) AddBias(_hb2, lw.BiasUp, n);
                for (int t = 0; t < n; t++) GatedActivation(_hb.AsSpan(t * hidden, hidden), _hb2.AsSpan(t * hidden, hidden));
            }
            else
            {
                _matmul.Run(lw.FfnUp!, input, dim, n, hb, hidden);
                if (lw.BiasUp != null) AddBias(_hb, lw.BiasUp, n);
                Gelu.Apply(_hb.AsSpan(0, n * hidden), _exactGelu);
            }
            Fire(HookPoint.MlpPost, l, _hb, n, hidden);
            _matmul.Run(lw.FfnDown!, hb, hidden, n, mo, dim);
            if (lw.BiasDown != null) AddBias(_mo, lw.BiasDown, n);
        }
    }

    /// <summary>The block's gated activation, element-wise: gate ← act(gate) ⊙ up (SwiGLU, GeGLU, or gpt-oss's clamped
    /// SwiGLU); dense MLPs, routed experts and shared experts all go through it.</summary>
    private void GatedActivation(Span<float> gate, ReadOnlySpan<float> up)
    {
        switch (_b.Mlp)
        {
            case MlpKind.SwiGluOai: MoeRouting.SwiGluOai(gate, up); break;
            case MlpKind.GeGlu: Ops.GeGlu(gate, up, _exactGelu); break;
            default: Ops.SwiGlu(gate, up); break;
        }
    }

    /// <summary>Normalises n rows of width Dim from <paramref name="src"/> into <paramref name="dst"/> (may be the same).</summary>
    private void Norm(float[] src, NormWeights w, float[] dst, int n)
    {
        int dim = _c.Dim;
        for (int t = 0; t < n; t++) NormRow(src.AsSpan(t * dim, dim), w, dst.AsSpan(t * dim, dim));
    }

    private void NormRow(ReadOnlySpan<float> x, NormWeights w, Span<float> y)
    {
        if (_b.Norm == NormKind.LayerNorm) Ops.LayerNorm(x, w.Weight, w.Bias, _c.NormEps, y);
        else Ops.RmsNorm(x, w.Weight, _c.NormEps, y);
    }

    /// <summary>Q/K norm of n rows of <paramref name="heads"/> heads: each head's vector on its own (per head), or the
    /// whole row at once.</summary>
    private void QkNorm(float[] rows, NormWeights w, int n, int heads)
    {
        int width = heads * _c.HeadDim, part = w.Weight.Length;
        for (int t = 0; t < n; t++)
            for (int o = 0; o < width; o += part)
            {
                Span<float> s = rows.AsSpan(t * width + o, part);
                NormRow(s, w, s);
            }
    }

    /// <summary>RoPE on the chunk's queries and keys (and the pinned-key query copy when positions are re-indexed).</summary>
    private void Rotate(RopeTable r, int n)
    {
        int half = _c.RopeDim / 2, qDim = _c.QDim, kvDim = _c.KvDim;
        bool neox = _c.RopeStyle == RopeStyle.NeoX;
        if (_usePinnedQuery) _q.AsSpan(0, n * qDim).CopyTo(_qPinned);
        for (int t = 0; t < n; t++)
        {
            if (_usePinnedQuery)
                Ops.Rope(_qPinned.AsSpan(t * qDim, qDim), _c.Heads, _c.HeadDim, r.PinCos.AsSpan(t * half, half), r.PinSin.AsSpan(t * half, half), neox);
            ReadOnlySpan<float> cos = r.Cos.AsSpan(t * half, half), sin = r.Sin.AsSpan(t * half, half);
            Ops.Rope(_q.AsSpan(t * qDim, qDim), _c.Heads, _c.HeadDim, cos, sin, neox);
            Ops.Rope(_k.AsSpan(t * kvDim, kvDim), _c.KvHeads, _c.HeadDim, cos, sin, neox);
        }
    }

    /// <summary>Slots per row of the transposed keys: the context rounded up to 16 floats (a 64-byte line), plus 16 more
    /// when that is an even number of lines. Scores read one line from each of head_dim key rows; with a power-of-two
    /// context (2048: rows 8 KB apart) all of those lines fall into the same L1 set and can evict one another. An odd
    /// number of lines between rows spreads them over every set (no change was measurable on the 100m synth, where the
    /// head's keys stay in L2; docs/benchmarks.md).</summary>
    internal static int KvStride(int context)
    {
        int s = (context + 15) / 16 * 16;
        return s / 16 % 2 == 0 ? s + 16 : s;
    }

    /// <summary>Writes one token's keys (transposed, [kvHead][dim][slot]) and values ([kvHead][slot][dim]).</summary>
    private void StoreKv(long layerBase, int position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int hd = _c.HeadDim;
        for (int h = 0; h < _c.KvHeads; h++)
        {
            long headBase = layerBase + (long)h * hd * _kvStride;
            for (int d = 0; d < hd; d++) _keyCache[headBase + (long)d * _kvStride + position] = k[h * hd + d];
            v.Slice(h * hd, hd).CopyTo(_valueCache.AsSpan((int)(headBase + (long)position * hd), hd));
        }
    }

    /// <summary>Eviction policies: appends one token's key and value to every KV head's own next slot.</summary>
    private void StoreKvEvicting(int layer, long layerBase, long position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int hd = _c.HeadDim;
        for (int h = 0; h < _c.KvHeads; h++)
        {
            int slot = _evict!.Append(layer, h, position);
            long headBase = layerBase + (long)h * hd * _kvStride;
            for (int d = 0; d < hd; d++) _keyCache[headBase + (long)d * _kvStride + slot] = k[h * hd + d];
            v.Slice(h * hd, hd).CopyTo(_valueCache.AsSpan((int)(headBase + (long)slot * hd), hd));
        }
    }

    /// <summary>Moves a cached key (a column of the transposed keys) and value from one slot of a KV head to another.</summary>
    private void MoveSlot(long layerBase, int kvHead, int from, int to)
    {
        int hd = _c.HeadDim;
        long headBase = layerBase + (long)kvHead * hd * _kvStride;
        for (int d = 0; d < hd; d++) _keyCache[headBase + (long)d * _kvStride + to] = _keyCache[headBase + (long)d * _kvStride + from];
        _valueCache.AsSpan((int)(headBase + (long)from * hd), hd).CopyTo(_valueCache.AsSpan((int)(headBase + (long)to * hd), hd));
    }

    /// <summary>Tokens the eviction policies have removed (summed over layers and heads, per layer decision for tova).</summary>
    public long Evicted { get; private set; }

    private static void Clamp(Span<float> s, float c)
    {
        TensorPrimitives.Max(s, -c, s);
        TensorPrimitives.Min(s, c, s);
    }

    private void AddRows(float[] x, float[] add, int n) => TensorPrimitives.Add(x.AsSpan(0, n * _c.Dim), add.AsSpan(0, n * _c.Dim), x.AsSpan(0, n * _c.Dim));

    /// <summary>x ← float(half(x)): what a half-precision cache gives back.</summary>
    private static void RoundToHalf(Span<float> x, Half[] scratch)
    {
        Span<Half> h = scratch.AsSpan(0, x.Length);
        TensorPrimitives.ConvertToHalf(x, h);
        TensorPrimitives.ConvertToSingle(h, x);
    }

    /// <summary>Adds a projection bias to each of the n rows of <paramref name="rows"/>.</summary>
    private static void AddBias(float[] rows, float[] bias, int n)
    {
        for (int t = 0; t < n; t++) TensorPrimitives.Add(rows.AsSpan(t * bias.Length, bias.Length), bias, rows.AsSpan(t * bias.Length, bias.Length));
    }

    /// <summary>Gated attention: z[t, h, :] ×= sigmoid(w_h · x̂_t), x̂ the attention's (normalised) input.</summary>
    private void ApplyGate(WeightMatrix gate, float* input, int n)
    {
        int heads = _c.Heads, hd = _c.HeadDim;
        fixed (float* g = _gate) _matmul.Run(gate, input, _c.Dim, n, g, heads);
        TensorPrimitives.Sigmoid(_gate.AsSpan(0, n * heads), _gate.AsSpan(0, n * heads));
        for (int t = 0; t < n; t++)
            for (int h = 0; h < heads; h++)
                TensorPrimitives.Multiply(_att.AsSpan((t * heads + h) * hd, hd), _gate[t * heads + h], _att.AsSpan((t * heads + h) * hd, hd));
    }

    /// <summary>Turns one row of scores of head <paramref name="head"/> into attention weights, per the model's
    /// attention variant: softmax, softmax with an extra logit (0 for softmax1, the learned attn_sinks value for
    /// sink logits) that takes mass and is dropped, element-wise sigmoid(score + b), or softpick.</summary>
    internal void Normalize(Span<float> row, int head)
    {
        if (_c.Attention == AttentionVariant.Sigmoid)
        {
            TensorPrimitives.Add(row, _c.SigmoidBias, row);
            TensorPrimitives.Sigmoid(row, row);
            return;
        }
        if (_c.Attention == AttentionVariant.Softpick)
        {
            FastExp.Softpick(row);
            return;
        }
        float[]? sinks = _sinks;
        if (sinks == null && _c.Attention != AttentionVariant.Softmax1)
        {
            Ops.Softmax(row);
            return;
        }
        float extra = sinks?[head] ?? 0f;
        float max = MathF.Max(FastExp.Max(row), extra);
        float sum = FastExp.ExpShifted(row, max) + FastExp.Exp(extra - max);
        FastExp.Scale(row, 1f / sum);
    }

    /// <summary>What the architecture adds to raw scores of visible keys: soft-capping, then ALiBi's −slope · distance.
    /// <paramref name="distance0"/> is the distance of the row's first key; distances fall by one per key.</summary>
    internal void ShapeScores(Span<float> row, int head, long distance0)
    {
        if (_b.AttnSoftCap > 0) Ops.SoftCap(row, _b.AttnSoftCap);
        if (_slopes.Length == 0) return;
        float slope = _slopes[head];
        for (int j = 0; j < row.Length; j++) row[j] -= slope * (distance0 - j);
    }

    /// <summary>ALiBi slopes as ggml computes them: n2 = 2^⌊log2 heads⌋, m0 = 2^(−max/n2), m1 = 2^(−max/2/n2);
    /// head h &lt; n2 gets m0^(h+1), the rest m1^(2(h−n2)+1).</summary>
    internal static float[] AlibiSlopes(int heads, float maxBias)
    {
        int n2 = 1 << (int)Math.Floor(Math.Log2(heads));
        float m0 = MathF.Pow(2f, -maxBias / n2), m1 = MathF.Pow(2f, -(maxBias / 2f) / n2);
        var s = new float[heads];
        for (int h = 0; h < heads; h++) s[h] = h < n2 ? MathF.Pow(m0, h + 1) : MathF.Pow(m1, 2 * (h - n2) + 1);
        return s;
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose() => _pool.Dispose();
}

/// <summary>The cached keys one token sees in one view: pinned slots [PinFrom, PinTo) and the ring tokens from
/// chronological index RingSkip to Ring (the token itself last); QueryPos is its position for pinned keys and ALiBi.</summary>
internal readonly record struct KeyRange(int PinFrom, int PinTo, int RingSkip, int Ring, long QueryPos)
{
    /// <summary>Keys seen in total.</summary>
    public int Count => PinTo - PinFrom + Ring - RingSkip;

    /// <summary>The range under a sliding window (0 = none): a key at distance d is seen when d &lt; window. Ring keys
    /// are consecutive and end at the query, so their distances are the same in stream and in-cache positions;
    /// pinned key i is at distance queryPos − i in the positions the policy uses.</summary>
    public static KeyRange Of(int pinned, int ring, long queryPos, int window)
    {
        if (window <= 0) return new(0, pinned, 0, ring, queryPos);
        int pinFrom = (int)Math.Clamp(queryPos - window + 1, 0, pinned);
        return new(pinFrom, pinned, Math.Max(0, ring - window), ring, queryPos);
    }
}

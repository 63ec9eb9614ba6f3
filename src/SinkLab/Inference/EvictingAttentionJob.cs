using SinkLab.Caching;
using SinkLab.Kernels;

namespace SinkLab.Inference;

public sealed unsafe partial class InferenceSession
{
    /// <summary>
    /// Attention over an eviction policy's per-head slots (<see cref="EvictingCache"/>): KV head k of the layer holds its
    /// live tokens in slots [0, live), keys rotated at their stream positions, and the chunk's tokens were appended in
    /// order after the <c>before</c> slots already there, so token t of the chunk sees slots [0, before + t + 1). Each
    /// query head's normalised weights are handed to the cache (the scores the policy keeps), read from the row the
    /// attention computes anyway. Parts are KV heads, so a head's records are written by one thread.
    /// With positions inside the cache (the default; <c>@original</c> keeps stream positions) keys are stored unrotated
    /// and every step rotates them at their rank among the head's kept tokens, and the query at its own rank: the
    /// re-indexing StreamingLLM does, for slots that are not consecutive. A sliding-window layer keeps its last W − 1
    /// tokens in stream order and records nothing (the policy does not run there).
    /// </summary>
    private sealed unsafe class EvictingAttentionJob(InferenceSession s) : ParallelJob
    {
        private float[] _scores = [], _keys = [], _query = [];

        private int _ctx, _layer, _before, _n;
        private long _layerBase, _pos0;

        public void Allocate(int ctx)
        {
            _ctx = ctx;
            int heads = s._c.KvHeads, hd = s._c.HeadDim;
            _scores = GC.AllocateArray<float>(heads * ctx, pinned: true);
            _keys = GC.AllocateArray<float>(heads * hd * ctx, pinned: true);
            _query = GC.AllocateArray<float>(heads * hd, pinned: true);

        }

        /// <summary>Re-indexing: each live slot's rank by stream position, and its key rotated at that rank (transposed,
        /// stride ctx) into this head's scratch.</summary>
        private void RotateKeysAtRanks(int kvh, float* stored, float* dst, RopeTable table)
        {
            var c = s._c;
            int hd = c.HeadDim, half = c.RopeDim / 2, live = _before + _n;
            bool neox = c.RopeStyle == Models.RopeStyle.NeoX;
            ReadOnlySpan<int> rank = s._evict!.Ranks(_layer, kvh);
            for (int d = c.RopeDim; d < hd; d++) Buffer.MemoryCopy(stored + (long)d * _ctx, dst + (long)d * _ctx, live * 4L, live * 4L);
            for (int i = 0; i < half; i++)
            {
                int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                float* ka = stored + (long)a * _ctx, kb = stored + (long)b * _ctx, da = dst + (long)a * _ctx, db = dst + (long)b * _ctx;
                for (int j = 0; j < live; j++)
                {
                    int row = rank[j] * half + i;
                    float x0 = ka[j], x1 = kb[j], co = table.Cos[row], si = table.Sin[row];
                    da[j] = x0 * co - x1 * si;
                    db[j] = x0 * si + x1 * co;
                }
            }
        }

        public void Run(WorkerPool pool, int layer, long layerBase, int before, int n, long pos0)
        {
            (_layer, _layerBase, _before, _n, _pos0) = (layer, layerBase, before, n, pos0);
            long work = (long)n * s._c.Heads * (before + n) * s._c.HeadDim;
            if (pool.Threads == 1 || work < MatMul.ParallelThreshold) for (int k = 0; k < s._c.KvHeads; k++) Execute(k);
            else pool.Run(this, s._c.KvHeads);
        }

        public override void Execute(int kvh)
        {
            var c = s._c;
            int hd = c.HeadDim, qDim = c.QDim, group = c.GroupSize;
            float scale = s._b.QueryScale;
            bool record = s._evict!.Policy.NeedsAttentionWeights;
            Span<float> row = _scores.AsSpan(kvh * _ctx, _ctx);
            long headBase = _layerBase + (long)kvh * hd * _ctx;
            RopeTable? ranks = s._rankRopes?[s._ropeOfLayer[_layer]];
            // A sliding-window layer holds its tokens in stream order: query t sees the contiguous slots [start, count).
            int local = s._evict.LocalWindow(_layer), start = 0;
            ReadOnlySpan<long> kept = local > 0 ? s._evict.Positions(_layer, kvh) : default;
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, ob = s._att, sb = row, ks = _keys, qs = _query)
            {
                float* k = kc + headBase, v = vc + headBase, qRot = qs + kvh * hd;
                if (ranks != null)
                {
                    RotateKeysAtRanks(kvh, k, ks + (long)kvh * hd * _ctx, ranks);
                    k = ks + (long)kvh * hd * _ctx;
                }
                for (int t = 0; t < _n; t++)
                {
                    if (local > 0) while (_pos0 + t - kept[start] >= local) start++;
                    for (int g = 0; g < group; g++)
                    {
                        int h = kvh * group + g, count = _before + t + 1, seen = count - start;
                        float* q = qb + t * qDim + h * hd, o = ob + t * qDim + h * hd;
                        if (ranks != null)
                        {
                            // the query at its rank: one less than the keys it sees
                            new ReadOnlySpan<float>(q, hd).CopyTo(new Span<float>(qRot, hd));
                            Ops.Rope(new Span<float>(qRot, hd), 1, hd, ranks.Cos.AsSpan((count - 1) * (c.RopeDim / 2), c.RopeDim / 2),
                                ranks.Sin.AsSpan((count - 1) * (c.RopeDim / 2), c.RopeDim / 2), c.RopeStyle == Models.RopeStyle.NeoX);
                            q = qRot;
                        }
                        HeadOps.Scores(q, k + start, _ctx, hd, seen, scale, sb);
                        if (s._shapesScores) s.ShapeScores(row[..seen], h, 0);   // soft-cap only (ALiBi is refused)
                        s.Normalize(row[..seen], h);
                        if (record && local == 0) s._evict.Record(_layer, kvh, _pos0 + t, row[..count], first: g == 0);
                        HeadOps.WeightedSum(sb, v + (long)start * hd, hd, seen, o);
                    }
                }
            }
        }
    }
}

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
    /// </summary>
    private sealed unsafe class EvictingAttentionJob(InferenceSession s) : ParallelJob
    {
        private float[] _scores = [];
        private int _ctx, _layer, _before, _n;
        private long _layerBase, _pos0;

        public void Allocate(int ctx)
        {
            _ctx = ctx;
            _scores = GC.AllocateArray<float>(s._c.KvHeads * ctx, pinned: true);
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
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, ob = s._att, sb = row)
            {
                float* k = kc + headBase, v = vc + headBase;
                for (int t = 0; t < _n; t++)
                    for (int g = 0; g < group; g++)
                    {
                        int h = kvh * group + g, count = _before + t + 1;
                        float* q = qb + t * qDim + h * hd, o = ob + t * qDim + h * hd;
                        HeadOps.Scores(q, k, _ctx, hd, count, scale, sb);
                        if (s._shapesScores) s.ShapeScores(row[..count], h, 0);   // soft-cap only (ALiBi is refused)
                        s.Normalize(row[..count], h);
                        if (record) s._evict.Record(_layer, kvh, _pos0 + t, row[..count], first: g == 0);
                        HeadOps.WeightedSum(sb, v, hd, count, o);
                    }
            }
        }
    }
}

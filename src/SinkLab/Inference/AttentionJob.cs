using System.Numerics.Tensors;
using SinkLab.Caching;
using SinkLab.Kernels;

namespace SinkLab.Inference;

public sealed unsafe partial class InferenceSession
{
    /// <summary>
    /// Causal grouped-query attention of a batch against the KV cache: for each token t and head h,
    /// softmax(q·kᵀ / √d) over the slots token t sees (<see cref="KvRing.Visible"/>: pinned slots, then up to two ring
    /// segments; one segment from slot 0 for a dense cache), then the weighted sum of values. Pinned slots are scored
    /// with the query rotated at its in-cache position once the cache has evicted. Parts are contiguous ranges of
    /// (token, head) pairs, each with its own score row.
    /// </summary>
    private sealed unsafe class AttentionJob(InferenceSession s) : ParallelJob
    {
        private float[] _scores = [];
        private int _parts, _ctx, _n, _pairsPerPart;
        private long _layerBase;

        public void Allocate(int threads, int ctx)
        {
            _parts = threads == 1 ? 1 : threads * 4;
            _ctx = ctx;
            _scores = GC.AllocateArray<float>(_parts * ctx, pinned: true);
        }

        public void Run(WorkerPool pool, long layerBase, int n)
        {
            _layerBase = layerBase;
            _n = n;
            int pairs = n * s._c.Heads;
            long work = (long)pairs * (s._ring.Live + n) * s._c.HeadDim;
            int parts = pool.Threads == 1 || work < MatMul.ParallelThreshold ? 1 : Math.Min(_parts, pairs);
            _pairsPerPart = (pairs + parts - 1) / parts;
            pool.Run(this, (pairs + _pairsPerPart - 1) / _pairsPerPart);
        }

        public override void Execute(int part)
        {
            var c = s._c;
            int hd = c.HeadDim, qDim = c.QDim, group = c.GroupSize;
            float scale = 1f / MathF.Sqrt(hd);
            Span<float> scoreRow = _scores.AsSpan(part * _ctx, _ctx);
            int p0 = part * _pairsPerPart, p1 = Math.Min(_n * c.Heads, p0 + _pairsPerPart);
            int pinnedBase = s._ring.Pinned, ringBase = pinnedBase + s._ring.RingStart;
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, qp = s._qPinned, ob = s._att, sb = scoreRow)
            {
                float* qPin = s._usePinnedQuery ? qp : qb;
                for (int pair = p0; pair < p1; pair++)
                {
                    int t = pair / c.Heads, h = pair % c.Heads, kvh = h / group;
                    int pin = s._visPinned[t], seg1 = s._visSeg1[t], seg2 = s._visSeg2[t];
                    long headBase = _layerBase + (long)kvh * hd * _ctx;
                    float* k = kc + headBase, v = vc + headBase, q = qb + t * qDim + h * hd, o = ob + t * qDim + h * hd;
                    HeadOps.Scores(qPin + t * qDim + h * hd, k, _ctx, hd, pin, scale, sb);
                    HeadOps.Scores(q, k + ringBase, _ctx, hd, seg1, scale, sb + pin);
                    HeadOps.Scores(q, k + pinnedBase, _ctx, hd, seg2, scale, sb + pin + seg1);
                    s.Normalize(scoreRow[..(pin + seg1 + seg2)], h);
                    HeadOps.WeightedSum(sb, v, hd, pin, o);
                    HeadOps.WeightedSum(sb + pin, v + (long)ringBase * hd, hd, seg1, o, accumulate: true);
                    HeadOps.WeightedSum(sb + pin + seg1, v + (long)pinnedBase * hd, hd, seg2, o, accumulate: true);
                }
            }
        }
    }
}

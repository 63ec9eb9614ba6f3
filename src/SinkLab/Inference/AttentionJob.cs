using SinkLab.Kernels;

namespace SinkLab.Inference;

public sealed unsafe partial class InferenceSession
{
    /// <summary>
    /// Causal grouped-query attention of a batch against the KV cache: for each token t and head h, the scores of the
    /// keys it sees in the layer's view (<see cref="KeyRange"/>: pinned slots, then the ring's tokens in chronological
    /// order, which may wrap once; a sliding window trims both), shaped by the architecture (soft-cap, ALiBi),
    /// normalised by the attention variant, then the weighted sum of values. Pinned slots are scored with the query
    /// rotated at its in-cache position once the cache has re-indexed. Parts are contiguous ranges of (token, head)
    /// pairs, each with its own score row.
    /// </summary>
    private sealed unsafe class AttentionJob(InferenceSession s) : ParallelJob
    {
        private float[] _scores = [];
        private int _parts, _ctx, _n, _view, _pairsPerPart;
        private long _layerBase;

        public void Allocate(int threads, int ctx)
        {
            _parts = threads == 1 ? 1 : threads * 4;
            _ctx = ctx;
            _scores = GC.AllocateArray<float>(_parts * ctx, pinned: true);
        }

        public void Run(WorkerPool pool, long layerBase, int view, int n)
        {
            _layerBase = layerBase;
            _view = view;
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
            float scale = s._b.QueryScale;
            Span<float> scoreRow = _scores.AsSpan(part * _ctx, _ctx);
            int p0 = part * _pairsPerPart, p1 = Math.Min(_n * c.Heads, p0 + _pairsPerPart);
            int pinnedBase = s._ring.Pinned, ringCapacity = s._ring.RingCapacity, ringStart = s._ring.RingStart;
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, qp = s._qPinned, ob = s._att, sb = scoreRow)
            {
                float* qPin = s._usePinnedQuery ? qp : qb;
                for (int pair = p0; pair < p1; pair++)
                {
                    int t = pair / c.Heads, h = pair % c.Heads, kvh = h / group;
                    KeyRange r = s._ranges[_view * s._batch + t];
                    int pin = r.PinTo - r.PinFrom, ring = r.Ring - r.RingSkip;
                    int start = (ringStart + r.RingSkip) % ringCapacity, seg1 = Math.Min(ring, ringCapacity - start), seg2 = ring - seg1;
                    long headBase = _layerBase + (long)kvh * hd * _ctx;
                    float* k = kc + headBase, v = vc + headBase, q = qb + t * qDim + h * hd, o = ob + t * qDim + h * hd;
                    HeadOps.Scores(qPin + t * qDim + h * hd, k + r.PinFrom, _ctx, hd, pin, scale, sb);
                    HeadOps.Scores(q, k + pinnedBase + start, _ctx, hd, seg1, scale, sb + pin);
                    HeadOps.Scores(q, k + pinnedBase, _ctx, hd, seg2, scale, sb + pin + seg1);
                    if (s._shapesScores)
                    {
                        s.ShapeScores(scoreRow[..pin], h, r.QueryPos - r.PinFrom);
                        s.ShapeScores(scoreRow.Slice(pin, ring), h, r.Ring - 1 - r.RingSkip);
                    }
                    s.Normalize(scoreRow[..(pin + ring)], h);
                    HeadOps.WeightedSum(sb, v + (long)r.PinFrom * hd, hd, pin, o);
                    HeadOps.WeightedSum(sb + pin, v + (long)(pinnedBase + start) * hd, hd, seg1, o, accumulate: true);
                    HeadOps.WeightedSum(sb + pin + seg1, v + (long)pinnedBase * hd, hd, seg2, o, accumulate: true);
                }
            }
        }
    }
}

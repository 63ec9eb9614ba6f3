using SinkLab.Kernels;

namespace SinkLab.Inference;

public sealed unsafe partial class InferenceSession
{
    /// <summary>
    /// Causal grouped-query attention of a batch against the KV cache: for each token t and head h, the scores of the
    /// keys it sees in the layer's view (<see cref="KeyRange"/>: pinned slots, then the ring's tokens in chronological
    /// order, which may wrap once; a sliding window trims both), shaped by the architecture (soft-cap, ALiBi),
    /// normalised by the attention variant, then the weighted sum of values. Pinned slots are scored with the query
    /// rotated at its in-cache position once the cache has re-indexed. Parts are contiguous ranges of (head, token)
    /// pairs, head-major, each with its own four score rows: runs of four consecutive tokens of a head whose key ranges
    /// differ only in how far the ring reaches (prefill) score and sum their common keys together
    /// (<see cref="HeadOps.Scores4"/>, <see cref="HeadOps.WeightedSum4"/>), the few keys past the common range one by
    /// one; every output is bit for bit what a token alone gets, so results do not depend on batch boundaries.
    /// </summary>
    private sealed unsafe class AttentionJob(InferenceSession s) : ParallelJob
    {
        private const int Tile = 4;
        private float[] _scores = [];
        private int _parts, _ctx, _n, _view, _pairsPerPart;
        private long _layerBase;

        public void Allocate(int threads, int ctx)
        {
            _parts = threads == 1 ? 1 : threads * 4;
            _ctx = ctx;
            _scores = GC.AllocateArray<float>(_parts * Tile * ctx, pinned: true);
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
            int p0 = part * _pairsPerPart, p1 = Math.Min(_n * c.Heads, p0 + _pairsPerPart);
            fixed (float* sb = _scores)
            {
                float* rows = sb + (long)part * Tile * _ctx;
                for (int pair = p0; pair < p1;)
                {
                    int h = pair / _n, t = pair % _n;
                    if (pair + Tile <= p1 && t + Tile <= _n && TileFits(t, out int common))
                    {
                        Four(h, t, common, rows);
                        pair += Tile;
                    }
                    else
                    {
                        One(h, t, rows);
                        pair++;
                    }
                }
            }
        }

        /// <summary>Whether tokens t..t+3 see the same pinned keys and the same unwrapped run of ring keys from the same
        /// start (only its length differs); <paramref name="common"/> is the shortest run.</summary>
        private bool TileFits(int t, out int common)
        {
            KeyRange r0 = s._ranges[_view * s._batch + t];
            common = r0.Ring - r0.RingSkip;
            int start = (s._ring.RingStart + r0.RingSkip) % s._ring.RingCapacity;
            for (int i = 1; i < Tile; i++)
            {
                KeyRange r = s._ranges[_view * s._batch + t + i];
                if (r.PinFrom != r0.PinFrom || r.PinTo != r0.PinTo || r.RingSkip != r0.RingSkip) return false;
                common = Math.Min(common, r.Ring - r.RingSkip);
                if (start + r.Ring - r.RingSkip > s._ring.RingCapacity) return false;   // wraps
            }
            return start + r0.Ring - r0.RingSkip <= s._ring.RingCapacity;
        }

        /// <summary>Tokens t..t+3 of head h: pinned keys and keys past the common run one token at a time, the common run
        /// for the four together.</summary>
        private void Four(int h, int t, int common, float* rows)
        {
            var c = s._c;
            int hd = c.HeadDim, qDim = c.QDim, kvh = h / c.GroupSize, pinnedBase = s._ring.Pinned;
            float scale = s._b.QueryScale;
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, qp = s._qPinned, ob = s._att)
            {
                float* qPin = s._usePinnedQuery ? qp : qb;
                long headBase = _layerBase + (long)kvh * hd * _ctx;
                KeyRange r0 = s._ranges[_view * s._batch + t];
                int pin = r0.PinTo - r0.PinFrom, start = (s._ring.RingStart + r0.RingSkip) % s._ring.RingCapacity;
                float* k = kc + headBase, v = vc + headBase, q = qb + t * qDim + h * hd, o = ob + t * qDim + h * hd;
                float* kRing = k + pinnedBase + start, vRing = v + (long)(pinnedBase + start) * hd;
                HeadOps.Scores4(q, qDim, kRing, _ctx, hd, common, scale, rows + pin, _ctx);
                int* counts = stackalloc int[Tile];
                for (int i = 0; i < Tile; i++)
                {
                    KeyRange r = s._ranges[_view * s._batch + t + i];
                    int ring = counts[i] = r.Ring - r.RingSkip;
                    float* row = rows + i * _ctx;
                    HeadOps.Scores(qPin + (t + i) * qDim + h * hd, k + r.PinFrom, _ctx, hd, pin, scale, row);
                    HeadOps.Scores(q + i * qDim, kRing + common, _ctx, hd, ring - common, scale, row + pin + common);
                    var scoreRow = new Span<float>(row, pin + ring);
                    if (s._shapesScores)
                    {
                        s.ShapeScores(scoreRow[..pin], h, r.QueryPos - r.PinFrom);
                        s.ShapeScores(scoreRow.Slice(pin, ring), h, r.Ring - 1 - r.RingSkip);
                    }
                    s.Normalize(scoreRow, h);
                    HeadOps.WeightedSum(row, v + (long)r.PinFrom * hd, hd, pin, o + i * qDim);
                }
                HeadOps.WeightedSum4(rows + pin, _ctx, vRing, hd, counts, o, qDim, accumulate: true);
            }
        }

        /// <summary>Token t of head h alone.</summary>
        private void One(int h, int t, float* sb)
        {
            var c = s._c;
            int hd = c.HeadDim, qDim = c.QDim, kvh = h / c.GroupSize;
            float scale = s._b.QueryScale;
            Span<float> scoreRow = new(sb, _ctx);
            int pinnedBase = s._ring.Pinned, ringCapacity = s._ring.RingCapacity, ringStart = s._ring.RingStart;
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, qp = s._qPinned, ob = s._att)
            {
                float* qPin = s._usePinnedQuery ? qp : qb;
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

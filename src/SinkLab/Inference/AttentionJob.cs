using System.Numerics.Tensors;
using SinkLab.Kernels;

namespace SinkLab.Inference;

public sealed unsafe partial class InferenceSession
{
    /// <summary>
    /// Causal grouped-query attention of a batch against the KV cache: for each token t and head h,
    /// softmax(q·kᵀ / √d) over cache positions 0..pos0+t, then the weighted sum of values. Parts are contiguous
    /// ranges of (token, head) pairs, each with its own score row.
    /// </summary>
    private sealed unsafe class AttentionJob(InferenceSession s) : ParallelJob
    {
        private float[] _scores = [];
        private int _parts, _ctx, _n, _pos0, _pairsPerPart;
        private long _layerBase;

        public void Allocate(int threads, int ctx)
        {
            _parts = threads == 1 ? 1 : threads * 4;
            _ctx = ctx;
            _scores = GC.AllocateArray<float>(_parts * ctx, pinned: true);
        }

        public void Run(WorkerPool pool, long layerBase, int n, int pos0)
        {
            _layerBase = layerBase;
            _n = n;
            _pos0 = pos0;
            int pairs = n * s._c.Heads;
            long work = (long)pairs * (pos0 + n) * s._c.HeadDim;
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
            fixed (float* kc = s._keyCache, vc = s._valueCache, qb = s._q, ob = s._att, sb = scoreRow)
            {
                for (int pair = p0; pair < p1; pair++)
                {
                    int t = pair / c.Heads, h = pair % c.Heads, kvh = h / group;
                    int len = _pos0 + t + 1;
                    long headBase = _layerBase + (long)kvh * hd * _ctx;
                    HeadOps.Scores(qb + t * qDim + h * hd, kc + headBase, _ctx, hd, len, scale, sb);
                    s.Normalize(scoreRow[..len], h);
                    HeadOps.WeightedSum(sb, vc + headBase, hd, len, ob + t * qDim + h * hd);
                }
            }
        }
    }
}

namespace SinkLab.Inference;

/// <summary>Picks the next token from logits; buffers are allocated once, so sampling allocates nothing.</summary>
public sealed class Sampler
{
    private readonly SamplerOptions _o;
    private readonly Random _rng;
    private readonly float[] _work;
    private readonly int[] _ids;
    private readonly int[] _recent;
    private readonly Comparison<int> _byLogit;
    private int _recentCount, _recentHead;

    /// <summary>Creates a sampler for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public Sampler(int vocabSize, SamplerOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        _o = options ?? new SamplerOptions();
        _o.Validate();
        _rng = new Random(_o.Seed);
        _work = new float[vocabSize];
        _ids = new int[vocabSize];
        _recent = new int[Math.Max(1, _o.RepeatLastN)];
        _byLogit = (a, b) => _work[b] != _work[a] ? _work[b].CompareTo(_work[a]) : a.CompareTo(b);
    }

    /// <summary>Records a token for the repetition penalty (prompt tokens and sampled ones).</summary>
    public void Accept(int token)
    {
        if (_o.RepeatLastN == 0) return;
        _recent[_recentHead] = token;
        _recentHead = (_recentHead + 1) % _recent.Length;
        _recentCount = Math.Min(_recentCount + 1, _recent.Length);
    }

    /// <summary>Chooses a token from <paramref name="logits"/> (not modified).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        Span<float> l = _work.AsSpan(0, logits.Length);
        logits.CopyTo(l);
        if (_o.RepeatPenalty != 1f)
            for (int i = 0; i < _recentCount; i++)
            {
                int t = _recent[i];
                if ((uint)t >= (uint)l.Length || IsDuplicate(i, t)) continue;
                l[t] = l[t] > 0 ? l[t] / _o.RepeatPenalty : l[t] * _o.RepeatPenalty;
            }
        if (_o.Temperature == 0) return ArgMax(l);

        int n = l.Length;
        Span<int> ids = _ids.AsSpan(0, n);
        for (int i = 0; i < n; i++) ids[i] = i;
        // Sort candidates by logit, descending (stable on id for equal logits).
        ids.Sort(_byLogit);
        if (_o.TopK > 0) n = Math.Min(n, _o.TopK);

        // Probabilities at temperature 1 for top-p / min-p (llama.cpp applies temperature afterwards).
        float max = l[ids[0]];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.Exp(l[ids[i]] - max);
        if (_o.TopP < 1f)
        {
            double cum = 0;
            for (int i = 0; i < n; i++)
            {
                cum += Math.Exp(l[ids[i]] - max) / sum;
                if (cum >= _o.TopP) { n = i + 1; break; }
            }
        }
        if (_o.MinP > 0f)
        {
            int keep = 1;
            double threshold = Math.Log(_o.MinP);
            while (keep < n && l[ids[keep]] - max >= threshold) keep++;
            n = keep;
        }
        double total = 0;
        for (int i = 0; i < n; i++) total += Math.Exp((l[ids[i]] - max) / _o.Temperature);
        double r = _rng.NextDouble() * total;
        for (int i = 0; i < n; i++)
        {
            r -= Math.Exp((l[ids[i]] - max) / _o.Temperature);
            if (r <= 0) return ids[i];
        }
        return ids[n - 1];
    }

    private bool IsDuplicate(int index, int token)
    {
        for (int j = 0; j < index; j++) if (_recent[j] == token) return true;
        return false;
    }

    /// <summary>Index of the largest value; the lowest index wins ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}

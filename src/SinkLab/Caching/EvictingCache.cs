namespace SinkLab.Caching;

/// <summary>Moves one cached token's key and value from slot <paramref name="from"/> to slot <paramref name="to"/> of
/// (layer, KV head).</summary>
public delegate void SlotMove(int layer, int kvHead, int from, int to);

/// <summary>
/// Slot bookkeeping of the eviction policies (h2o, tova, snapkv, pyramid, keydiff): each (layer, KV head) holds its
/// live tokens in slots [0, live), unordered, with their stream positions (keys stay rotated at those positions: no
/// re-indexing) and what the policy scores them by. A new token is appended; after the layer's attention the policy
/// evicts down to the layer's budget, each victim replaced by the last slot (one key and one value moved, nothing
/// allocated). All memory is allocated here, once.
/// <para>Sliding-window layers (gpt-oss, Gemma 2/3) keep their own window instead of running the policy: a query
/// there never sees a key W or more positions back, so the layer holds the last W − 1 tokens in stream order (the
/// oldest dropped and the rest shifted down), and a chunk's queries see a contiguous run of slots.</para>
/// </summary>
public sealed class EvictingCache
{
    private readonly CachePolicy _policy;
    private readonly int _layers, _kvHeads, _cap, _window;
    private readonly int[] _live, _budget, _localWindow;
    private readonly long[] _pos;
    private readonly float[] _acc;      // h2o: attention accumulated since the token entered; tova: the latest query's
    private readonly float[] _votes;    // snapkv/pyramid: [head][window row][slot], the last w queries' attention
    private readonly float[] _pooled, _votesSum, _mean;
    private readonly int[] _byRank, _rankOf;   // per head: slots in stream order, and each slot's rank

    /// <summary>Creates the bookkeeping for <paramref name="policy"/> over <paramref name="capacity"/> slots per head;
    /// <paramref name="localWindows"/> gives each layer's sliding window (0 or absent: the layer runs the policy).</summary>
    /// <exception cref="ArgumentException">A sliding-window layer whose window and a chunk do not fit the capacity.</exception>
    public EvictingCache(CachePolicy policy, int layers, int kvHeads, int capacity, int headDim, IReadOnlyList<int>? localWindows = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (!policy.IsEviction) throw new ArgumentException($"cache policy {policy} is not an eviction policy");
        _policy = policy;
        _layers = layers; _kvHeads = kvHeads; _cap = capacity;
        _window = policy.Kind is CacheKind.SnapKv or CacheKind.Pyramid ? ObservationWindow(policy) : 0;
        int heads = layers * kvHeads;
        _live = new int[heads];
        _localWindow = Enumerable.Range(0, layers).Select(l => localWindows is { } w && l < w.Count ? Math.Max(0, w[l]) : 0).ToArray();
        _budget = Enumerable.Range(0, layers).Select(l => _localWindow[l] > 0 ? _localWindow[l] - 1 : policy.LayerBudget(l, layers)).ToArray();
        if (_budget.Max() >= capacity)
            throw new ArgumentException($"cache policy {policy}: a layer keeps {_budget.Max()} tokens, the cache has {capacity} slots per head");
        _pos = new long[heads * capacity];
        _acc = new float[heads * capacity];
        _votes = new float[heads * _window * capacity];
        _pooled = new float[capacity];
        _votesSum = new float[capacity];
        _byRank = new int[heads * capacity];
        _rankOf = new int[heads * capacity];
        _mean = new float[headDim];
    }

    /// <summary>SnapKV's observation window on a stream: 32 queries (its default), at most a quarter of the budget W.</summary>
    public static int ObservationWindow(CachePolicy policy) => Math.Max(1, Math.Min(32, policy.Window / 4));

    /// <summary>Newest tokens snapkv/pyramid never evict in <paramref name="layer"/>: the observation window, cut to the
    /// layer's budget beyond the sinks (pyramid's top layers keep fewer tokens than the window).</summary>
    public int ProtectedWindow(int layer) => Math.Min(_window, Math.Max(1, _budget[layer] - _policy.Sinks));

    /// <summary>The policy.</summary>
    public CachePolicy Policy => _policy;
    /// <summary>Observation window w of snapkv/pyramid (0 otherwise).</summary>
    public int Window => _window;
    /// <summary>The sliding window of <paramref name="layer"/> (0: a full-attention layer, which runs the policy).</summary>
    public int LocalWindow(int layer) => _localWindow[layer];
    /// <summary>True when some layer keeps its own sliding window.</summary>
    public bool HasLocalLayers => _localWindow.Any(w => w > 0);
    /// <summary>Tokens layer <paramref name="layer"/> keeps after each step (W − 1 in a sliding-window layer).</summary>
    public int BudgetOf(int layer) => _budget[layer];
    /// <summary>Live tokens of (layer, KV head).</summary>
    public int Live(int layer, int kvHead) => _live[layer * _kvHeads + kvHead];
    /// <summary>Stream positions of the live tokens of (layer, KV head), slot order.</summary>
    public ReadOnlySpan<long> Positions(int layer, int kvHead) => _pos.AsSpan((layer * _kvHeads + kvHead) * _cap, Live(layer, kvHead));
    /// <summary>Each live slot's rank by stream position (0 = oldest) in (layer, KV head).</summary>
    public ReadOnlySpan<int> Ranks(int layer, int kvHead) => _rankOf.AsSpan((layer * _kvHeads + kvHead) * _cap, Live(layer, kvHead));

    /// <summary>Live tokens summed over every layer and head, over the heads: the mean tokens a head holds.</summary>
    public double MeanLive => _live.Average();

    /// <summary>Empties every head down to its first <paramref name="keep"/> slots (a session's prefix: pinned tokens
    /// are appended first and never move, since only the last slot ever replaces a victim).</summary>
    public void Reset(int keep = 0)
    {
        Array.Fill(_live, keep);
        Array.Clear(_acc);
        Array.Clear(_votes);
        for (int h = 0; h < _live.Length; h++)
            for (int i = 0; i < keep; i++) { _byRank[h * _cap + i] = i; _rankOf[h * _cap + i] = i; }
    }

    /// <summary>Appends the token at <paramref name="position"/> to (layer, KV head); returns its slot.</summary>
    /// <exception cref="InvalidOperationException">The head is full (the session let a chunk exceed the capacity).</exception>
    public int Append(int layer, int kvHead, long position)
    {
        int h = layer * _kvHeads + kvHead, slot = _live[h];
        if (slot >= _cap) throw new InvalidOperationException($"eviction cache overflow at layer {layer}, head {kvHead}");
        _live[h] = slot + 1;
        _pos[h * _cap + slot] = position;
        _byRank[h * _cap + slot] = slot;   // positions arrive in order: the newest has the last rank
        _rankOf[h * _cap + slot] = slot;
        _acc[h * _cap + slot] = 0;
        for (int r = 0; r < _window; r++) _votes[(h * _window + r) * _cap + slot] = 0;
        return slot;
    }

    /// <summary>Records one query head's attention weights over the first <paramref name="weights"/>.Length slots of
    /// (layer, KV head), from the query at <paramref name="queryPosition"/>; <paramref name="first"/> marks the first
    /// query head of the KV head's group for this query (it starts the query's row).</summary>
    public void Record(int layer, int kvHead, long queryPosition, ReadOnlySpan<float> weights, bool first)
    {
        int h = layer * _kvHeads + kvHead;
        Span<float> acc = _acc.AsSpan(h * _cap, weights.Length);
        switch (_policy.Kind)
        {
            case CacheKind.H2O:
                for (int i = 0; i < weights.Length; i++) acc[i] += weights[i];
                break;
            case CacheKind.Tova:
                if (first) acc.Clear();
                for (int i = 0; i < weights.Length; i++) acc[i] += weights[i];
                break;
            case CacheKind.SnapKv or CacheKind.Pyramid:
                Span<float> row = _votes.AsSpan((h * _window + (int)(queryPosition % _window)) * _cap, _cap);
                if (first) row.Clear();
                for (int i = 0; i < weights.Length; i++) row[i] += weights[i];
                break;
        }
    }

    /// <summary>Evicts down to the layer's budget in every KV head of <paramref name="layer"/>; <paramref name="move"/>
    /// moves the cached key and value of each replacement; <paramref name="keysT"/> gives a head's transposed keys
    /// (keydiff), <paramref name="newest"/> is the stream position of the latest token. Returns tokens evicted.</summary>
    public int Evict(int layer, long newest, SlotMove move, Func<int, (float[] Keys, int Offset, int Stride, int Dim)>? keysT = null)
    {
        ArgumentNullException.ThrowIfNull(move);
        if (_localWindow[layer] > 0) return DropOutsideWindow(layer, newest - _localWindow[layer] + 1, move);
        int evicted = 0, budget = _budget[layer];
        while (_live[layer * _kvHeads] > budget)
        {
            if (_policy.Kind == CacheKind.Tova)
            {
                // One decision per layer: the latest query's attention summed over every head of the layer.
                int n = _live[layer * _kvHeads];
                Span<float> sum = _pooled.AsSpan(0, n);
                sum.Clear();
                for (int k = 0; k < _kvHeads; k++)
                {
                    ReadOnlySpan<float> a = _acc.AsSpan((layer * _kvHeads + k) * _cap, n);
                    for (int i = 0; i < n; i++) sum[i] += a[i];
                }
                int victim = EvictionRules.Lowest(Positions(layer, 0), sum, _policy.Sinks, long.MaxValue);
                if (victim < 0) break;
                for (int k = 0; k < _kvHeads; k++) Remove(layer, k, victim, move);
            }
            else
            {
                bool any = false;
                for (int k = 0; k < _kvHeads; k++)
                {
                    if (Live(layer, k) <= budget) continue;
                    int victim = Victim(layer, k, newest, keysT);
                    if (victim < 0) continue;
                    Remove(layer, k, victim, move);
                    any = true;
                }
                if (!any) break;
            }
            evicted++;
        }
        return evicted;
    }

    /// <summary>A sliding-window layer: drops every token at a position ≤ <paramref name="oldest"/> (the next query is W
    /// past it), which are the first slots since the layer keeps stream order, and shifts the rest down.</summary>
    private int DropOutsideWindow(int layer, long oldest, SlotMove move)
    {
        int dropped = 0;
        for (int k = 0; k < _kvHeads; k++)
        {
            int h = layer * _kvHeads + k, b = h * _cap, n = _live[h], d = 0;
            while (d < n && _pos[b + d] <= oldest) d++;
            if (d == 0) continue;
            for (int i = d; i < n; i++)
            {
                move(layer, k, i, i - d);
                _pos[b + i - d] = _pos[b + i];
            }
            for (int i = 0; i < n - d; i++) { _byRank[b + i] = i; _rankOf[b + i] = i; }   // stream order: rank = slot
            _live[h] = n - d;
            if (k == 0) dropped = d;
        }
        return dropped;
    }

    private int Victim(int layer, int kvHead, long newest, Func<int, (float[] Keys, int Offset, int Stride, int Dim)>? keysT)
    {
        int h = layer * _kvHeads + kvHead, n = _live[h];
        ReadOnlySpan<long> pos = Positions(layer, kvHead);
        ReadOnlySpan<float> acc = _acc.AsSpan(h * _cap, n);
        switch (_policy.Kind)
        {
            case CacheKind.H2O:
                return EvictionRules.H2O(pos, acc, _policy.Sinks, newest, _policy.Window);
            case CacheKind.SnapKv or CacheKind.Pyramid:
            {
                Span<float> votes = _votesSum.AsSpan(0, n), pooled = _pooled.AsSpan(0, n);
                votes.Clear();
                for (int r = 0; r < _window; r++)
                {
                    ReadOnlySpan<float> row = _votes.AsSpan((h * _window + r) * _cap, n);
                    for (int i = 0; i < n; i++) votes[i] += row[i];
                }
                EvictionRules.Pool(_byRank.AsSpan(h * _cap, n), votes, pooled);
                return EvictionRules.Lowest(pos, pooled, _policy.Sinks, newest - ProtectedWindow(layer) + 1);
            }
            case CacheKind.KeyDiff:
            {
                var (keys, offset, stride, dim) = keysT!(kvHead);
                return EvictionRules.KeyDiff(keys.AsSpan(offset), stride, dim, pos, _policy.Sinks, _mean);
            }
            default:
                return -1;
        }
    }

    /// <summary>Removes slot <paramref name="victim"/> of (layer, KV head): the last slot moves into its place.</summary>
    private void Remove(int layer, int kvHead, int victim, SlotMove move)
    {
        int h = layer * _kvHeads + kvHead, last = --_live[h], b = h * _cap;
        // Drop the victim from the stream order, then rename the moved slot (last → victim) there.
        for (int r = _rankOf[b + victim]; r < last; r++)
        {
            _byRank[b + r] = _byRank[b + r + 1];
            _rankOf[b + _byRank[b + r]] = r;
        }
        if (victim == last) return;
        int moved = _rankOf[b + last];
        _byRank[b + moved] = victim;
        _rankOf[b + victim] = moved;
        move(layer, kvHead, last, victim);
        _pos[h * _cap + victim] = _pos[h * _cap + last];
        _acc[h * _cap + victim] = _acc[h * _cap + last];
        for (int r = 0; r < _window; r++) _votes[(h * _window + r) * _cap + victim] = _votes[(h * _window + r) * _cap + last];
    }
}

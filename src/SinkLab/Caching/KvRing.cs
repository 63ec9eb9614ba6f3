namespace SinkLab.Caching;

/// <summary>
/// Slot bookkeeping of a KV cache under a <see cref="CachePolicy"/>: which physical slot each token's key and value
/// go to, which slots the next token sees, what is evicted, and the positions RoPE uses. No data lives here, so it
/// is tested on its own.
/// <para>Layout: slots <c>[0, P)</c> are pinned (the first P tokens of the stream: the sinks of <c>sink:S+W</c>, the kept
/// prefix of <c>shift:K</c>); slots <c>[P, P + R)</c> are a ring holding the rest, oldest at <see cref="RingStart"/>.
/// Evicting moves the ring start; nothing is ever copied.</para>
/// <para>Positions: keys are stored rotated at their position in the stream. Because RoPE scores depend only on the
/// distance between query and key, and the ring holds consecutive tokens that end right before the query, the
/// ring's distances are the same in stream and in-cache positions. Only the pinned keys differ: inside the cache the
/// query sits at <see cref="QueryPosition"/> (= pinned + ring tokens visible − 1, i.e. S + W once full), so the session
/// rotates a second copy of the query at that position for the pinned slots. That is StreamingLLM's re-indexing
/// ("keys cached before RoPE, rotated at read time with positions inside the cache") without re-rotating W keys per
/// token; a test checks it against a literal implementation.</para>
/// </summary>
public sealed class KvRing
{
    private readonly CachePolicy _policy;
    private readonly int _budget;   // eviction policies: tokens kept after each step

    /// <summary>Creates the bookkeeping for <paramref name="policy"/>; <paramref name="context"/> is the capacity of
    /// full and shift caches.</summary>
    /// <exception cref="ArgumentException">A policy a session cannot hold (recompute) or sizes that leave no room.</exception>
    public KvRing(CachePolicy policy, int context, int layers = 1)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _policy = policy;
        if (policy.IsEviction)
        {
            // The eviction policies keep their own slots per layer and head (EvictingCache); the ring only counts: it
            // holds the largest layer budget, so a chunk never brings more tokens than one step may add before
            // evicting, and every position is the stream position.
            if (policy.Window < 1) throw new ArgumentException($"cache policy {policy}: the budget W must be ≥ 1");
            _budget = policy.MaxLayerBudget(layers);
            Pinned = 0; RingCapacity = _budget + 1;
            return;
        }
        switch (policy.Kind)
        {
            case CacheKind.Full:
                ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
                Pinned = 0; RingCapacity = context; break;
            case CacheKind.Sink:
                if (policy.Window < 1) throw new ArgumentException($"cache policy {policy}: the window W must be ≥ 1");
                if (policy.Sinks < 0) throw new ArgumentException($"cache policy {policy}: the sink count S must be ≥ 0");
                Pinned = policy.Sinks; RingCapacity = policy.Window + 1; break;   // W kept + the token being processed
            case CacheKind.Shift:
                if (policy.Sinks >= context - 1)
                    throw new ArgumentException($"cache policy {policy}: K = {policy.Sinks} must be smaller than the cache size − 1 ({context - 1})");
                Pinned = policy.Sinks; RingCapacity = context - policy.Sinks; break;
            default:
                throw new ArgumentException($"cache policy {policy} is not a cache (run it with the stream evaluator)");
        }
    }

    /// <summary>Pinned slots P.</summary>
    public int Pinned { get; }
    /// <summary>Ring slots R.</summary>
    public int RingCapacity { get; }
    /// <summary>Physical slots: P + R.</summary>
    public int Capacity => Pinned + RingCapacity;
    /// <summary>Tokens fed so far (the stream position of the next token).</summary>
    public long Position { get; private set; }
    /// <summary>Tokens evicted so far.</summary>
    public long Evicted { get; private set; }
    /// <summary>Pinned slots in use.</summary>
    public int PinnedLive => (int)Math.Min(Position, Pinned);
    /// <summary>Ring slot (0-based inside the ring) of the oldest live ring token.</summary>
    public int RingStart { get; private set; }
    /// <summary>Live ring tokens.</summary>
    public int RingLive { get; private set; }
    /// <summary>Tokens in the cache.</summary>
    public int Live => PinnedLive + RingLive;
    /// <summary>True once pinned keys are seen from a query position other than the stream position.</summary>
    public bool Reindexed => Evicted > 0 && !_policy.OriginalPositions;

    /// <summary>Evicts what the policy requires before new tokens arrive and returns how many of
    /// <paramref name="wanted"/> tokens may be processed together now (≥ 1).</summary>
    /// <exception cref="InvalidOperationException">A full dense cache.</exception>
    public int BeginChunk(int wanted)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(wanted, 1);
        int toPinned = (int)Math.Min(wanted, Math.Max(0, Pinned - Position));
        if (toPinned > 0 && toPinned == wanted) return wanted;
        int free = RingCapacity - RingLive;
        switch (_policy.Kind)
        {
            case CacheKind.Full when free == 0:
                throw new InvalidOperationException($"context full: {Position} tokens fill the cache of {Capacity}");
            case CacheKind.Shift when free == 0:
                Evict(RingLive / 2);   // llama.cpp: n_discard = (n_past − n_keep) / 2
                free = RingCapacity - RingLive;
                break;
        }
        // Sink policy: the ring keeps one free slot after every step, so free ≥ 1 here; a chunk larger than the free
        // slots would let its later tokens see more than W old tokens.
        return toPinned + Math.Min(wanted - toPinned, free);
    }

    /// <summary>Physical slot of the token at stream position <paramref name="position"/> that is being added
    /// (between <see cref="BeginChunk"/> and <see cref="EndChunk"/>).</summary>
    public int SlotOf(long position)
    {
        if (position < Pinned) return (int)position;
        long ringIndex = RingLive + (position - Math.Max(Position, Pinned));   // chronological index inside the ring
        return Pinned + (int)((RingStart + ringIndex) % RingCapacity);
    }

    /// <summary>What the token at stream position <paramref name="position"/> of the running chunk sees: pinned slots
    /// <c>[0, pinned)</c> and ring tokens <c>ring</c> in chronological order (first segment from
    /// <c>Pinned + RingStart</c>, the rest wrapping to <c>Pinned</c>), and its query position for pinned keys.</summary>
    public (int Pinned, int Segment1, int Segment2, long QueryPosition) Visible(long position)
    {
        int pinned = (int)Math.Min(position + 1, Pinned);
        long ringNew = Math.Max(0, position + 1 - Math.Max(Position, Pinned));
        int ring = checked((int)(RingLive + ringNew));   // 0 while the stream is still filling the pinned slots
        int seg1 = Math.Min(ring, RingCapacity - RingStart);
        return (pinned, seg1, ring - seg1, QueryPosition(pinned, ring, position));
    }

    private long QueryPosition(int pinned, int ring, long position) => _policy.OriginalPositions ? position : pinned + ring - 1;

    /// <summary>Records that <paramref name="count"/> tokens were added, then evicts what the policy drops after a step.</summary>
    public void EndChunk(int count)
    {
        long toRing = Math.Max(0, Position + count - Math.Max(Position, Pinned));
        RingLive += (int)toRing;
        Position += count;
        if (RingLive > RingCapacity) throw new InvalidOperationException("KV ring overflow (chunk larger than BeginChunk allowed)");
        if (_policy.Kind == CacheKind.Sink && RingLive > _policy.Window) Evict(RingLive - _policy.Window);
        if (_policy.IsEviction && RingLive > _budget) Evict(RingLive - _budget);
    }

    private void Evict(int count)
    {
        RingStart = (RingStart + count) % RingCapacity;
        RingLive -= count;
        Evicted += count;
    }

    /// <summary>StreamingLLM's <c>evict_for_space</c>: under a sink policy, evicts the oldest window tokens so that
    /// <paramref name="needed"/> more tokens fit without further eviction (as its chat demo does before each prompt).
    /// Other policies are left alone. Returns the tokens evicted.</summary>
    public int EvictForSpace(int needed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(needed);
        if (_policy.Kind != CacheKind.Sink) return 0;
        int over = Live + needed - (Pinned + _policy.Window);
        int count = Math.Clamp(over, 0, RingLive);
        if (count > 0) Evict(count);
        return count;
    }

    /// <summary>Empties the cache.</summary>
    public void Reset()
    {
        Position = 0; Evicted = 0; RingStart = 0; RingLive = 0;
    }

    /// <summary>The live tokens in order: physical slot, stream position, and position inside the cache.</summary>
    public IEnumerable<(int Slot, long StreamPosition, int CachePosition)> Contents()
    {
        for (int i = 0; i < PinnedLive; i++) yield return (i, i, i);
        long firstRing = Position - RingLive;
        for (int i = 0; i < RingLive; i++)
            yield return (Pinned + (RingStart + i) % RingCapacity, firstRing + i, PinnedLive + i);
    }
}

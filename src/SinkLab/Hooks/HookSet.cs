namespace SinkLab.Hooks;

/// <summary>What a hook sees: the point, its layer, the tensor's shape and its data, which the hook may change
/// in place (that is how interventions work). Valid only during the call.</summary>
public readonly ref struct HookEvent
{
    internal HookEvent(HookPoint point, int layer, string name, ReadOnlySpan<int> shape, Span<float> data, int firstPosition)
    {
        Point = point; Layer = layer; Name = name; Shape = shape; Data = data; FirstPosition = firstPosition;
    }

    /// <summary>The hook point.</summary>
    public HookPoint Point { get; }
    /// <summary>Block index (0 for model-level points).</summary>
    public int Layer { get; }
    /// <summary>Full name, e.g. <c>blocks.3.attn.hook_pattern</c>.</summary>
    public string Name { get; }
    /// <summary>Shape, row-major.</summary>
    public ReadOnlySpan<int> Shape { get; }
    /// <summary>The values; writes replace the tensor for the rest of the forward pass.</summary>
    public Span<float> Data { get; }
    /// <summary>Cache position of the first token of this step (0 for a fresh sequence).</summary>
    public int FirstPosition { get; }
}

/// <summary>A hook: reads or rewrites one intermediate.</summary>
public delegate void HookFunction(in HookEvent e);

/// <summary>
/// Hooks attached to points (by name). Attach a set to a session with <c>session.Hooks(set)</c> for the scope of a
/// <c>using</c>; a session without hooks pays one null check per point.
/// </summary>
public sealed class HookSet
{
    private readonly Dictionary<(HookPoint, int), List<HookFunction>> _hooks = [];

    /// <summary>Adds a hook at a named point (e.g. <c>blocks.0.attn.hook_pattern</c>).</summary>
    public HookSet Add(string name, HookFunction hook)
    {
        var (p, l) = HookNames.Parse(name);
        return Add(p, l, hook);
    }

    /// <summary>Adds a hook at a point of a layer (layer ignored for model-level points).</summary>
    public HookSet Add(HookPoint point, int layer, HookFunction hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        var key = (point, HookNames.IsPerLayer(point) ? layer : 0);
        if (!_hooks.TryGetValue(key, out var list)) _hooks[key] = list = [];
        list.Add(hook);
        return this;
    }

    /// <summary>Adds a hook at a point in every layer.</summary>
    public HookSet AddAllLayers(HookPoint point, int layers, HookFunction hook)
    {
        for (int l = 0; l < layers; l++) Add(point, l, hook);
        return this;
    }

    /// <summary>Whether any hook is attached at (point, layer).</summary>
    public bool Has(HookPoint point, int layer) => _hooks.ContainsKey((point, HookNames.IsPerLayer(point) ? layer : 0));

    internal void Fire(HookPoint point, int layer, string name, ReadOnlySpan<int> shape, Span<float> data, int firstPosition)
    {
        if (!_hooks.TryGetValue((point, HookNames.IsPerLayer(point) ? layer : 0), out var list)) return;
        var e = new HookEvent(point, layer, name, shape, data, firstPosition);
        foreach (HookFunction h in list) h(in e);
    }
}

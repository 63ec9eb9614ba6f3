namespace SinkLab.Hooks;

/// <summary>A captured intermediate: shape and a copy of the values.</summary>
/// <param name="Name">Hook name.</param>
/// <param name="Shape">Shape, row-major.</param>
/// <param name="Data">Values.</param>
public sealed record CapturedTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>Flat index of a multi-index.</summary>
    public int Index(params int[] idx)
    {
        int flat = 0;
        for (int i = 0; i < Shape.Length; i++) flat = flat * Shape[i] + idx[i];
        return flat;
    }

    /// <summary>Value at a multi-index.</summary>
    public float this[params int[] idx] => Data[Index(idx)];
}

/// <summary>Tensors captured by <see cref="Inference.InferenceSession.RunWithCache"/>, by hook name, in forward order.</summary>
public sealed class ActivationCache
{
    private readonly Dictionary<string, CapturedTensor> _byName = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    /// <summary>Names captured, in the order the forward pass emitted them.</summary>
    public IReadOnlyList<string> Names => _order;

    /// <summary>Logits of every token [tokens, vocab].</summary>
    public float[] Logits { get; internal set; } = [];

    /// <summary>The tensor captured at <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">Not captured (filtered out or not a hook name).</exception>
    public CapturedTensor this[string name] => _byName.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"'{name}' was not captured");

    /// <summary>The tensor at a point and layer.</summary>
    public CapturedTensor this[HookPoint point, int layer = 0] => this[HookNames.Name(point, layer)];

    /// <summary>Whether a name was captured.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    internal void Add(in HookEvent e)
    {
        if (_byName.ContainsKey(e.Name)) throw new InvalidOperationException($"'{e.Name}' fired twice in one run (sequence longer than one batch?)");
        _byName[e.Name] = new CapturedTensor(e.Name, e.Shape.ToArray(), e.Data.ToArray());
        _order.Add(e.Name);
    }
}

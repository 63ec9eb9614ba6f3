using SinkLab.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SinkLab.Training;

/// <summary>
/// The engine's Llama graph in TorchSharp (RMSNorm, RoPE with adjacent pairs, GQA, SwiGLU, untied output), with
/// explicit attention so that every variant of <see cref="AttentionVariant"/> can be trained.
/// </summary>
public sealed class TinyLlama : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Embedding tok_embeddings;
    private readonly ModuleList<TinyBlock> layers;
    private readonly Parameter norm;
    private readonly Linear output;
    private readonly ModelSettings _s;
    private Tensor _cos, _sin;

    /// <summary>Creates the model with PyTorch's default initialisation (seed with <c>torch.manual_seed</c> first).</summary>
    public TinyLlama(ModelSettings s) : base("tiny_llama")
    {
        ArgumentNullException.ThrowIfNull(s);
        s.Validate();
        _s = s;
        tok_embeddings = nn.Embedding(s.Vocab, s.Dim);
        layers = nn.ModuleList(Enumerable.Range(0, s.Layers).Select(i => new TinyBlock(s, i)).ToArray());
        norm = nn.Parameter(ones(s.Dim));
        output = nn.Linear(s.Dim, s.Vocab, hasBias: false);
        // RoPE tables for positions 0..Context-1, computed in double like the engine.
        int half = s.HeadDim / 2;
        var cos = new float[s.Context * half];
        var sin = new float[s.Context * half];
        for (int p = 0; p < s.Context; p++)
            for (int i = 0; i < half; i++)
            {
                double th = p * Math.Pow(s.RopeBase, -2.0 * i / s.HeadDim);
                cos[p * half + i] = (float)Math.Cos(th);
                sin[p * half + i] = (float)Math.Sin(th);
            }
        _cos = tensor(cos, [s.Context, half]);
        _sin = tensor(sin, [s.Context, half]);
        RegisterComponents();
    }

    /// <summary>Settings the model was built with.</summary>
    public ModelSettings Settings => _s;

    /// <summary>Where the parameters live (<see cref="MoveTo"/>; the CPU until moved).</summary>
    public Device Device { get; private set; } = CPU;

    /// <summary>Moves the parameters and the RoPE tables to <paramref name="device"/> (before the optimizer is made).</summary>
    public TinyLlama MoveTo(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
        if (device.type == DeviceType.CPU) return this;
        this.to(device);
        Tensor cos = _cos.to(device), sin = _sin.to(device);
        _cos.Dispose(); _sin.Dispose();
        (_cos, _sin) = (cos, sin);
        return this;
    }

    /// <summary>A float32 copy of a weight on the CPU, wherever it lives.</summary>
    internal static float[] Host(Tensor t)
    {
        if (t.device_type == DeviceType.CPU) return t.data<float>().ToArray();
        using Tensor c = t.cpu();
        return c.data<float>().ToArray();
    }

    /// <summary>Logits [B, T, V] for tokens [B, T]; <paramref name="allowed"/> is an optional [B, T, T] boolean
    /// mask of visible keys (intra-document attention), combined with the causal mask.</summary>
    public override Tensor forward(Tensor tokens, Tensor? allowed)
    {
        using var scope = NewDisposeScope();
        long T = tokens.shape[1];
        if (T > _s.Context) throw new ArgumentException($"sequence of {T} tokens exceeds the context {_s.Context}");
        Tensor x = tok_embeddings.forward(tokens);
        Tensor causal = ones(T, T, dtype: ScalarType.Bool, device: tokens.device).tril();
        Tensor visible = allowed is null ? causal.unsqueeze(0) : allowed.logical_and(causal.unsqueeze(0));
        Tensor cos = _cos[..(int)T], sin = _sin[..(int)T];
        foreach (TinyBlock b in layers) x = b.Forward(x, visible, cos, sin);
        return output.forward(RmsNorm(x, norm, _s.RmsEps)).MoveToOuterDisposeScope();
    }

    internal static Tensor RmsNorm(Tensor x, Tensor g, float eps) => x * rsqrt(x.pow(2).mean([-1], keepdim: true) + eps) * g;

    /// <summary>Named float32 copies of every weight, GGUF layout (row-major [out, in]).</summary>
    public IEnumerable<(string Name, long[] Shape, float[] Data)> Weights()
    {
        yield return (GgufKeys.TokenEmbedding, [_s.Vocab, _s.Dim], Host(tok_embeddings.weight!));
        yield return (GgufKeys.OutputNorm, [_s.Dim], Host(norm));
        yield return (GgufKeys.Output, [_s.Vocab, _s.Dim], Host(output.weight!));
        foreach (TinyBlock b in layers)
            foreach (var w in b.Weights()) yield return w;
    }
}

/// <summary>One transformer block.</summary>
internal sealed class TinyBlock : nn.Module
{
    private readonly Parameter attention_norm, ffn_norm;
    private readonly Linear wq, wk, wv, wo, w1, w2, w3;
    private readonly Parameter? sinks;
    private readonly Linear? gate;
    private readonly ModelSettings _s;
    private readonly int _index;

    public TinyBlock(ModelSettings s, int index) : base($"block{index}")
    {
        _s = s;
        _index = index;
        int kv = s.KvHeads * s.HeadDim;
        attention_norm = nn.Parameter(ones(s.Dim));
        ffn_norm = nn.Parameter(ones(s.Dim));
        wq = nn.Linear(s.Dim, s.Dim, hasBias: false);
        wk = nn.Linear(s.Dim, kv, hasBias: false);
        wv = nn.Linear(s.Dim, kv, hasBias: false);
        wo = nn.Linear(s.Dim, s.Dim, hasBias: false);
        w1 = nn.Linear(s.Dim, s.Hidden, hasBias: false);
        w2 = nn.Linear(s.Hidden, s.Dim, hasBias: false);
        w3 = nn.Linear(s.Dim, s.Hidden, hasBias: false);
        if (s.Attention == AttentionVariant.SinkLogit) sinks = nn.Parameter(zeros(s.Heads));
        if (s.Attention == AttentionVariant.Gated) gate = nn.Linear(s.Dim, s.Heads, hasBias: false);
        RegisterComponents();
    }

    private static Tensor Rope(Tensor x, Tensor cos, Tensor sin)
    {
        // x [B, H, T, hd] with adjacent pairs (2i, 2i+1), like llama.cpp's LLAMA_ROPE_TYPE_NORM.
        long[] shape = x.shape;
        Tensor pairs = x.reshape(shape[0], shape[1], shape[2], shape[3] / 2, 2);
        Tensor x0 = pairs.select(-1, 0), x1 = pairs.select(-1, 1);
        Tensor c = cos.unsqueeze(0).unsqueeze(0), s = sin.unsqueeze(0).unsqueeze(0);
        return stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).reshape(shape);
    }

    public Tensor Forward(Tensor x, Tensor visible, Tensor cos, Tensor sin)
    {
        long B = x.shape[0], T = x.shape[1];
        int H = _s.Heads, KV = _s.KvHeads, hd = _s.HeadDim;
        Tensor xn = TinyLlama.RmsNorm(x, attention_norm, _s.RmsEps);
        Tensor q = Rope(wq.forward(xn).view(B, T, H, hd).transpose(1, 2), cos, sin);
        Tensor k = Rope(wk.forward(xn).view(B, T, KV, hd).transpose(1, 2), cos, sin);
        Tensor v = wv.forward(xn).view(B, T, KV, hd).transpose(1, 2);
        if (KV != H)
        {
            k = k.repeat_interleave(H / KV, dim: 1);
            v = v.repeat_interleave(H / KV, dim: 1);
        }
        Tensor mask = visible.unsqueeze(1);                                       // [B or 1, 1, T, T]
        Tensor att;
        if (_s.FusedAttention && _s.Attention == AttentionVariant.Softmax)
            att = nn.functional.scaled_dot_product_attention(q, k, v, mask);    // same 1/√hd scale, masked keys left out
        else
            att = ExplicitAttention(q, k, v, mask, B, T);
        if (gate is not null) att = att * sigmoid(gate.forward(xn)).transpose(1, 2).unsqueeze(-1);
        x = x + wo.forward(att.transpose(1, 2).reshape(B, T, H * hd));
        Tensor hn = TinyLlama.RmsNorm(x, ffn_norm, _s.RmsEps);
        return x + w2.forward(nn.functional.silu(w1.forward(hn)) * w3.forward(hn));
    }

    private Tensor ExplicitAttention(Tensor q, Tensor k, Tensor v, Tensor mask, long B, long T)
    {
        int H = _s.Heads, hd = _s.HeadDim;
        Tensor scores = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(hd);         // [B, H, T, T]
        Tensor weights;
        switch (_s.Attention)
        {
            case AttentionVariant.Sigmoid:
                weights = sigmoid(scores + _s.SigmoidBias) * mask.to_type(ScalarType.Float32);
                break;
            case AttentionVariant.Softmax1:
            case AttentionVariant.SinkLogit:
            {
                Tensor masked = scores.masked_fill(mask.logical_not(), double.NegativeInfinity);
                Tensor extra = _s.Attention == AttentionVariant.SinkLogit
                    ? sinks!.view(1, H, 1, 1).expand(B, H, T, 1)
                    : zeros(B, H, T, 1, device: scores.device);
                weights = nn.functional.softmax(cat([masked, extra], -1), -1).narrow(-1, 0, T);
                break;
            }
            case AttentionVariant.Softpick:
            {
                // Zuhri et al. 2025, stable form: ReLU(e^(s−m) − e^(−m)) / (Σ|e^(s−m) − e^(−m)| + 1e-8), masked keys left out.
                Tensor masked = scores.masked_fill(mask.logical_not(), double.NegativeInfinity);
                Tensor m = masked.amax([-1L], keepdim: true);
                Tensor e = exp(masked - m) - exp(-m);
                Tensor abs = where(mask, e.abs(), zeros_like(e));
                weights = nn.functional.relu(e) / (abs.sum(-1, keepdim: true) + 1e-8);
                break;
            }
            default:
                weights = nn.functional.softmax(scores.masked_fill(mask.logical_not(), double.NegativeInfinity), -1);
                break;
        }
        return weights.matmul(v);                                                  // [B, H, T, hd]
    }

    public IEnumerable<(string Name, long[] Shape, float[] Data)> Weights()
    {
        static float[] D(Tensor t) => TinyLlama.Host(t);
        string B(string s) => GgufKeys.Block(_index, s);
        int kv = _s.KvHeads * _s.HeadDim;
        yield return (B(GgufKeys.AttnQ), [_s.Dim, _s.Dim], D(wq.weight!));
        yield return (B(GgufKeys.AttnK), [kv, _s.Dim], D(wk.weight!));
        yield return (B(GgufKeys.AttnV), [kv, _s.Dim], D(wv.weight!));
        yield return (B(GgufKeys.AttnOutput), [_s.Dim, _s.Dim], D(wo.weight!));
        yield return (B(GgufKeys.AttnNorm), [_s.Dim], D(attention_norm));
        yield return (B(GgufKeys.FfnGate), [_s.Hidden, _s.Dim], D(w1.weight!));
        yield return (B(GgufKeys.FfnDown), [_s.Dim, _s.Hidden], D(w2.weight!));
        yield return (B(GgufKeys.FfnUp), [_s.Hidden, _s.Dim], D(w3.weight!));
        yield return (B(GgufKeys.FfnNorm), [_s.Dim], D(ffn_norm));
        if (sinks is not null) yield return (B(GgufKeys.AttnSinks), [_s.Heads], D(sinks));
        if (gate is not null) yield return (B(GgufKeys.AttnGate), [_s.Heads, _s.Dim], D(gate.weight!));
    }
}

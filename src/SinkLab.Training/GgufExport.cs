using SinkLab.Evaluation;
using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Training;

/// <summary>Writes a trained <see cref="TinyLlama"/> as a llama GGUF the engine (and, for softmax models, llama.cpp)
/// loads: llama.cpp's keys and tensor names, gpt-oss's <c>attn_sinks</c> for sink logits, <c>sinklab.*</c> keys
/// for the variant.</summary>
public static class GgufExport
{
    /// <summary>The GGUF writer for the model and its vocabulary (BOS set to <paramref name="bosOverride"/> when given,
    /// as the sink-token variant does), with the synthetic task's settings when it was trained on one.</summary>
    public static GgufWriter ToGguf(TinyLlama model, Vocabulary vocab, string name, int? bosOverride = null, SyntheticTask? task = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocab);
        ModelSettings s = model.Settings;
        if (vocab.Count != s.Vocab) throw new ArgumentException($"the vocabulary has {vocab.Count} tokens, the model {s.Vocab}");
        const string arch = "llama";
        var w = new GgufWriter();
        w.Add(GgufKeys.Architecture, GgufValue.Of(arch));
        w.Add(GgufKeys.Name, GgufValue.Of(name));
        w.Add(GgufKeys.Arch(arch, GgufKeys.ContextLength), GgufValue.Of((uint)s.Context));
        w.Add(GgufKeys.Arch(arch, GgufKeys.EmbeddingLength), GgufValue.Of((uint)s.Dim));
        w.Add(GgufKeys.Arch(arch, GgufKeys.FeedForwardLength), GgufValue.Of((uint)s.Hidden));
        w.Add(GgufKeys.Arch(arch, GgufKeys.BlockCount), GgufValue.Of((uint)s.Layers));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCount), GgufValue.Of((uint)s.Heads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCountKv), GgufValue.Of((uint)s.KvHeads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RopeDimensionCount), GgufValue.Of((uint)s.HeadDim));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RopeFreqBase), GgufValue.Of(s.RopeBase));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RmsEpsilon), GgufValue.Of(s.RmsEps));
        string variant = AttentionVariantNames.Name(s.Attention);
        if (s.Attention != AttentionVariant.Softmax) w.Add(GgufKeys.AttentionVariant, GgufValue.Of(variant));
        if (s.Attention == AttentionVariant.Sigmoid) w.Add(GgufKeys.SigmoidBias, GgufValue.Of(s.SigmoidBias));
        task?.WriteTo(w);
        w.Add(GgufKeys.TokenizerModel, GgufValue.Of("llama"));
        w.Add(GgufKeys.Tokens, GgufValue.Of(new GgufArray(GgufValueType.String, vocab.Texts)));
        w.Add(GgufKeys.Scores, GgufValue.Of(new GgufArray(GgufValueType.Float32, vocab.Scores)));
        w.Add(GgufKeys.TokenTypes, GgufValue.Of(new GgufArray(GgufValueType.Int32, vocab.Types.Select(t => (int)t).ToArray())));
        w.Add(GgufKeys.BosId, GgufValue.Of((uint)(bosOverride ?? vocab.BosId)));
        w.Add(GgufKeys.EosId, GgufValue.Of((uint)vocab.EosId));
        w.Add(GgufKeys.UnknownId, GgufValue.Of(0u));
        foreach (var (tensor, shape, data) in model.Weights())
            w.AddTensor(tensor, shape.Reverse().ToArray(), data);   // GGUF dimensions run fastest-first
        return w;
    }

}

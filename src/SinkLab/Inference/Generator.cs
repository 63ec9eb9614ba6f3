using SinkLab.Models;

namespace SinkLab.Inference;

/// <summary>Autoregressive generation over an <see cref="InferenceSession"/>.</summary>
public static class Generator
{
    /// <summary>
    /// Feeds <paramref name="prompt"/> (already tokenized, BOS included if wanted), then samples up to
    /// <paramref name="maxTokens"/> tokens, calling <paramref name="onToken"/> for each as it comes. Stops early at
    /// an end-of-generation token (EOS, EOT, a chat end-of-turn marker: <see cref="Model.EndOfGeneration"/>; unless <paramref name="ignoreEos"/>), at a full dense cache (bounded cache policies never fill), or when <paramref name="cancel"/> fires.
    /// </summary>
    /// <returns>The prompt followed by the generated ids.</returns>
    public static List<int> Generate(InferenceSession session, ReadOnlySpan<int> prompt, int maxTokens, Sampler sampler,
        Action<int>? onToken = null, bool ignoreEos = false, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        if (prompt.IsEmpty) throw new ArgumentException("the prompt must hold at least one token (BOS)", nameof(prompt));
        var ids = new List<int>(prompt.Length + maxTokens);
        ids.AddRange(prompt);
        foreach (int t in prompt) sampler.Accept(t);
        ReadOnlySpan<float> logits = session.Prefill(prompt);
        IReadOnlySet<int> end = session.Model.EndOfGeneration;
        for (int i = 0; i < maxTokens && !cancel.IsCancellationRequested; i++)
        {
            int next = sampler.Sample(logits);
            ids.Add(next);
            sampler.Accept(next);
            onToken?.Invoke(next);
            if (!ignoreEos && end.Contains(next)) break;
            if (i + 1 == maxTokens || session.IsFull) break;
            logits = session.Decode(next);
        }
        return ids;
    }
}

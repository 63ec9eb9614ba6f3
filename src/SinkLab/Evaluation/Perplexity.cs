using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Evaluation;

/// <summary>Result of <see cref="Perplexity.Run"/>.</summary>
/// <param name="Ppl">exp(mean NLL) over all scored tokens.</param>
/// <param name="PplStdErr">Standard error of the perplexity, as llama.cpp reports it (±).</param>
/// <param name="Chunks">Chunks evaluated.</param>
/// <param name="Tokens">Tokens in the tokenized text (BOS included).</param>
/// <param name="ScoredTokens">Next-token predictions scored.</param>
/// <param name="RunningPpl">Perplexity over chunks 1..k after each chunk k.</param>
/// <param name="Context">Chunk length.</param>
public sealed record PerplexityResult(double Ppl, double PplStdErr, int Chunks, int Tokens, long ScoredTokens, double[] RunningPpl, int Context);

/// <summary>
/// Perplexity by llama.cpp's <c>llama-perplexity</c> protocol: tokenize the whole text once (BOS first); cut it into
/// consecutive chunks of n_ctx tokens; put BOS in each chunk's first slot; evaluate the chunk from an empty cache;
/// score only the second half: the logits at positions n_ctx/2 .. n_ctx−2 predicting the tokens after them.
/// </summary>
public static class Perplexity
{
    /// <summary>Runs the protocol on <paramref name="text"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="text">Whole evaluation text.</param>
    /// <param name="context">Chunk length n_ctx (≥ 8, ≤ the model's context unless larger caches are wanted).</param>
    /// <param name="maxChunks">Stop after this many chunks (null: all).</param>
    /// <param name="threads">Chunks evaluated at once, each on its own thread and session.</param>
    /// <param name="progress">Receives (chunks done, chunks total).</param>
    /// <exception cref="ArgumentException">Text too short for two chunks, or a bad setting.</exception>
    /// <param name="setup">A prefix that takes BOS's place in every chunk, and hooks (e.g. activation quantization)
    /// attached to every worker's session; null: neither.</param>
    public static PerplexityResult Run(Model model, string text, int context, int? maxChunks = null, int threads = 1,
        IProgress<(int Done, int Total)>? progress = null, PerplexitySetup? setup = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(text);
        if (context < 8) throw new ArgumentOutOfRangeException(nameof(context), context, "context must be at least 8 tokens");
        if (maxChunks is <= 0) throw new ArgumentOutOfRangeException(nameof(maxChunks), maxChunks, "chunks must be positive");
        int[] tokens = model.Tokenizer.Encode(text, addSpecial: true);
        if (tokens.Length < 2 * context)
            throw new ArgumentException($"the text has {tokens.Length} tokens; perplexity with a context of {context} needs at least {2 * context}", nameof(text));
        int chunks = tokens.Length / context;
        if (maxChunks is int m) chunks = Math.Min(chunks, m);
        int vocab = model.Config.VocabSize, first = context / 2, bos = model.Tokenizer.BosId;

        // Chunks are independent: each worker thread runs whole chunks in its own single-threaded session, which
        // scales better than splitting every small matrix product. Sums are combined in chunk order, so the result
        // does not depend on the thread count.
        var chunkNll = new double[chunks];
        var chunkNll2 = new double[chunks];
        int done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        Parallel.For(0, chunks, options,
            () => new ChunkWorker(model, context, setup),
            (c, _, worker) =>
            {
                Span<int> chunk = worker.Chunk;
                tokens.AsSpan(c * context, context).CopyTo(chunk);
                if (bos >= 0) chunk[0] = bos;
                worker.Session.Reset();
                // With a prefix, the cached prefix stands where BOS stood: the chunk's tokens 1.. follow it, and logits
                // row j − 1 predicts token j + 1.
                int skip = worker.Session.PrefixLength > 0 ? 1 : 0;
                worker.Session.Evaluate(chunk[skip..], worker.Logits);
                double sum = 0, sum2 = 0;
                for (int j = first; j < context - 1; j++)
                {
                    double v = -LogSoftmaxAt(worker.Logits.AsSpan((j - skip) * vocab, vocab), tokens[c * context + j + 1]);
                    sum += v;
                    sum2 += v * v;
                }
                chunkNll[c] = sum;
                chunkNll2[c] = sum2;
                int finished = Interlocked.Increment(ref done);
                if (progress != null) lock (chunkNll) progress.Report((finished, chunks));
                return worker;
            },
            worker => worker.Dispose());

        double nll = 0, nll2 = 0;
        long count = 0;
        var running = new double[chunks];
        for (int c = 0; c < chunks; c++)
        {
            nll += chunkNll[c];
            nll2 += chunkNll2[c];
            count += context - 1 - first;
            running[c] = Math.Exp(nll / count);
        }
        double mean = nll / count, var = nll2 / count - mean * mean;
        double ppl = Math.Exp(mean);
        double err = var > 0 && count > 1 ? ppl * Math.Sqrt(var / (count - 1)) : 0;
        return new PerplexityResult(ppl, err, chunks, tokens.Length, count, running, context);
    }

    private sealed class ChunkWorker
    {
        private readonly IDisposable? _hooks;

        public ChunkWorker(Model model, int context, PerplexitySetup? setup)
        {
            int prefix = setup?.Prefix?.Count ?? 0;
            Session = new InferenceSession(model, new SessionOptions
            {
                Threads = 1, ContextSize = context - (prefix > 0 ? 1 : 0) + prefix, BatchSize = context, Prefix = setup?.Prefix,
                HalfPrecisionKv = setup?.HalfPrecisionKv ?? false,
            });
            if (setup?.Hooks != null) _hooks = Session.Hooks(setup.Hooks);
            Logits = new float[context * model.Config.VocabSize];
            Chunk = new int[context];
        }

        public InferenceSession Session { get; }
        public float[] Logits { get; }
        public int[] Chunk { get; }

        public void Dispose()
        {
            _hooks?.Dispose();
            Session.Dispose();
        }
    }

    /// <summary>log softmax(logits)[token], with the sum of exponentials in double as llama.cpp computes it.</summary>
    public static double LogSoftmaxAt(ReadOnlySpan<float> logits, int token)
    {
        float max = logits[0];
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += MathF.Exp(l - max);
        return logits[token] - max - Math.Log(sum);
    }
}

/// <summary>Extras of a perplexity run (<see cref="Perplexity.Run"/>).</summary>
public sealed record PerplexitySetup
{
    /// <summary>A prefix kept in every chunk's cache in place of BOS (<see cref="SessionOptions.Prefix"/>); the scored
    /// tokens are the same as without it.</summary>
    public IReadOnlyList<int>? Prefix { get; init; }
    /// <summary>Hooks attached to every worker's session (run concurrently on several threads: they must not share
    /// mutable state; <see cref="ActivationQuantization"/>'s do not).</summary>
    public HookSet? Hooks { get; init; }
    /// <summary>Keys and values rounded to half precision in the cache, as llama.cpp's default F16 cache holds them
    /// (<see cref="SessionOptions.HalfPrecisionKv"/>).</summary>
    public bool HalfPrecisionKv { get; init; }
}

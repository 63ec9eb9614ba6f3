using SinkLab.Tokenization;

namespace SinkLab.Analysis;

/// <summary>Cuts a corpus into analysis sequences.</summary>
public static class CorpusSequences
{
    /// <summary>
    /// <paramref name="count"/> sequences of <paramref name="length"/> tokens: BOS, then consecutive non-overlapping
    /// runs of length − 1 tokens of the text (tokenized once, without BOS).
    /// </summary>
    /// <exception cref="ArgumentException">The text holds fewer than count × (length − 1) tokens, or the
    /// tokenizer has no BOS.</exception>
    public static int[][] Take(ITokenizer tokenizer, string text, int count, int length)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 4);
        if (tokenizer.BosId < 0) throw new ArgumentException("the model's tokenizer has no BOS token", nameof(tokenizer));
        return Take(tokenizer.BosId, tokenizer.Encode(text, addSpecial: false), count, length);
    }

    /// <summary><see cref="Take(ITokenizer, string, int, int)"/> on text already tokenized (without BOS).</summary>
    public static int[][] Take(int bos, int[] ids, int count, int length)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 4);
        long need = (long)count * (length - 1);
        if (ids.Length < need)
            throw new ArgumentException($"the text has {ids.Length} tokens; {count} sequences of {length} need {need} (BOS excluded)", "text");
        var seqs = new int[count][];
        for (int s = 0; s < count; s++)
        {
            seqs[s] = new int[length];
            seqs[s][0] = bos;
            Array.Copy(ids, s * (length - 1), seqs[s], 1, length - 1);
        }
        return seqs;
    }
}

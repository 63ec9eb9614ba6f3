using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Formats;

/// <summary>
/// Karpathy's llama2.c checkpoints (version 0: a 7×int32 header, then float32 weights) and tokenizer files,
/// converted to the GGUF that llama.cpp's <c>llama-convert-llama2c-to-ggml</c> writes: the same keys, key order,
/// tensor names, order and types, so both load through one path.
/// </summary>
public static class Llama2cCheckpoint
{
    /// <summary>Header of a llama2.c checkpoint.</summary>
    /// <param name="Dim">Residual width.</param>
    /// <param name="HiddenDim">FFN width.</param>
    /// <param name="Layers">Blocks.</param>
    /// <param name="Heads">Query heads.</param>
    /// <param name="KvHeads">Key/value heads.</param>
    /// <param name="VocabSize">Vocabulary size (absolute value of the stored field).</param>
    /// <param name="SeqLen">Context length the model was trained with.</param>
    /// <param name="SharedClassifier">True when the stored vocab size is positive: the output matrix is the embedding.</param>
    public sealed record Header(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
    {
        /// <summary>Dimension of one head.</summary>
        public int HeadDim => Dim / Heads;
        /// <summary>Width of all key heads.</summary>
        public int KvDim => KvHeads * HeadDim;
    }

    private const int HeaderBytes = 28;

    /// <summary>Reads and validates the header against the file size.</summary>
    /// <exception cref="GgufFormatException">Implausible header or a size that does not match it.</exception>
    public static Header ReadHeader(string path, long fileLength, ReadOnlySpan<byte> head)
    {
        if (head.Length < HeaderBytes)
            throw new GgufFormatException(path, 0, "llama2.c header", $"{HeaderBytes} bytes", $"a {fileLength}-byte file");
        var fields = new int[7];
        for (int i = 0; i < 7; i++) fields[i] = BinaryPrimitives.ReadInt32LittleEndian(head[(4 * i)..]);
        int F(int i) => fields[i];
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        for (int i = 0; i < 7; i++)
        {
            int v = i == 5 ? Math.Abs(F(i)) : F(i);
            if (v <= 0 || v > (i == 5 ? 1 << 22 : 1 << 20))
                throw new GgufFormatException(path, 4 * i, $"llama2.c header field {names[i]}", "a positive size", F(i).ToString());
        }
        var h = new Header(F(0), F(1), F(2), F(3), F(4), Math.Abs(F(5)), F(6), F(5) > 0);
        if (h.Dim % h.Heads != 0 || h.Heads % h.KvHeads != 0)
            throw new GgufFormatException(path, 12, "llama2.c header n_heads/n_kv_heads", $"n_heads dividing dim {h.Dim} and n_kv_heads dividing n_heads", $"{h.Heads}/{h.KvHeads}");
        long expected = HeaderBytes + 4L * FloatCount(h);
        if (fileLength != expected)
            throw new GgufFormatException(path, fileLength, "llama2.c checkpoint size", $"{expected} bytes for this header", $"{fileLength} bytes");
        return h;
    }

    private static long FloatCount(Header h)
    {
        long d = h.Dim, l = h.Layers, hd = h.HiddenDim, kv = h.KvDim;
        long n = (long)h.VocabSize * d + l * d + l * d * d + 2 * l * d * kv + l * d * d + l * d + 3 * l * d * hd + d
            + (long)h.SeqLen * h.HeadDim;   // freq_cis_real and freq_cis_imag, seq_len × head_dim/2 each
        return h.SharedClassifier ? n : n + (long)h.VocabSize * d;
    }

    /// <summary>Reads a llama2.c tokenizer file as llama.cpp's converter does: ids 0/1/2 become <c>&lt;unk&gt;</c>,
    /// <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>; <c>&lt;0xXX&gt;</c> entries are byte tokens; spaces become U+2581.</summary>
    /// <exception cref="GgufFormatException">Truncated or malformed file.</exception>
    public static (string[] Texts, float[] Scores, TokenType[] Types) ReadTokenizer(string path, int vocabSize)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var strict = new UTF8Encoding(false, true);
        int pos = 4;
        if (bytes.Length < 4) throw new GgufFormatException(path, 0, "max_token_length", "4 bytes", $"a {bytes.Length}-byte file");
        var texts = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new TokenType[vocabSize];
        for (int id = 0; id < vocabSize; id++)
        {
            if (bytes.Length - pos < 8) throw new GgufFormatException(path, pos, $"token {id}", "score and length", "end of file");
            scores[id] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(pos));
            int len = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos + 4));
            pos += 8;
            if (len < 0 || len > bytes.Length - pos)
                throw new GgufFormatException(path, pos - 4, $"token {id} length", $"0..{bytes.Length - pos}", len.ToString());
            string text;
            try { text = strict.GetString(bytes, pos, len); }
            catch (DecoderFallbackException) { throw new GgufFormatException(path, pos, $"token {id} text", "valid UTF-8", "invalid bytes"); }
            pos += len;
            (texts[id], types[id]) = id switch
            {
                0 => ("<unk>", TokenType.Unknown),
                1 => ("<s>", TokenType.Control),
                2 => ("</s>", TokenType.Control),
                _ when text.Length == 0 => (text, TokenType.Control),
                _ when SentencePieceBpeTokenizer.TryParseByteToken(text, out _) => (text, TokenType.Byte),
                _ => (text.Replace(' ', '\u2581'), TokenType.Normal),
            };
        }
        return (texts, scores, types);
    }

    /// <summary>A GGUF writer holding the checkpoint and its tokenizer, laid out as llama.cpp's converter does
    /// (except that <c>llama.context_length</c> is the checkpoint's real <c>seq_len</c>, not a hard-coded 128).</summary>
    public static GgufWriter ToGguf(string checkpointPath, string tokenizerPath)
    {
        byte[] raw = File.ReadAllBytes(checkpointPath);
        Header h = ReadHeader(checkpointPath, raw.Length, raw);
        var (texts, scores, types) = ReadTokenizer(tokenizerPath, h.VocabSize);
        float[] all = MemoryMarshal.Cast<byte, float>(raw.AsSpan(HeaderBytes)).ToArray();
        int offset = 0;
        float[] Next(long count) { float[] a = all.AsSpan(offset, (int)count).ToArray(); offset += (int)count; return a; }

        int d = h.Dim, l = h.Layers, hd = h.HiddenDim, kv = h.KvDim;
        float[] emb = Next((long)h.VocabSize * d);
        float[] rmsAtt = Next((long)l * d);
        float[] wq = Next((long)l * d * d), wk = Next((long)l * d * kv), wv = Next((long)l * d * kv), wo = Next((long)l * d * d);
        float[] rmsFfn = Next((long)l * d);
        float[] w1 = Next((long)l * d * hd), w2 = Next((long)l * hd * d), w3 = Next((long)l * d * hd);
        float[] rmsFinal = Next(d);
        offset += h.SeqLen * h.HeadDim;   // skip the precomputed RoPE tables
        float[] wcls = h.SharedClassifier ? emb : Next((long)h.VocabSize * d);

        const string arch = "llama";
        var w = new GgufWriter();
        w.Add(GgufKeys.Tokens, GgufValue.Of(new GgufArray(GgufValueType.String, texts)));
        w.Add(GgufKeys.Scores, GgufValue.Of(new GgufArray(GgufValueType.Float32, scores)));
        w.Add(GgufKeys.TokenTypes, GgufValue.Of(new GgufArray(GgufValueType.Int32, Array.ConvertAll(types, t => (int)t))));
        w.Add(GgufKeys.TokenizerModel, GgufValue.Of("llama"));
        w.Add(GgufKeys.Architecture, GgufValue.Of(arch));
        w.Add(GgufKeys.Name, GgufValue.Of("llama"));
        w.Add(GgufKeys.UnknownId, GgufValue.Of(0u));
        w.Add(GgufKeys.BosId, GgufValue.Of(1u));
        w.Add(GgufKeys.EosId, GgufValue.Of(2u));
        w.Add(GgufKeys.SeparatorId, GgufValue.Of(uint.MaxValue));
        w.Add(GgufKeys.PaddingId, GgufValue.Of(uint.MaxValue));
        w.Add(GgufKeys.Arch(arch, GgufKeys.ContextLength), GgufValue.Of((uint)h.SeqLen));
        w.Add(GgufKeys.Arch(arch, GgufKeys.EmbeddingLength), GgufValue.Of((uint)d));
        w.Add(GgufKeys.Arch(arch, GgufKeys.FeedForwardLength), GgufValue.Of((uint)hd));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCount), GgufValue.Of((uint)h.Heads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCountKv), GgufValue.Of((uint)h.KvHeads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.BlockCount), GgufValue.Of((uint)l));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RopeDimensionCount), GgufValue.Of((uint)h.HeadDim));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RmsEpsilon), GgufValue.Of(1e-5f));

        w.AddTensor(GgufKeys.TokenEmbedding, [d, h.VocabSize], emb);
        w.AddTensor(GgufKeys.OutputNorm, [d], rmsFinal);
        w.AddTensor(GgufKeys.Output, [d, h.VocabSize], wcls);
        for (int i = 0; i < l; i++)
        {
            w.AddTensor(GgufKeys.Block(i, GgufKeys.AttnQ), [d, d], Slice(wq, i, d * d));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.AttnK), [d, kv], Slice(wk, i, d * kv));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.AttnV), [d, kv], Slice(wv, i, d * kv));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.AttnOutput), [d, d], Slice(wo, i, d * d));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.AttnNorm), [d], Slice(rmsAtt, i, d));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.FfnGate), [d, hd], Slice(w1, i, d * hd));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.FfnDown), [hd, d], Slice(w2, i, d * hd));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.FfnUp), [d, hd], Slice(w3, i, d * hd));
            w.AddTensor(GgufKeys.Block(i, GgufKeys.FfnNorm), [d], Slice(rmsFfn, i, d));
        }
        return w;
    }

    private static float[] Slice(float[] a, int index, int size) => a.AsSpan(index * size, size).ToArray();

    /// <summary>The converted GGUF as bytes in memory.</summary>
    public static byte[] ToGgufBytes(string checkpointPath, string tokenizerPath)
    {
        using var ms = new MemoryStream();
        ToGguf(checkpointPath, tokenizerPath).Write(ms);
        return ms.ToArray();
    }
}

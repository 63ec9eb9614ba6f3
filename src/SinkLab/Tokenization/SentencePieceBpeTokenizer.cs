using System.Text;
using SinkLab.Gguf;

namespace SinkLab.Tokenization;

/// <summary>
/// SentencePiece-BPE as llama.cpp runs it (<c>tokenizer.ggml.model = llama</c>): a space prefix, spaces escaped to
/// U+2581 and never collapsed, greedy merging of the highest-scoring adjacent pair (ties: leftmost first), pieces
/// missing from the vocabulary re-split along their merges, and bytes as <c>&lt;0xXX&gt;</c> fallback tokens.
/// </summary>
public sealed class SentencePieceBpeTokenizer : ITokenizer
{
    private const char SpaceMark = '\u2581';
    private readonly string[] _texts;
    private readonly float[] _scores;
    private readonly TokenType[] _types;
    private readonly Dictionary<string, int> _byText;
    private readonly int[] _byteTokens = new int[256];
    private readonly (string Text, int Id)[] _specials;   // longest first, as llama.cpp's special-token cache
    private readonly byte[][] _pieces;

    private SentencePieceBpeTokenizer(string[] texts, float[] scores, TokenType[] types, int bos, int eos, int unk,
        bool addBos, bool addEos, bool addSpacePrefix)
    {
        _texts = texts;
        _scores = scores;
        _types = types;
        BosId = bos;
        EosId = eos;
        UnknownId = unk;
        AddBos = addBos;
        AddEos = addEos;
        AddSpacePrefix = addSpacePrefix;
        _byText = new Dictionary<string, int>(texts.Length, StringComparer.Ordinal);
        for (int i = 0; i < texts.Length; i++) _byText.TryAdd(texts[i], i);
        for (int b = 0; b < 256; b++)
        {
            if (_byText.TryGetValue($"<0x{b:X2}>", out int id)) _byteTokens[b] = id;
            else if (_byText.TryGetValue(((char)b).ToString(), out id) && b < 128) _byteTokens[b] = id;
            else _byteTokens[b] = unk;
        }
        var specials = new List<(string, int)>();
        for (int i = 0; i < texts.Length; i++)
            if (types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown && texts[i].Length > 0) specials.Add((texts[i], i));
        _specials = [.. specials.OrderByDescending(s => s.Item1.Length).ThenBy(s => s.Item2)];
        _pieces = new byte[texts.Length][];
        for (int i = 0; i < texts.Length; i++) _pieces[i] = MakePiece(i);
    }

    /// <summary>Builds the tokenizer from a vocabulary (texts, scores and types of equal length).</summary>
    /// <exception cref="ArgumentException">Lengths differ, or a special id is outside the vocabulary.</exception>
    public static SentencePieceBpeTokenizer Create(string[] texts, float[] scores, TokenType[] types,
        int bosId, int eosId, int unknownId, bool addBos = true, bool addEos = false, bool addSpacePrefix = true)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(types);
        if (texts.Length == 0) throw new ArgumentException("the vocabulary is empty", nameof(texts));
        if (scores.Length != texts.Length || types.Length != texts.Length)
            throw new ArgumentException($"vocabulary has {texts.Length} texts, {scores.Length} scores and {types.Length} types", nameof(scores));
        foreach (var (name, id) in new[] { ("BOS", bosId), ("EOS", eosId), ("unknown", unknownId) })
            if (id < -1 || id >= texts.Length) throw new ArgumentException($"{name} id {id} is outside the vocabulary of {texts.Length}");
        return new SentencePieceBpeTokenizer(texts, scores, types, bosId, eosId, unknownId, addBos, addEos, addSpacePrefix);
    }

    /// <inheritdoc/>
    public int VocabSize => _texts.Length;
    /// <inheritdoc/>
    public int BosId { get; }
    /// <inheritdoc/>
    public int EosId { get; }
    /// <summary>Unknown-token id, or -1.</summary>
    public int UnknownId { get; }
    /// <inheritdoc/>
    public bool AddBos { get; }
    /// <summary>Whether EOS is appended when encoding with special tokens.</summary>
    public bool AddEos { get; }
    /// <summary>Whether a space is put before the text (SentencePiece's <c>add_dummy_prefix</c>).</summary>
    public bool AddSpacePrefix { get; }

    /// <summary>Score of a vocabulary entry (merge priority).</summary>
    public float Score(int id) => _scores[id];
    /// <summary>Type of a vocabulary entry.</summary>
    public TokenType Type(int id) => _types[id];
    /// <inheritdoc/>
    public string TokenText(int id) => _texts[id];

    /// <summary>Looks up the id of an exact vocabulary text.</summary>
    public bool TryGetId(string text, out int id) => _byText.TryGetValue(text, out id);

    /// <inheritdoc/>
    public int[] Encode(ReadOnlySpan<char> text, bool addSpecial = true, bool parseSpecial = false)
    {
        var output = new List<int>(text.Length / 2 + 2);
        bool prevSpecial = true;
        if (addSpecial && AddBos && BosId >= 0) output.Add(BosId);
        foreach (var (start, length, special) in Partition(text, parseSpecial))
        {
            if (special >= 0) { output.Add(special); prevSpecial = true; continue; }
            var sb = new StringBuilder(length + 1);
            if (AddSpacePrefix && prevSpecial) sb.Append(' ');
            sb.Append(text.Slice(start, length));
            sb.Replace(' ', SpaceMark);
            new Session(this, sb.ToString()).Tokenize(output);
            prevSpecial = false;
        }
        if (addSpecial && AddEos && EosId >= 0) output.Add(EosId);
        return [.. output];
    }

    /// <summary>Splits text around special-token texts (user-defined always; control and unknown when asked).</summary>
    private List<(int Start, int Length, int Special)> Partition(ReadOnlySpan<char> text, bool parseSpecial)
    {
        var frags = new List<(int Start, int Length, int Special)>();
        if (text.Length > 0) frags.Add((0, text.Length, -1));
        foreach (var (s, id) in _specials)
        {
            if (!parseSpecial && _types[id] != TokenType.UserDefined) continue;
            for (int f = 0; f < frags.Count; f++)
            {
                var (start, length, special) = frags[f];
                if (special >= 0) continue;
                int hit = text.Slice(start, length).IndexOf(s, StringComparison.Ordinal);
                if (hit < 0) continue;
                frags.RemoveAt(f);
                int ins = f;
                if (hit > 0) frags.Insert(ins++, (start, hit, -1));
                frags.Insert(ins++, (start + hit, s.Length, id));
                int rest = length - hit - s.Length;
                if (rest > 0) frags.Insert(ins, (start + hit + s.Length, rest, -1));
                f = ins - 1;   // continue with the remainder
            }
        }
        return frags;
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int id)
    {
        if ((uint)id >= (uint)_pieces.Length) throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_pieces.Length}");
        return _pieces[id];
    }

    private byte[] MakePiece(int id)
    {
        string t = _texts[id];
        switch (_types[id])
        {
            case TokenType.Control: return [];
            case TokenType.Unknown: return "\u2585"u8.ToArray();
            case TokenType.Byte when TryParseByteToken(t, out byte b):
                return [b];
            case TokenType.UserDefined: return Encoding.UTF8.GetBytes(t);
            default: return Encoding.UTF8.GetBytes(t.Replace(SpaceMark, ' '));
        }
    }

    /// <summary>Parses a byte-fallback token text <c>&lt;0xXX&gt;</c>.</summary>
    public static bool TryParseByteToken(string text, out byte value)
    {
        value = 0;
        return text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>'
            && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        bool first = true;
        foreach (int id in ids)
        {
            byte[] piece = TokenBytes(id);
            if (piece.Length == 0) continue;
            int skip = first && AddSpacePrefix && piece[0] == (byte)' ' ? 1 : 0;
            first = false;
            for (int i = skip; i < piece.Length; i++) bytes.Add(piece[i]);
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>One run of llama.cpp's merge loop. Symbols are code points of the escaped text (UTF-16 offsets);
    /// pieces are looked up without allocating through the vocabulary's span lookup.</summary>
    private sealed class Session
    {
        private struct Symbol { public int Start, Length, Prev, Next; }

        private readonly SentencePieceBpeTokenizer _tok;
        private readonly string _text;
        private readonly Symbol[] _symbols;
        private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
        private readonly PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)> _queue = new(BigramOrder.Instance);
        private readonly Dictionary<string, (int Left, int Right)> _revMerge = new(StringComparer.Ordinal);
        private bool _lastUnknown;   // the last token output was an unknown standing for characters without byte tokens

        public Session(SentencePieceBpeTokenizer tok, string text)
        {
            _tok = tok;
            _text = text;
            _vocab = tok._byText.GetAlternateLookup<ReadOnlySpan<char>>();
            var symbols = new List<Symbol>(text.Length);
            int offs = 0, index = 0;
            while (offs < text.Length)
            {
                int len = char.IsHighSurrogate(text[offs]) && offs + 1 < text.Length && char.IsLowSurrogate(text[offs + 1]) ? 2 : 1;
                offs += len;
                symbols.Add(new Symbol { Start = offs - len, Length = len, Prev = index - 1, Next = offs == text.Length ? -1 : index + 1 });
                index++;
            }
            _symbols = [.. symbols];
        }

        public void Tokenize(List<int> output)
        {
            if (_symbols.Length == 0) return;
            for (int i = 1; i < _symbols.Length; i++) TryAddBigram(i - 1, i);
            while (_queue.TryDequeue(out var bigram, out _))
            {
                ref Symbol left = ref _symbols[bigram.Left];
                ref Symbol right = ref _symbols[bigram.Right];
                if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Size) continue;
                left.Length += right.Length;
                right.Length = 0;
                left.Next = right.Next;
                if (right.Next >= 0) _symbols[right.Next].Prev = bigram.Left;
                TryAddBigram(left.Prev, bigram.Left);
                TryAddBigram(bigram.Left, left.Next);
            }
            for (int i = 0; i != -1; i = _symbols[i].Next) Resegment(i, output);
        }

        private void TryAddBigram(int left, int right)
        {
            if (left == -1 || right == -1) return;
            int size = _symbols[left].Length + _symbols[right].Length;
            ReadOnlySpan<char> text = _text.AsSpan(_symbols[left].Start, size);
            if (!_vocab.TryGetValue(text, out int id)) return;
            _queue.Enqueue((left, right, size), (_tok._scores[id], left));
            _revMerge[text.ToString()] = (left, right);
        }

        private void Resegment(int index, List<int> output)
        {
            Symbol s = _symbols[index];
            ReadOnlySpan<char> text = _text.AsSpan(s.Start, s.Length);
            if (_vocab.TryGetValue(text, out int id)) { output.Add(id); _lastUnknown = false; return; }
            if (!_revMerge.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var parts))
            {
                byte[] bytes = Encoding.UTF8.GetBytes(text.ToArray());
                if (Array.TrueForAll(bytes, b => _tok._byteTokens[b] >= 0 && _tok._byteTokens[b] != _tok.UnknownId))
                {
                    foreach (byte b in bytes) output.Add(_tok._byteTokens[b]);
                    _lastUnknown = false;
                    return;
                }
                // No byte tokens for this character (a vocabulary without <0xNN> pieces, such as a converted
                // SentencePiece-style tokenizer.json): one unknown token per run of such characters, as that
                // tokenizer's fuse_unk does (llama.cpp has no fallback here: its byte lookup throws). Without an
                // unknown token the character cannot be represented and is dropped.
                if (!_lastUnknown && _tok.UnknownId >= 0) output.Add(_tok.UnknownId);
                _lastUnknown = _tok.UnknownId >= 0;
                return;
            }
            _lastUnknown = false;
            Resegment(parts.Left, output);
            Resegment(parts.Right, output);
        }
    }

    /// <summary>Highest score first; on equal scores, the leftmost pair first (llama.cpp's <c>llm_bigram_spm</c>).</summary>
    private sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();
        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            int c = y.Score.CompareTo(x.Score);
            return c != 0 ? c : x.Left.CompareTo(y.Left);
        }
    }
}

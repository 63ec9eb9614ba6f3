using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace SinkLab.Tokenization;

/// <summary>
/// Byte-level BPE (GGUF <c>tokenizer.ggml.model = gpt2</c>: GPT-2, Llama 3, Qwen2, SmolLM): text is split by the
/// pre-tokenizer regex that <c>tokenizer.ggml.pre</c> names, each piece's UTF-8 bytes are written with GPT-2's
/// byte-to-character table, and adjacent symbols are merged by the rank of <c>tokenizer.ggml.merges</c>, lowest first.
/// Control and user-defined tokens are matched whole in the text when special parsing is on.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    private readonly string[] _texts;
    private readonly TokenType[] _types;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<(string, string), int> _ranks;
    private readonly Regex[] _pre;
    private readonly (string Text, int Id)[] _specials;   // longest first
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);   // Encode may run on several threads
    private readonly bool _addEos;

    private ByteLevelBpeTokenizer(string[] texts, TokenType[] types, Dictionary<(string, string), int> ranks, Regex[] pre, int bos, int eos, bool addBos, bool addEos)
    {
        _texts = texts;
        _types = types;
        _ranks = ranks;
        _pre = pre;
        BosId = bos;
        EosId = eos;
        AddBos = addBos;
        _addEos = addEos;
        _ids = new Dictionary<string, int>(texts.Length, StringComparer.Ordinal);
        for (int i = 0; i < texts.Length; i++) _ids.TryAdd(texts[i], i);
        _specials = [.. Enumerable.Range(0, texts.Length)
            .Where(i => types[i] is TokenType.Control or TokenType.UserDefined && texts[i].Length > 0)
            .Select(i => (texts[i], i)).OrderByDescending(s => s.Item1.Length)];
    }

    // The regexes of llama.cpp's llm_tokenizer_bpe, by pre-tokenizer type (llama.cpp spells the contractions as
    // '[sS] … rather than (?i:…), which in .NET would also fold characters such as 'ſ').
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private const string Contractions = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    private const string Llama3 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Digit = @"\p{N}";
    // o200k (gpt-oss, GPT-4o; llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT4O): tiktoken's pattern as the HF tokenizer.json has
    // it — an uppercase run ends a word where a lowercase run follows, the contraction is the word's suffix, up to
    // three digits, and a punctuation run takes trailing newlines and slashes. .NET has the Unicode classes it names,
    // so it is used as written (llama.cpp rewrites it for its own regex engine).
    private const string Upper = @"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", Lower = @"[\p{Ll}\p{Lm}\p{Lo}\p{M}]";
    private const string O200k = @"[^\r\n\p{L}\p{N}]?" + Upper + "*" + Lower + "+" + Contractions + "?"
        + @"|[^\r\n\p{L}\p{N}]?" + Upper + "+" + Lower + "*" + Contractions + "?"
        + @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The one table of pre-tokenizers (<c>tokenizer.ggml.pre</c> → regexes applied in order, each splitting
    /// the pieces the previous one left), with the names llama.cpp's vocabulary loader maps onto each type.</summary>
    private static readonly Dictionary<string, string[]> PreTokenizerTable = Table(
        (["default"], [@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"]),   // no tokenizer.ggml.pre: llama.cpp's default
        (["gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais", "roberta-bpe", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code"], [Gpt2]),
        (["llama3", "llama-bpe", "llama-v3", "dbrx", "smaug-bpe"], [Llama3]),
        (["qwen2", "deepseek-r1-qwen", "stablelm2"], [Qwen2]),
        (["gpt-4o", "llama4", "minimax-m2"], [O200k]),
        (["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"], [Digit, Gpt2]),   // every digit on its own first
        (["falcon"], [@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"]));

    private static Dictionary<string, string[]> Table(params (string[] Names, string[] Regexes)[] rows)
    {
        var table = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (names, regexes) in rows)
            foreach (string name in names) table.Add(name, regexes);
        return table;
    }

    /// <summary>The pre-tokenizer names this tokenizer knows (<c>tokenizer.ggml.pre</c>).</summary>
    public static IReadOnlyCollection<string> PreTokenizers => PreTokenizerTable.Keys;

    /// <summary>Splits a merge rule "left right" at its separating space (a symbol may itself start with a space-like
    /// character, so the search starts at index 1).</summary>
    public static bool TryParseMerge(string merge, out string left, out string right)
    {
        ArgumentNullException.ThrowIfNull(merge);
        int sp = merge.IndexOf(' ', 1);
        bool ok = sp > 0 && sp < merge.Length - 1;
        left = ok ? merge[..sp] : "";
        right = ok ? merge[(sp + 1)..] : "";
        return ok;
    }

    /// <summary>Builds the tokenizer. <paramref name="merges"/> are "left right" pairs, best first.</summary>
    /// <exception cref="ArgumentException">An unknown pre-tokenizer, or a merge that is not two symbols.</exception>
    public static ByteLevelBpeTokenizer Create(string[] texts, TokenType[] types, string[] merges, string pre, int bos, int eos, bool addBos, bool addEos)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(types);
        ArgumentNullException.ThrowIfNull(merges);
        if (!PreTokenizerTable.TryGetValue(pre, out string[]? patterns))
            throw new ArgumentException($"pre-tokenizer '{pre}' is not supported (supported: {string.Join(", ", PreTokenizers)})", nameof(pre));
        var ranks = new Dictionary<(string, string), int>(merges.Length);
        for (int i = 0; i < merges.Length; i++)
        {
            if (!TryParseMerge(merges[i], out string left, out string right))
                throw new ArgumentException($"merge {i} '{merges[i]}' is not two symbols separated by one space", nameof(merges));
            ranks.TryAdd((left, right), i);
        }
        Regex[] regexes = [.. patterns.Select(p => new Regex(p, RegexOptions.CultureInvariant | RegexOptions.Compiled))];
        return new ByteLevelBpeTokenizer(texts, types, ranks, regexes, bos, eos, addBos, addEos);
    }

    /// <inheritdoc/>
    public int VocabSize => _texts.Length;
    /// <inheritdoc/>
    public int BosId { get; }
    /// <inheritdoc/>
    public int EosId { get; }
    /// <inheritdoc/>
    public bool AddBos { get; }

    /// <inheritdoc/>
    public int[] Encode(ReadOnlySpan<char> text, bool addSpecial = true, bool parseSpecial = false)
    {
        var ids = new List<int>();
        if (addSpecial && AddBos && BosId >= 0) ids.Add(BosId);
        string s = text.ToString();
        int start = 0;
        if (parseSpecial)
        {
            for (int i = 0; i < s.Length;)
            {
                int match = -1;
                foreach (var (t, id) in _specials)
                    if (string.CompareOrdinal(s, i, t, 0, t.Length) == 0) { match = id; break; }
                if (match < 0) { i++; continue; }
                EncodeText(s[start..i], ids);
                ids.Add(match);
                i += _texts[match].Length;
                start = i;
            }
        }
        EncodeText(s[start..], ids);
        if (addSpecial && _addEos && EosId >= 0) ids.Add(EosId);
        return [.. ids];
    }

    private void EncodeText(string text, List<int> ids)
    {
        if (text.Length == 0) return;
        foreach (string piece in Pieces(_pre, text)) ids.AddRange(Bpe(piece));
    }

    /// <summary>Each regex in turn splits the pieces the previous one left.</summary>
    private static List<string> Pieces(IEnumerable<Regex> pre, string text)
    {
        List<string> pieces = [text];
        foreach (Regex re in pre)
        {
            var next = new List<string>();
            foreach (string p in pieces) Split(re, p, next);
            pieces = next;
        }
        return pieces;
    }

    /// <summary>The pieces pre-tokenizer <paramref name="pre"/> cuts <paramref name="text"/> into (BPE then runs inside
    /// each piece).</summary>
    internal static List<string> PreTokenize(string pre, string text)
        => Pieces(PreTokenizerTable[pre].Select(p => new Regex(p, RegexOptions.CultureInvariant)), text);

    /// <summary>Splits <paramref name="text"/> into the regex's matches and the text between them (llama.cpp keeps both).</summary>
    private static void Split(Regex re, string text, List<string> into)
    {
        int at = 0;
        for (Match m = re.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            if (m.Index > at) into.Add(text[at..m.Index]);
            into.Add(m.Value);
            at = m.Index + m.Length;
        }
        if (at < text.Length) into.Add(text[at..]);
    }

    private int[] Bpe(string piece)
    {
        if (_cache.TryGetValue(piece, out int[]? cached)) return cached;
        byte[] bytes = Encoding.UTF8.GetBytes(piece);
        var symbols = new List<string>(bytes.Length);
        foreach (byte b in bytes) symbols.Add(ByteToChar[b].ToString());
        while (symbols.Count > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out int r) && r < bestRank) { bestRank = r; best = i; }
            if (best < 0) break;
            string left = symbols[best], right = symbols[best + 1];
            // Merge every occurrence of this pair, left to right (GPT-2's bpe()).
            var merged = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && symbols[i] == left && symbols[i + 1] == right) { merged.Add(left + right); i++; }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }
        var ids = new List<int>(symbols.Count);
        foreach (string sym in symbols)
        {
            if (_ids.TryGetValue(sym, out int id)) { ids.Add(id); continue; }
            foreach (char c in sym)   // no merged entry: fall back to single byte symbols
                if (_ids.TryGetValue(c.ToString(), out int bid)) ids.Add(bid);
        }
        int[] result = [.. ids];
        if (_cache.Count < 100_000) _cache.TryAdd(piece, result);
        return result;
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int id)
    {
        if ((uint)id >= (uint)_texts.Length) throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_texts.Length}");
        if (_types[id] == TokenType.Control) return [];
        if (_types[id] == TokenType.UserDefined) return Encoding.UTF8.GetBytes(_texts[id]);
        var bytes = new byte[_texts[id].Length];
        int n = 0;
        foreach (char c in _texts[id])
        {
            if (CharToByte.TryGetValue(c, out byte b)) bytes[n++] = b;
            else return Encoding.UTF8.GetBytes(_texts[id]);   // not a byte-level entry: its text as is
        }
        return bytes[..n];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>();
        foreach (int id in ids) bytes.AddRange(TokenBytes(id));
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <inheritdoc/>
    public string TokenText(int id) => _texts[id];

    /// <summary>GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 onwards.</summary>
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }
}

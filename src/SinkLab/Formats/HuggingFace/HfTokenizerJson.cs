using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SinkLab.Formats.HuggingFace;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>.</summary>
/// <param name="Id">Token id.</param>
/// <param name="Content">Its text.</param>
/// <param name="Special">Marked special.</param>
/// <param name="Normalized">Matched after normalization.</param>
public sealed record HfAddedToken(int Id, string Content, bool Special, bool Normalized);

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a BPE model, and an encoder that follows the <c>tokenizers</c> library's
/// pipeline: added tokens split out of the raw text, the normalizer (Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD,
/// Lowercase, Strip), the pre-tokenizer (Sequence, ByteLevel, Split, Digits, Metaspace, Whitespace, WhitespaceSplit,
/// Punctuation), BPE merges by rank with byte fallback and fused unknowns, and the post-processor's special tokens
/// (TemplateProcessing, ByteLevel, Roberta, Bert). Components outside that set are refused by name. The converter uses it
/// to compute llama.cpp's <c>chkhsh</c> (which names the pre-tokenizer a GGUF gets), and the tests use it as the
/// reference a converted GGUF's tokenizer must reproduce.
/// </summary>
public sealed class HfTokenizerJson
{
    /// <summary>GPT-2's split pattern, as the <c>tokenizers</c> ByteLevel pre-tokenizer applies it.</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly char[] ByteToChar = BuildByteToChar();

    private readonly Dictionary<(int, int), (int Rank, int Id)> _merges = [];
    private readonly JsonElement? _normalizer, _preTokenizer, _postProcessor;
    private readonly (string Text, int Id)[] _addedLongestFirst;
    private readonly Dictionary<string, Regex> _regexes = new(StringComparer.Ordinal);

    private HfTokenizerJson(string path, JsonFile file)
    {
        Path = path;
        JsonElement root = file.Root;
        JsonElement model = file.Object(root, "model") ?? throw file.Wrong("model", "an object", null);
        ModelType = file.String(model, "type") ?? "BPE";
        if (ModelType != "BPE")
            throw new Gguf.ModelNotSupportedException(ModelType, $"{path}: tokenizer model '{ModelType}' is not supported (supported: BPE)");
        JsonElement vocab = file.Object(model, "vocab") ?? throw file.Wrong("model.vocab", "an object of token → id", null);
        foreach (JsonProperty p in vocab.EnumerateObject())
        {
            int id = p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v) && v >= 0 && v < 1 << 24 ? v
                : throw file.Wrong($"model.vocab.{JsonFile.Short(p.Name)}", "a token id in [0, 2^24)", p.Value);
            Vocab[p.Name] = id;
        }
        ByteFallback = file.Bool(model, "byte_fallback", false);
        FuseUnk = file.Bool(model, "fuse_unk", false);
        IgnoreMerges = file.Bool(model, "ignore_merges", false);
        UnkToken = file.String(model, "unk_token");
        if (file.String(model, "continuing_subword_prefix") is { Length: > 0 } || file.String(model, "end_of_word_suffix") is { Length: > 0 })
            throw new Gguf.ModelNotSupportedException("subword affixes", $"{path}: BPE with continuing_subword_prefix / end_of_word_suffix is not supported");
        if (file.Array(root, "added_tokens") is { } added)
            foreach (JsonElement a in added.EnumerateArray())
            {
                int id = file.Int(a, "id", 0, (1 << 24) - 1);
                string content = file.String(a, "content") ?? throw file.Wrong("added_tokens[].content", "a string", null);
                Added.Add(new HfAddedToken(id, content, file.Bool(a, "special", false), file.Bool(a, "normalized", true)));
            }
        _addedLongestFirst = [.. Added.Where(a => a.Content.Length > 0).Select(a => (a.Content, a.Id)).OrderByDescending(a => a.Content.Length)];
        JsonElement merges = file.Array(model, "merges") ?? default;
        if (merges.ValueKind == JsonValueKind.Array)
        {
            int rank = 0;
            foreach (JsonElement m in merges.EnumerateArray())
            {
                (string a, string b) = m.ValueKind switch
                {
                    JsonValueKind.String when SplitMerge(m.GetString()!) is { } pair => pair,
                    JsonValueKind.Array when m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String
                        => (m[0].GetString()!, m[1].GetString()!),
                    _ => throw file.Wrong($"model.merges[{rank}]", "\"left right\" or [left, right]", m),
                };
                Merges.Add((a, b));
                if (Vocab.TryGetValue(a, out int ia) && Vocab.TryGetValue(b, out int ib) && Vocab.TryGetValue(a + b, out int id))
                    _merges.TryAdd((ia, ib), (rank, id));
                rank++;
            }
        }
        // Cloned: the elements outlive the document they were read from.
        _normalizer = file.Object(root, "normalizer")?.Clone();
        _preTokenizer = file.Object(root, "pre_tokenizer")?.Clone();
        _postProcessor = file.Object(root, "post_processor")?.Clone();
        JsonElement? decoder = file.Object(root, "decoder");
        DecoderType = decoder is { } d ? file.String(d, "type") : null;
        // Check every component now, so an unsupported one is refused when the file is read, not in the middle of a run.
        if (_normalizer is { } n) CheckComponents(n, "normalizer", "normalizers", ["Sequence", "Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip"]);
        if (_preTokenizer is { } pt) CheckComponents(pt, "pre_tokenizer", "pretokenizers", ["Sequence", "ByteLevel", "Split", "Digits", "Metaspace", "Whitespace", "WhitespaceSplit", "Punctuation"]);
        if (_postProcessor is { } pp) CheckComponents(pp, "post_processor", "processors", ["Sequence", "TemplateProcessing", "ByteLevel", "RobertaProcessing", "BertProcessing"]);
    }

    /// <summary>The file.</summary>
    public string Path { get; }
    /// <summary>model.type (BPE).</summary>
    public string ModelType { get; }
    /// <summary>model.vocab: token → id.</summary>
    public Dictionary<string, int> Vocab { get; } = new(StringComparer.Ordinal);
    /// <summary>model.merges, best first.</summary>
    public List<(string Left, string Right)> Merges { get; } = [];
    /// <summary>added_tokens.</summary>
    public List<HfAddedToken> Added { get; } = [];
    /// <summary>model.byte_fallback.</summary>
    public bool ByteFallback { get; }
    /// <summary>model.fuse_unk.</summary>
    public bool FuseUnk { get; }
    /// <summary>model.ignore_merges.</summary>
    public bool IgnoreMerges { get; }
    /// <summary>model.unk_token.</summary>
    public string? UnkToken { get; }
    /// <summary>decoder.type (ByteLevel for GPT-2-style tokenizers, Sequence for SentencePiece-style ones).</summary>
    public string? DecoderType { get; }

    /// <summary>Byte-level BPE (GPT-2 style): the decoder maps characters back to bytes.</summary>
    public bool IsByteLevel => DecoderType == "ByteLevel" && !ByteFallback;
    /// <summary>SentencePiece-style BPE over ▁-marked text with byte fallback (llama.cpp's LlamaHfVocab condition).</summary>
    public bool IsSentencePieceLike => ByteFallback && DecoderType == "Sequence";

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="HuggingFaceFormatException">Missing, malformed, or a field of the wrong kind.</exception>
    /// <exception cref="Gguf.ModelNotSupportedException">A model or pipeline component outside the supported set.</exception>
    public static HfTokenizerJson Open(string path)
    {
        using JsonFile f = JsonFile.Open(path);
        return new HfTokenizerJson(path, f);
    }

    /// <summary>llama.cpp's <c>chkhsh</c>: SHA-256 of Python's <c>str()</c> of the ids that encoding its check text gives
    /// (special tokens added, as <c>tokenizer.encode</c> does).</summary>
    public string CheckHash()
    {
        int[] ids = Encode(LlamaCppCheckText, addSpecialTokens: true);
        string text = "[" + string.Join(", ", ids.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The text llama.cpp's convert_hf_to_gguf.py encodes to fingerprint a BPE pre-tokenizer.</summary>
    public const string LlamaCppCheckText =
        "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";

    /// <summary>Encodes <paramref name="text"/> as the <c>tokenizers</c> library would.</summary>
    /// <exception cref="HuggingFaceFormatException">A pattern of the file ran past its time limit.</exception>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        try { return EncodeCore(text, addSpecialTokens); }
        catch (RegexMatchTimeoutException e) { throw new HuggingFaceFormatException(Path, "pre-tokenizer pattern", "one that matches in time", JsonFile.Short(e.Pattern)); }
    }

    private int[] EncodeCore(string text, bool addSpecialTokens)
    {
        var ids = new List<int>();
        foreach (var (segment, addedId) in SplitAdded(text))
        {
            if (addedId >= 0) { ids.Add(addedId); continue; }
            string normalized = _normalizer is { } n ? Normalize(n, segment) : segment;
            var pieces = new List<string> { normalized };
            if (_preTokenizer is { } p) pieces = PreTokenize(p, pieces, first: true);
            foreach (string piece in pieces) if (piece.Length > 0) Bpe(piece, ids);
        }
        return addSpecialTokens && _postProcessor is { } pp ? PostProcess(pp, ids) : [.. ids];
    }

    private IEnumerable<(string Segment, int AddedId)> SplitAdded(string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length && _addedLongestFirst.Length > 0;)
        {
            int hit = -1, len = 0;
            foreach (var (t, id) in _addedLongestFirst)
                if (string.CompareOrdinal(text, i, t, 0, t.Length) == 0) { hit = id; len = t.Length; break; }
            if (hit < 0) { i++; continue; }
            if (i > start) yield return (text[start..i], -1);
            yield return ("", hit);
            i += len;
            start = i;
        }
        if (start < text.Length) yield return (text[start..], -1);
    }

    private void CheckComponents(JsonElement o, string what, string list, string[] known)
    {
        string type = o.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "(none)";
        if (Array.IndexOf(known, type) < 0)
            throw new Gguf.ModelNotSupportedException($"{what} {type}", $"{Path}: {what} '{type}' is not supported (supported: {string.Join(", ", known)})");
        if (type == "Sequence")
        {
            if (!o.TryGetProperty(list, out JsonElement items) || items.ValueKind != JsonValueKind.Array)
                throw new HuggingFaceFormatException(Path, $"{what}.{list}", "an array", "missing");
            foreach (JsonElement item in items.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object) throw new HuggingFaceFormatException(Path, $"{what}.{list}[]", "an object", item.ValueKind.ToString());
                CheckComponents(item, what, list, known);
            }
        }
        if (type is "Split" or "Replace") _ = Pattern(o);
    }

    private static string Str(JsonElement o, string key, string fallback = "")
        => o.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;

    private static bool Flag(JsonElement o, string key, bool fallback)
        => o.TryGetProperty(key, out JsonElement v) ? v.ValueKind == JsonValueKind.True || (v.ValueKind != JsonValueKind.False && fallback) : fallback;

    /// <summary>A Split/Replace pattern: {"String": s} (literal) or {"Regex": r}, compiled once.</summary>
    private Regex Pattern(JsonElement o)
    {
        if (!o.TryGetProperty("pattern", out JsonElement p) || p.ValueKind != JsonValueKind.Object)
            throw new HuggingFaceFormatException(Path, "pattern", "{\"String\": …} or {\"Regex\": …}", "missing");
        string key = p.GetRawText();
        if (_regexes.TryGetValue(key, out Regex? r)) return r;
        string source = p.TryGetProperty("Regex", out JsonElement re) && re.ValueKind == JsonValueKind.String ? re.GetString()!
            : p.TryGetProperty("String", out JsonElement s) && s.ValueKind == JsonValueKind.String ? Regex.Escape(s.GetString()!)
            : throw new HuggingFaceFormatException(Path, "pattern", "{\"String\": …} or {\"Regex\": …}", JsonFile.Short(key));
        try { r = new Regex(source, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(5)); }
        catch (ArgumentException e) { throw new HuggingFaceFormatException(Path, "pattern", "a regular expression", JsonFile.Short(e.Message)); }
        return _regexes[key] = r;
    }

    private string Normalize(JsonElement n, string s)
    {
        switch (Str(n, "type"))
        {
            case "Sequence":
                foreach (JsonElement x in n.GetProperty("normalizers").EnumerateArray()) s = Normalize(x, s);
                return s;
            case "Prepend": return s.Length == 0 ? s : Str(n, "prepend") + s;
            case "Replace": return Pattern(n).Replace(s, Str(n, "content").Replace("$", "$$", StringComparison.Ordinal));
            case "NFC": return s.Normalize(NormalizationForm.FormC);
            case "NFD": return s.Normalize(NormalizationForm.FormD);
            case "NFKC": return s.Normalize(NormalizationForm.FormKC);
            case "NFKD": return s.Normalize(NormalizationForm.FormKD);
            case "Lowercase": return s.ToLowerInvariant();
            default:   // Strip
                if (Flag(n, "strip_left", true)) s = s.TrimStart();
                return Flag(n, "strip_right", true) ? s.TrimEnd() : s;
        }
    }

    private List<string> PreTokenize(JsonElement p, List<string> pieces, bool first)
    {
        switch (Str(p, "type"))
        {
            case "Sequence":
                foreach (JsonElement x in p.GetProperty("pretokenizers").EnumerateArray()) pieces = PreTokenize(x, pieces, first);
                return pieces;
            case "ByteLevel":
            {
                bool prefix = Flag(p, "add_prefix_space", true), regex = Flag(p, "use_regex", true);
                var result = new List<string>();
                foreach (string piece in pieces)
                {
                    string s = prefix && !piece.StartsWith(' ') ? " " + piece : piece;
                    IEnumerable<string> parts = regex ? Split(s, Gpt2Regex, "Isolated", invert: false) : [s];
                    foreach (string part in parts) result.Add(ToByteChars(part));
                }
                return result;
            }
            case "Split":
            {
                Regex r = Pattern(p);
                string behavior = Str(p, "behavior", "Isolated");
                bool invert = Flag(p, "invert", false);
                return [.. pieces.SelectMany(s => Split(s, r, behavior, invert))];
            }
            case "Digits":
                return [.. pieces.SelectMany(s => Split(s, Flag(p, "individual_digits", false) ? SingleDigit : DigitRun, "Isolated", false))];
            case "Metaspace":
            {
                string rep = Str(p, "replacement", "▁");
                string scheme = Str(p, "prepend_scheme", Flag(p, "add_prefix_space", true) ? "always" : "never");
                bool split = Flag(p, "split", true);
                var result = new List<string>();
                for (int i = 0; i < pieces.Count; i++)
                {
                    string s = pieces[i].Replace(" ", rep, StringComparison.Ordinal);
                    if ((scheme == "always" || (scheme == "first" && first && i == 0)) && !s.StartsWith(rep, StringComparison.Ordinal)) s = rep + s;
                    if (split) result.AddRange(Split(s, new Regex(Regex.Escape(rep)), "MergedWithNext", false));
                    else result.Add(s);
                }
                return result;
            }
            case "Whitespace":
                return [.. pieces.SelectMany(s => Split(s, WordOrPunct, "Isolated", false)).Where(s => s.Trim().Length > 0)];
            case "WhitespaceSplit":
                return [.. pieces.SelectMany(s => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))];
            default:   // Punctuation
                return [.. pieces.SelectMany(s => Split(s, PunctuationChar, Str(p, "behavior", "Isolated"), false))];
        }
    }

    private static readonly Regex Gpt2Regex = new(Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
    private static readonly Regex SingleDigit = new(@"\p{Nd}", RegexOptions.CultureInvariant);
    private static readonly Regex DigitRun = new(@"\p{Nd}+", RegexOptions.CultureInvariant);
    private static readonly Regex WordOrPunct = new(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant);
    private static readonly Regex PunctuationChar = new(@"\p{P}", RegexOptions.CultureInvariant);

    /// <summary>The <c>tokenizers</c> split behaviours: matches (or, inverted, the text between them) are the delimiters;
    /// Removed drops them, Isolated keeps them as pieces, MergedWithPrevious/Next joins each to its neighbour,
    /// Contiguous joins runs of adjacent delimiters.</summary>
    internal static IEnumerable<string> Split(string s, Regex r, string behavior, bool invert)
    {
        var spans = new List<(int Start, int End, bool Delimiter)>();
        int pos = 0;
        foreach (Match m in r.Matches(s))
        {
            if (m.Length == 0) continue;
            if (m.Index > pos) spans.Add((pos, m.Index, invert));
            spans.Add((m.Index, m.Index + m.Length, !invert));
            pos = m.Index + m.Length;
        }
        if (pos < s.Length) spans.Add((pos, s.Length, invert));
        var result = new List<string>();
        switch (behavior)
        {
            case "Removed":
                foreach (var (a, b, d) in spans) if (!d) result.Add(s[a..b]);
                break;
            case "MergedWithPrevious":
            {
                int start = 0;
                foreach (var (a, b, d) in spans)
                    if (d && b > start) { result.Add(s[start..b]); start = b; }
                if (start < s.Length) result.Add(s[start..]);
                break;
            }
            case "MergedWithNext":
            {
                int start = 0;
                foreach (var (a, b, d) in spans)
                    if (d && a > start) { result.Add(s[start..a]); start = a; }
                if (start < s.Length) result.Add(s[start..]);
                break;
            }
            case "Contiguous":
            {
                int i = 0;
                while (i < spans.Count)
                {
                    int j = i;
                    while (j + 1 < spans.Count && spans[j + 1].Delimiter == spans[i].Delimiter && spans[i].Delimiter) j++;
                    result.Add(s[spans[i].Start..spans[j].End]);
                    i = j + 1;
                }
                break;
            }
            default:   // Isolated
                foreach (var (a, b, _) in spans) result.Add(s[a..b]);
                break;
        }
        return result;
    }

    /// <summary>BPE over one piece: symbols are its characters (code points) found in the vocabulary, or their UTF-8
    /// bytes as &lt;0xNN&gt; tokens (byte fallback), or the unknown token (consecutive unknowns fused when asked); then
    /// the adjacent pair of lowest merge rank is merged, the leftmost first, until none applies.</summary>
    private void Bpe(string piece, List<int> output)
    {
        if (IgnoreMerges && Vocab.TryGetValue(piece, out int whole)) { output.Add(whole); return; }
        var symbols = new List<int>();
        int unk = UnkToken != null && Vocab.TryGetValue(UnkToken, out int u) ? u : -1;
        bool lastUnk = false;
        for (int i = 0; i < piece.Length;)
        {
            int len = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]) ? 2 : 1;
            string ch = piece.Substring(i, len);
            i += len;
            if (Vocab.TryGetValue(ch, out int id)) { symbols.Add(id); lastUnk = false; continue; }
            if (ByteFallback)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(ch);
                var byteIds = new int[bytes.Length];
                bool all = true;
                for (int b = 0; b < bytes.Length && all; b++) all = Vocab.TryGetValue($"<0x{bytes[b]:X2}>", out byteIds[b]);
                if (all) { symbols.AddRange(byteIds); lastUnk = false; continue; }
            }
            if (unk < 0) throw new Gguf.ModelNotSupportedException("unknown character", $"{Path}: '{ch}' is not in the vocabulary and the tokenizer has no unk_token");
            if (!(FuseUnk && lastUnk)) symbols.Add(unk);
            lastUnk = true;
        }
        int n = symbols.Count;
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }
        var queue = new PriorityQueue<(int Pos, int Left, int Right), (int Rank, int Pos)>();
        void Push(int i)
        {
            int j = next[i];
            if (j >= 0 && _merges.TryGetValue((symbols[i], symbols[j]), out var m)) queue.Enqueue((i, symbols[i], symbols[j]), (m.Rank, i));
        }
        for (int i = 0; i + 1 < n; i++) Push(i);
        while (queue.TryDequeue(out var top, out _))
        {
            int i = top.Pos, j = next[i];
            if (!alive[i] || j < 0 || symbols[i] != top.Left || symbols[j] != top.Right) continue;
            symbols[i] = _merges[(top.Left, top.Right)].Id;
            alive[j] = false;
            next[i] = next[j];
            if (next[j] >= 0) prev[next[j]] = i;
            if (prev[i] >= 0) Push(prev[i]);
            Push(i);
        }
        for (int i = 0; i >= 0 && n > 0; i = next[i]) output.Add(symbols[i]);
    }

    private int[] PostProcess(JsonElement p, List<int> ids)
    {
        switch (Str(p, "type"))
        {
            case "Sequence":
                int[] current = [.. ids];
                foreach (JsonElement x in p.GetProperty("processors").EnumerateArray()) current = PostProcess(x, [.. current]);
                return current;
            case "TemplateProcessing":
            {
                var result = new List<int>();
                if (!p.TryGetProperty("single", out JsonElement single) || single.ValueKind != JsonValueKind.Array) return [.. ids];
                foreach (JsonElement item in single.EnumerateArray())
                {
                    if (item.TryGetProperty("Sequence", out _)) { result.AddRange(ids); continue; }
                    if (!item.TryGetProperty("SpecialToken", out JsonElement st)) continue;
                    string name = Str(st, "id");
                    if (p.TryGetProperty("special_tokens", out JsonElement specials) && specials.ValueKind == JsonValueKind.Object
                        && specials.TryGetProperty(name, out JsonElement entry) && entry.TryGetProperty("ids", out JsonElement sids))
                        foreach (JsonElement v in sids.EnumerateArray()) result.Add(v.GetInt32());
                    else if (Vocab.TryGetValue(name, out int id)) result.Add(id);
                }
                return [.. result];
            }
            case "RobertaProcessing":
            case "BertProcessing":
            {
                int Id(string key) => p.TryGetProperty(key, out JsonElement a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() == 2 ? a[1].GetInt32() : -1;
                int cls = Id("cls"), sep = Id("sep");
                return [.. (cls >= 0 ? new[] { cls } : []), .. ids, .. (sep >= 0 ? new[] { sep } : [])];
            }
            default:   // ByteLevel: offsets only
                return [.. ids];
        }
    }

    private static (string, string)? SplitMerge(string merge)
    {
        int sp = merge.IndexOf(' ', 1);
        return sp > 0 && sp < merge.Length - 1 ? (merge[..sp], merge[(sp + 1)..]) : null;
    }

    private static string ToByteChars(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s)) sb.Append(ByteToChar[b]);
        return sb.ToString();
    }

    /// <summary>GPT-2's byte ↔ printable character table.</summary>
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }
}

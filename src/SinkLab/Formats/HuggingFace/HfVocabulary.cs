using System.Text.Json;
using System.Text.RegularExpressions;
using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Formats.HuggingFace;

/// <summary>Which tokenizer files an architecture's converter reads, as llama.cpp's does.</summary>
public enum HfVocabKind
{
    /// <summary>tokenizer.model (SentencePiece) when present, else a SentencePiece-style tokenizer.json (Llama's
    /// LlamaHfVocab), else byte-level BPE (Llama 3).</summary>
    Llama,
    /// <summary>tokenizer.model (SentencePiece) only, with no space prefix (Gemma).</summary>
    SentencePieceNoPrefix,
    /// <summary>tokenizer.model, or byte-level BPE when tokenizer_config.json says GPT2Tokenizer (Phi-3 / Phi-4).</summary>
    Phi3,
    /// <summary>Byte-level BPE from tokenizer.json (GPT-2, Qwen, GPT-NeoX, StarCoder 2, OLMo 2, StableLM, MPT).</summary>
    ByteLevelBpe,
}

/// <summary>
/// Writes a checkpoint's tokenizer into GGUF metadata the way llama.cpp's converter does: a SentencePiece vocabulary
/// with scores and types, or byte-level BPE with its merges and the pre-tokenizer name llama.cpp's <c>chkhsh</c> table
/// gives; special-token ids and add_bos/add_eos from tokenizer_config.json, tokenizer.json and config.json
/// (llama.cpp's SpecialVocab), and the chat template. One departure: for a SentencePiece-style tokenizer.json
/// llama.cpp writes every score as −1000, which makes its merge loop join pairs left to right; SinkLab writes −rank
/// of the merge that creates each token, so the same loop follows the merges and encodes as tokenizer.json does.
/// </summary>
public static class HfVocabulary
{
    /// <summary>llama.cpp's <c>get_vocab_base_pre</c> table (its chkhsh → pre-tokenizer name), for the names SinkLab's
    /// byte-level tokenizer implements.</summary>
    /// <summary>The pre-tokenizer names the chkhsh table can write.</summary>
    internal static IReadOnlyCollection<string> KnownPreTokenizers => CheckHashes.Values.Distinct().ToArray();

    private static readonly Dictionary<string, string> CheckHashes = new(StringComparer.Ordinal)
    {
        ["0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5"] = "llama-bpe",     // Meta-Llama-3-8B
        ["c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d"] = "smaug-bpe",
        ["3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454"] = "gpt-2",         // openai-community/gpt2
        ["0fe1cf6eda062318a1af7270f3331a85c539a01778ff948e24388e949c5282f4"] = "gpt-2",
        ["fcace8b9cac38ce847670c970cd5892031a753a1ef381abd1d9af00f713da085"] = "phi-2",
        ["b6dc8df998e1cfbdc4eac8243701a65afe638679230920b50d6f17d81c098166"] = "olmo",          // GPT-NeoX tokenizer: Pythia, MPT, OLMo
        ["35d91631860c815f952d711435f48d356ebac988362536bed955d43bfa436e34"] = "starcoder",     // bigcode/starcoder2-3b
        ["6221ad2852e85ce96f791f476e0b390cf9b474c9e3d1362f53a24a06dc8220ff"] = "refact",
        ["9c2227e4dd922002fb81bde4fc02b0483ca4f12911410dee2255e4987644e3f8"] = "command-r",
        ["32d85c31273f8019248f2559fed492d929ea28b17e51d81d3bb36fff23ca72b3"] = "stablelm2",
        ["e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea"] = "qwen2",         // Qwen1.5 … Qwen2.5
        ["d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c"] = "qwen2",         // Qwen3
        ["b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5"] = "deepseek-r1-qwen",
        ["a8594e3edff7c29c003940395316294b2c623e09894deebbc65f33f1515df79e"] = "dbrx",          // cl100k-style (OLMo 2)
        ["855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249"] = "smollm",
    };

    /// <summary>Adds the tokenizer keys for <paramref name="kind"/> to <paramref name="w"/>.</summary>
    /// <returns>Notes for the user (e.g. a pre-tokenizer recognised by its structure rather than its hash).</returns>
    /// <exception cref="HuggingFaceFormatException">Tokenizer files missing or malformed.</exception>
    /// <exception cref="ModelNotSupportedException">A tokenizer SinkLab cannot map.</exception>
    /// <param name="w">The GGUF being written.</param>
    /// <param name="dir">The checkpoint folder.</param>
    /// <param name="config">config.json.</param>
    /// <param name="kind">Which tokenizer files the architecture reads.</param>
    /// <param name="embeddingRows">Rows of the checkpoint's embedding: config's vocab_size may pad the tokenizer up to it,
    /// never beyond.</param>
    public static IReadOnlyList<string> Write(GgufWriter w, string dir, HfConfig config, HfVocabKind kind, int embeddingRows)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(config);
        var notes = new List<string>();
        string spm = Path.Combine(dir, "tokenizer.model"), json = Path.Combine(dir, "tokenizer.json");
        using JsonFile? tokConfig = File.Exists(Path.Combine(dir, "tokenizer_config.json")) ? JsonFile.Open(Path.Combine(dir, "tokenizer_config.json")) : null;
        int vocabSize = config.IntOr(["vocab_size"], 0, 0, 1 << 24);
        if (vocabSize > embeddingRows)
            throw new HuggingFaceFormatException(config.Path, "key 'vocab_size'", $"at most the embedding's {embeddingRows} rows", vocabSize.ToString(System.Globalization.CultureInfo.InvariantCulture));

        HfTokenizerJson? tj = File.Exists(json) ? HfTokenizerJson.Open(json) : null;
        string[] tokens;
        TokenType[] types;
        if (kind == HfVocabKind.Phi3 && tokConfig?.String(tokConfig.Root, "tokenizer_class") == "GPT2Tokenizer") kind = HfVocabKind.ByteLevelBpe;
        if (kind != HfVocabKind.ByteLevelBpe && File.Exists(spm))
        {
            (tokens, float[] scores, types) = FromSentencePiece(spm, vocabSize, tj, tokConfig, dir);
            w.Add(GgufKeys.TokenizerModel, GgufValue.Of("llama"));
            w.Add(GgufKeys.TokenizerPre, GgufValue.Of("default"));
            AddVocab(w, tokens, types, scores);
        }
        else if (kind is HfVocabKind.SentencePieceNoPrefix or HfVocabKind.Phi3)
            throw new HuggingFaceFormatException(dir, "tokenizer.model", "present (this architecture's converter reads a SentencePiece model)", "missing");
        else if (tj == null)
            throw new HuggingFaceFormatException(dir, "tokenizer.json or tokenizer.model", "present", "missing");
        else if (kind == HfVocabKind.Llama && tj.IsSentencePieceLike)
        {
            (tokens, float[] scores, types) = FromSentencePieceJson(tj, tokConfig, dir);
            w.Add(GgufKeys.TokenizerModel, GgufValue.Of("llama"));
            w.Add(GgufKeys.TokenizerPre, GgufValue.Of("default"));
            AddVocab(w, tokens, types, scores);
            notes.Add("tokenizer.json (SentencePiece-style BPE) written as a llama vocabulary with scores from the merge ranks");
        }
        else if (tj.IsByteLevel)
        {
            (tokens, types) = FromByteLevel(tj, vocabSize, tokConfig);
            string pre = PreTokenizerName(tj, notes);
            w.Add(GgufKeys.TokenizerModel, GgufValue.Of("gpt2"));
            w.Add(GgufKeys.TokenizerPre, GgufValue.Of(pre));
            AddVocab(w, tokens, types, null);
            w.Add(GgufKeys.Merges, GgufValue.Of(new GgufArray(GgufValueType.String,
                tj.Merges.Select(m => Encode(m.Left) + " " + Encode(m.Right)).ToArray())));
        }
        else throw new ModelNotSupportedException("tokenizer.json", $"{json}: a {tj.ModelType} tokenizer with decoder '{tj.DecoderType}' is neither byte-level BPE nor SentencePiece-style");

        AddSpecials(w, dir, config, tokConfig, tj, tokens);
        if (kind is HfVocabKind.SentencePieceNoPrefix) w.Add(GgufKeys.AddSpacePrefix, GgufValue.Of(false));
        else if (kind == HfVocabKind.Llama && tokConfig != null && JsonFile.Get(tokConfig.Root, "add_prefix_space") is { } aps
                 && aps.ValueKind is JsonValueKind.True or JsonValueKind.False)
            w.Add(GgufKeys.AddSpacePrefix, GgufValue.Of(aps.ValueKind == JsonValueKind.True));
        return notes;
    }

    private static void AddVocab(GgufWriter w, string[] tokens, TokenType[] types, float[]? scores)
    {
        w.Add(GgufKeys.Tokens, GgufValue.Of(new GgufArray(GgufValueType.String, tokens)));
        if (scores != null) w.Add(GgufKeys.Scores, GgufValue.Of(new GgufArray(GgufValueType.Float32, scores)));
        w.Add(GgufKeys.TokenTypes, GgufValue.Of(new GgufArray(GgufValueType.Int32, types.Select(t => (int)t).ToArray())));
    }

    /// <summary>Merge parts may contain spaces (transformers ≥ 4.45 lists pairs): llama.cpp writes them as U+0120.</summary>
    private static string Encode(string part) => part.Replace(' ', '\u0120');

    /// <summary>tokenizer.model's pieces, padded to config's vocab_size with [PADi] (unused, −1000), then the added tokens
    /// of added_tokens.json, tokenizer_config.json and tokenizer.json as user-defined (control when special), as
    /// llama.cpp's _create_vocab_sentencepiece does.</summary>
    private static (string[], float[], TokenType[]) FromSentencePiece(string path, int vocabSize, HfTokenizerJson? tj, JsonFile? tokConfig, string dir)
    {
        SentencePieceModel sp = SentencePieceModel.Open(path);
        int n = vocabSize > 0 ? vocabSize : sp.Pieces.Count;
        var tokens = Enumerable.Range(0, n).Select(i => $"[PAD{i}]").ToArray();
        var scores = Enumerable.Repeat(-10000f, n).ToArray();
        var types = Enumerable.Repeat(TokenType.Unused, n).ToArray();
        for (int i = 0; i < Math.Min(n, sp.Pieces.Count); i++) { tokens[i] = sp.Pieces[i]; scores[i] = sp.Scores[i]; types[i] = sp.Types[i]; }
        string added = Path.Combine(dir, "added_tokens.json");
        if (File.Exists(added))
        {
            using JsonFile a = JsonFile.Open(added);
            foreach (JsonProperty p in a.Root.EnumerateObject())
            {
                int id = a.Int(a.Root, p.Name, 0, int.MaxValue);
                if (id >= n) continue;
                tokens[id] = p.Name; scores[id] = -1000f; types[id] = TokenType.UserDefined;
            }
        }
        if (tokConfig != null && tokConfig.Object(tokConfig.Root, "added_tokens_decoder") is { } dec)
            foreach (JsonProperty p in dec.EnumerateObject())
            {
                if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || id >= n) continue;
                if (tokConfig.String(p.Value, "content") is not { } content) continue;
                bool special = tokConfig.Bool(p.Value, "special", false) || LooksSpecial(content);
                tokens[id] = special ? content : content.Replace('▁', ' ');
                scores[id] = -1000f;
                types[id] = special ? TokenType.Control : TokenType.UserDefined;
            }
        return (tokens, scores, types);
    }

    /// <summary>A SentencePiece-style tokenizer.json (▁ for spaces, byte fallback): tokens by id, byte tokens typed
    /// Byte, the special tokens Control, scores −rank of the merge that creates each token (−(merges + id) for tokens no
    /// merge creates).</summary>
    private static (string[], float[], TokenType[]) FromSentencePieceJson(HfTokenizerJson tj, JsonFile? tokConfig, string dir)
    {
        int n = Math.Max(tj.Vocab.Values.DefaultIfEmpty(-1).Max(), tj.Added.Select(a => a.Id).DefaultIfEmpty(-1).Max()) + 1;
        var tokens = new string[n];
        foreach (var (t, id) in tj.Vocab) tokens[id] ??= t;
        foreach (HfAddedToken a in tj.Added) tokens[a.Id] ??= a.Content;
        for (int i = 0; i < n; i++) if (tokens[i] == null) throw new HuggingFaceFormatException(tj.Path, $"token id {i}", "a token (ids must be contiguous)", "none");
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int r = 0; r < tj.Merges.Count; r++) rank.TryAdd(tj.Merges[r].Left + tj.Merges[r].Right, r);
        var scores = new float[n];
        var types = new TokenType[n];
        HashSet<string> specials = SpecialContents(tokConfig, tj);
        for (int i = 0; i < n; i++)
        {
            scores[i] = rank.TryGetValue(tokens[i], out int r) ? -r : tokens[i].Length <= 1 ? 0 : -(tj.Merges.Count + i);
            types[i] = ByteToken.IsMatch(tokens[i]) ? TokenType.Byte : specials.Contains(tokens[i]) ? TokenType.Control : TokenType.Normal;
        }
        _ = dir;
        return (tokens, scores, types);
    }

    private static readonly Regex ByteToken = new("^<0x[0-9A-Fa-f]{2}>$", RegexOptions.CultureInvariant);

    /// <summary>Byte-level BPE: tokens by id up to vocab_size ([PADi] unused where none), added tokens Control when
    /// special or special-looking, user-defined otherwise (llama.cpp's get_vocab_base).</summary>
    private static (string[], TokenType[]) FromByteLevel(HfTokenizerJson tj, int vocabSize, JsonFile? tokConfig)
    {
        var reverse = new Dictionary<int, string>();
        foreach (var (t, id) in tj.Vocab) reverse.TryAdd(id, t);
        var added = new Dictionary<int, HfAddedToken>();
        foreach (HfAddedToken a in tj.Added) { reverse[a.Id] = a.Content; added[a.Id] = a; }
        int n = Math.Max(vocabSize, reverse.Keys.DefaultIfEmpty(-1).Max() + 1);
        var tokens = new string[n];
        var types = new TokenType[n];
        HashSet<string> specials = SpecialContents(tokConfig, tj);
        for (int i = 0; i < n; i++)
        {
            if (!reverse.TryGetValue(i, out string? t)) { tokens[i] = $"[PAD{i}]"; types[i] = TokenType.Unused; continue; }
            tokens[i] = t;
            if (!added.TryGetValue(i, out HfAddedToken? a)) { types[i] = TokenType.Normal; continue; }
            bool special = a.Special || LooksSpecial(t) || specials.Contains(t);
            types[i] = special ? TokenType.Control : TokenType.UserDefined;
            if (!special) tokens[i] = t.Replace('▁', ' ');
        }
        return (tokens, types);
    }

    /// <summary>The pre-tokenizer name: llama.cpp's table entry for the tokenizer's chkhsh; failing that, the name whose
    /// regexes the tokenizer.json pre-tokenizer spells (noted); failing that, refused by name.</summary>
    private static string PreTokenizerName(HfTokenizerJson tj, List<string> notes)
    {
        string hash = tj.CheckHash();
        if (CheckHashes.TryGetValue(hash, out string? name)) return name;
        string raw = File.ReadAllText(tj.Path);
        string? byStructure =
            raw.Contains(@"\\p{N}{1,3}", StringComparison.Ordinal) ? "llama-bpe"
            : raw.Contains(@"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|", StringComparison.Ordinal) ? "qwen2"
            : raw.Contains("\"individual_digits\": true", StringComparison.Ordinal) || raw.Contains("\"individual_digits\":true", StringComparison.Ordinal) ? "smollm"
            : !raw.Contains("\"Split\"", StringComparison.Ordinal) && raw.Contains("\"ByteLevel\"", StringComparison.Ordinal) ? "gpt-2"
            : null;
        if (byStructure == null)
            throw new ModelNotSupportedException(hash, $"{tj.Path}: the BPE pre-tokenizer is not recognised (llama.cpp chkhsh {hash}, and its pre_tokenizer matches none of SinkLab's)");
        notes.Add($"pre-tokenizer '{byStructure}' chosen from tokenizer.json's pre_tokenizer (its chkhsh {hash[..12]}… is not in llama.cpp's table)");
        return byStructure;
    }

    /// <summary>Contents of the special tokens tokenizer_config.json names (bos, eos, unk, pad, …, additional).</summary>
    private static HashSet<string> SpecialContents(JsonFile? tokConfig, HfTokenizerJson tj)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (HfAddedToken a in tj.Added) if (a.Special) set.Add(a.Content);
        if (tokConfig == null) return set;
        foreach (string k in new[] { "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token" })
            if (TokenContent(tokConfig, tokConfig.Root, k) is { } c) set.Add(c);
        return set;
    }

    private static string? TokenContent(JsonFile f, JsonElement o, string key)
        => JsonFile.Get(o, key) switch
        {
            { ValueKind: JsonValueKind.String } s => s.GetString(),
            { ValueKind: JsonValueKind.Object } obj => f.String(obj, "content"),
            _ => null,
        };

    private static bool LooksSpecial(string t)
        => t is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]" || (t.StartsWith("<|", StringComparison.Ordinal) && t.EndsWith("|>", StringComparison.Ordinal))
           || (t.StartsWith("<unused", StringComparison.Ordinal) && t.EndsWith('>'));

    /// <summary>llama.cpp's SpecialVocab: ids of bos/eos/unk/sep/pad from tokenizer_config.json's token texts (found among
    /// tokenizer.json's added tokens, or the vocabulary), then config.json's *_token_id where still unset; add_bos/add_eos
    /// from tokenizer_config.json or, failing that, from a TemplateProcessing post-processor; the chat template.</summary>
    private static void AddSpecials(GgufWriter w, string dir, HfConfig config, JsonFile? tokConfig, HfTokenizerJson? tj, string[] tokens)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var byText = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) byText.TryAdd(tokens[i], i);
        if (tj != null) foreach (HfAddedToken a in tj.Added) byText[a.Content] = a.Id;
        string[] kinds = ["bos", "eos", "unk", "sep", "pad"];
        if (tokConfig != null)
            foreach (string k in kinds)
                if (TokenContent(tokConfig, tokConfig.Root, k + "_token") is { } c && byText.TryGetValue(c, out int id)) ids.TryAdd(k, id);
        foreach (string k in kinds)
            if (config.Has(k + "_token_id") && !ids.ContainsKey(k))
            {
                int id = config.IntOr([k + "_token_id"], -1, -1, int.MaxValue);
                if (id >= 0 && id < tokens.Length) ids[k] = id;
            }
        string[] keys = [GgufKeys.BosId, GgufKeys.EosId, GgufKeys.UnknownId, GgufKeys.SeparatorId, GgufKeys.PaddingId];
        for (int i = 0; i < kinds.Length; i++)
            if (ids.TryGetValue(kinds[i], out int id)) w.Add(keys[i], GgufValue.Of((uint)id));

        bool? addBos = tokConfig != null && JsonFile.Get(tokConfig.Root, "add_bos_token") is { ValueKind: JsonValueKind.True or JsonValueKind.False } b
            ? b.ValueKind == JsonValueKind.True : null;
        bool? addEos = tokConfig != null && JsonFile.Get(tokConfig.Root, "add_eos_token") is { ValueKind: JsonValueKind.True or JsonValueKind.False } e
            ? e.ValueKind == JsonValueKind.True : null;
        if (addBos == null && tj != null && ids.TryGetValue("bos", out int bos))
        {
            int[] probe = tj.Encode("a", addSpecialTokens: true), plain = tj.Encode("a");
            if (probe.Length > plain.Length) addBos = probe[0] == bos;
        }
        if (addBos is { } ab) w.Add(GgufKeys.AddBos, GgufValue.Of(ab));
        if (addEos is { } ae) w.Add(GgufKeys.AddEos, GgufValue.Of(ae));

        string? template = tokConfig == null ? null : JsonFile.Get(tokConfig.Root, "chat_template") switch
        {
            { ValueKind: JsonValueKind.String } t => t.GetString(),
            { ValueKind: JsonValueKind.Array } list => list.EnumerateArray().Where(x => tokConfig.String(x, "name") == "default")
                .Select(x => tokConfig.String(x, "template")).FirstOrDefault(),
            null => null,
            var other => throw tokConfig.Wrong("chat_template", "a string or a list of named templates", other),
        };
        string jinja = Path.Combine(dir, "chat_template.jinja");
        if (template == null && File.Exists(jinja)) template = File.ReadAllText(jinja);
        if (template != null) w.Add(GgufKeys.ChatTemplate, GgufValue.Of(template));
    }
}

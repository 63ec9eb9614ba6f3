using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Tokenization;

/// <summary>
/// The tokens after which a model has finished its turn, as llama.cpp's vocabulary loader gathers them: EOS, the EOT and
/// EOM ids the metadata names, and every control (or user-defined) token whose text is one of the end-of-turn markers chat
/// models are trained with (<c>&lt;|eot_id|&gt;</c>, <c>&lt;|im_end|&gt;</c>, <c>&lt;end_of_turn&gt;</c>, <c>&lt;|end|&gt;</c>, …),
/// less harmony's <c>&lt;|end|&gt;</c> when the vocabulary also has <c>&lt;|return|&gt;</c> and <c>&lt;|call|&gt;</c>.
/// </summary>
public static class EndOfGeneration
{
    /// <summary>End-of-turn texts recognised in a vocabulary.</summary>
    public static readonly IReadOnlyList<string> Markers =
    [
        "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|return|>", "<|call|>",
        "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>",
    ];

    /// <summary>The end-of-generation ids of the vocabulary in <paramref name="file"/>.</summary>
    public static IReadOnlySet<int> Find(GgufFile file, ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new HashSet<int>();
        if (tokenizer.EosId >= 0) ids.Add(tokenizer.EosId);
        foreach (string key in new[] { GgufKeys.EotId, GgufKeys.EomId }) ids.Add(file.GetTokenId(key, tokenizer.VocabSize));
        int[]? types = file.GetArrayOrNull<int>(GgufKeys.TokenTypes);
        var markers = new HashSet<string>(Markers, StringComparer.Ordinal);
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            if (types != null && id < types.Length && types[id] is not ((int)TokenType.Control or (int)TokenType.UserDefined)) continue;
            if (markers.Contains(tokenizer.TokenText(id))) ids.Add(id);
        }
        ids.Remove(-1);
        // llama.cpp's workaround for harmony (gpt-oss): <|end|> closes every message, the analysis one included, so with
        // <|return|> and <|call|> present only those two end a reply.
        bool Has(string text) => ids.Any(id => tokenizer.TokenText(id) == text);
        if (Has("<|return|>") && Has("<|call|>")) ids.RemoveWhere(id => tokenizer.TokenText(id) == "<|end|>");
        return ids;
    }
}

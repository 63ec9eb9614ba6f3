using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Tests.Streaming;

/// <summary>Chat test models: the tiny synthetic llama with some vocabulary entries replaced (chat markers as control
/// or user-defined tokens), written to a new file in <c>dir</c>.</summary>
internal static class ChatVocabulary
{
    /// <summary>Writes the tiny model with <paramref name="tokens"/> at their ids; <paramref name="edit"/> may change keys
    /// and tensors further (the source stays open until the file is written). Returns the new file's path.</summary>
    public static string Write(string dir, IEnumerable<(int Id, string Text, TokenType Type)> tokens, Action<GgufFile, GgufWriter>? edit = null)
    {
        string plain = Path.Combine(dir, "plain.gguf");
        if (!File.Exists(plain)) SyntheticModel.Write(SyntheticModel.Shape("tiny"), GgmlType.F32, plain);
        using GgufFile f = GgufFile.Open(plain);
        GgufWriter w = GgufWriter.From(f);
        string[] texts = f.GetArray<string>(GgufKeys.Tokens);
        int[] types = f.GetArray<int>(GgufKeys.TokenTypes);
        foreach (var (id, text, type) in tokens) (texts[id], types[id]) = (text, (int)type);
        foreach (string key in new[] { GgufKeys.Tokens, GgufKeys.TokenTypes }) w.Remove(key);
        w.Add(GgufKeys.Tokens, GgufValue.Of(new GgufArray(GgufValueType.String, texts)));
        w.Add(GgufKeys.TokenTypes, GgufValue.Of(new GgufArray(GgufValueType.Int32, types)));
        edit?.Invoke(f, w);
        string path = Path.Combine(dir, $"chat-{Guid.NewGuid():N}.gguf");
        w.Write(path);
        return path;
    }
}

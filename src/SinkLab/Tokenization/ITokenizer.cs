namespace SinkLab.Tokenization;

/// <summary>Kinds of vocabulary entries (GGUF <c>tokenizer.ggml.token_type</c> numbering).</summary>
public enum TokenType
{
    /// <summary>Undefined (0).</summary>
    Undefined = 0,
    /// <summary>Ordinary text piece.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>Control token such as BOS/EOS; never produced from text unless special parsing is on.</summary>
    Control = 3,
    /// <summary>User-defined piece, always matched whole in text.</summary>
    UserDefined = 4,
    /// <summary>Unused slot.</summary>
    Unused = 5,
    /// <summary>Byte-fallback token <c>&lt;0xXX&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>Turns text into token ids and back.</summary>
public interface ITokenizer
{
    /// <summary>Number of entries in the vocabulary.</summary>
    int VocabSize { get; }
    /// <summary>Beginning-of-sequence id, or -1.</summary>
    int BosId { get; }
    /// <summary>End-of-sequence id, or -1.</summary>
    int EosId { get; }
    /// <summary>Whether the model expects BOS before a prompt.</summary>
    bool AddBos { get; }

    /// <summary>Encodes text. <paramref name="addSpecial"/> adds BOS (and EOS) as the model's metadata asks;
    /// <paramref name="parseSpecial"/> turns control-token texts such as <c>&lt;s&gt;</c> into their ids.</summary>
    int[] Encode(ReadOnlySpan<char> text, bool addSpecial = true, bool parseSpecial = false);

    /// <summary>The bytes one token stands for (empty for control tokens).</summary>
    byte[] TokenBytes(int id);

    /// <summary>Decodes ids to text, dropping control tokens and the space prefix the encoder added.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>The vocabulary entry's text as stored in the model (e.g. <c>▁the</c>).</summary>
    string TokenText(int id);
}

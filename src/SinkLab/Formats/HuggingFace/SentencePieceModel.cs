using System.Text;
using SinkLab.Tokenization;

namespace SinkLab.Formats.HuggingFace;

/// <summary>
/// The vocabulary of a SentencePiece <c>tokenizer.model</c> (a protobuf <c>ModelProto</c>): each piece's text, score and
/// type (field 1: <c>SentencePiece { piece = 1; score = 2; type = 3 }</c>), and the normalizer's
/// <c>add_dummy_prefix</c> (field 3.3). Read with a small bounds-checked protobuf decoder: a truncated or malformed file
/// is one <see cref="HuggingFaceFormatException"/> naming the byte offset.
/// </summary>
public sealed class SentencePieceModel
{
    private SentencePieceModel(string[] pieces, float[] scores, TokenType[] types, bool addDummyPrefix)
    {
        Pieces = pieces;
        Scores = scores;
        Types = types;
        AddDummyPrefix = addDummyPrefix;
    }

    /// <summary>Piece texts by id.</summary>
    public IReadOnlyList<string> Pieces { get; }
    /// <summary>Scores by id.</summary>
    public IReadOnlyList<float> Scores { get; }
    /// <summary>Types by id (SentencePiece's numbering is GGUF's).</summary>
    public IReadOnlyList<TokenType> Types { get; }
    /// <summary>Whether the normalizer adds a leading space (add_dummy_prefix, true when absent).</summary>
    public bool AddDummyPrefix { get; }

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="HuggingFaceFormatException">Missing or malformed.</exception>
    public static SentencePieceModel Open(string path)
    {
        if (!File.Exists(path)) throw new HuggingFaceFormatException(path, "file", "present", "missing");
        if (new FileInfo(path).Length > JsonFile.MaxBytes) throw new HuggingFaceFormatException(path, "file size", $"at most {JsonFile.MaxBytes} bytes", "more");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses protobuf bytes labelled <paramref name="path"/>.</summary>
    public static SentencePieceModel Parse(byte[] data, string path)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<TokenType>();
        bool addDummyPrefix = true;
        var r = new Reader(data, path, 0, data.Length);
        while (!r.End)
        {
            var (field, wire) = r.Key();
            if (field == 1 && wire == 2)
            {
                Reader p = r.Sub();
                string piece = "";
                float score = 0;
                var type = TokenType.Normal;
                while (!p.End)
                {
                    var (f, w) = p.Key();
                    if (f == 1 && w == 2) piece = p.String();
                    else if (f == 2 && w == 5) score = p.Fixed32();
                    else if (f == 3 && w == 0)
                    {
                        ulong t = p.Varint();
                        type = t is >= 1 and <= 6 ? (TokenType)t : throw p.Error($"piece {pieces.Count} type", "1-6", t.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else p.Skip(w);
                }
                pieces.Add(piece);
                scores.Add(score);
                types.Add(type);
            }
            else if (field == 3 && wire == 2)
            {
                Reader n = r.Sub();
                while (!n.End)
                {
                    var (f, w) = n.Key();
                    if (f == 3 && w == 0) addDummyPrefix = n.Varint() != 0;
                    else n.Skip(w);
                }
            }
            else r.Skip(wire);
        }
        if (pieces.Count == 0) throw new HuggingFaceFormatException(path, "pieces", "at least one piece", "none");
        return new SentencePieceModel([.. pieces], [.. scores], [.. types], addDummyPrefix);
    }

    /// <summary>A protobuf reader over [pos, end) of the data.</summary>
    private struct Reader(byte[] data, string path, int pos, int end)
    {
        private int _pos = pos;
        public readonly bool End => _pos >= end;

        public readonly HuggingFaceFormatException Error(string subject, string expected, string actual)
            => new(path, $"at byte {_pos}, {subject}", expected, actual);

        public ulong Varint()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= end) throw Error("varint", "more bytes", "the end of the message");
                byte b = data[_pos++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
            throw Error("varint", "at most 10 bytes", "more");
        }

        public (int Field, int Wire) Key()
        {
            ulong k = Varint();
            if (k >> 3 is 0 or > int.MaxValue) throw Error("field number", "1 or more", (k >> 3).ToString(System.Globalization.CultureInfo.InvariantCulture));
            return ((int)(k >> 3), (int)(k & 7));
        }

        private int Length()
        {
            ulong n = Varint();
            if (n > (ulong)(end - _pos)) throw Error("length", $"at most {end - _pos} bytes", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return (int)n;
        }

        public Reader Sub()
        {
            int n = Length();
            var sub = new Reader(data, path, _pos, _pos + n);
            _pos += n;
            return sub;
        }

        public string String()
        {
            int n = Length();
            try { return new UTF8Encoding(false, true).GetString(data, _pos, n); }
            catch (DecoderFallbackException) { throw Error("piece text", "UTF-8", "invalid bytes"); }
            finally { _pos += n; }
        }

        public float Fixed32()
        {
            if (end - _pos < 4) throw Error("float", "4 bytes", $"{end - _pos}");
            float f = BitConverter.ToSingle(data, _pos);
            _pos += 4;
            return f;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: if (end - _pos < 8) throw Error("fixed64", "8 bytes", $"{end - _pos}"); _pos += 8; break;
                case 2: { int n = Length(); _pos += n; break; }   // not "_pos += Length()": that reads _pos before Length() moves it
                case 5: if (end - _pos < 4) throw Error("fixed32", "4 bytes", $"{end - _pos}"); _pos += 4; break;
                default: throw Error("wire type", "0, 1, 2 or 5", wire.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }
}

using System.Text;
using SinkLab.Tokenization;

namespace SinkLab.Tests.Tokenization;

/// <summary>Sampled tokens' bytes into text: characters split across tokens, and tokens longer than any buffer.</summary>
public class TokenTextStreamTests
{
    [Fact]
    public void ACharacterSplitAcrossTokensComesOutWhole()
    {
        var s = new TokenTextStream();
        byte[] euro = Encoding.UTF8.GetBytes("€");   // three bytes
        Assert.Equal("a", s.Next([(byte)'a', euro[0]]));
        Assert.Equal("", s.Next(euro.AsSpan(1, 1)));
        Assert.Equal("€b", s.Next([euro[2], (byte)'b']));
    }

    [Fact]
    public void TokensOfAnyLengthDecode()
    {
        var s = new TokenTextStream();
        string spaces = new(' ', 300), emoji = string.Concat(Enumerable.Repeat("🎉", 100));
        Assert.Equal(spaces, s.Next(Encoding.UTF8.GetBytes(spaces)));
        Assert.Equal(emoji, s.Next(Encoding.UTF8.GetBytes(emoji)));
        Assert.Equal("\uFFFDx", s.Next([0xFF, (byte)'x']));   // an invalid byte
    }
}

namespace SinkLab;

/// <summary>Seeds derived from a few integers, the same in every process (unlike <see cref="HashCode"/>, which is
/// randomised per process): SplitMix64's finaliser over the three inputs. Training data order and the recall test's
/// trials draw their <see cref="Random"/> seeds from it, so reruns and resumed runs see the same data.</summary>
public static class SeedMix
{
    /// <summary>A non-negative seed from (a, b, c).</summary>
    public static int Of(int a, int b, int c)
    {
        ulong z = (ulong)(uint)a * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)b * 0xBF58476D1CE4E5B9UL ^ (ulong)(uint)c * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }
}

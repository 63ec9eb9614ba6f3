using System.Globalization;

namespace SinkLab.Gguf;

/// <summary>
/// One metadata value of a GGUF file. Scalars are boxed .NET values (<see cref="byte"/>, <see cref="sbyte"/>,
/// <see cref="ushort"/>, <see cref="short"/>, <see cref="uint"/>, <see cref="int"/>, <see cref="float"/>,
/// <see cref="bool"/>, <see cref="string"/>, <see cref="ulong"/>, <see cref="long"/>, <see cref="double"/>);
/// arrays are <see cref="GgufArray"/>.
/// </summary>
public sealed class GgufValue
{
    private GgufValue(GgufValueType type, object value) { Type = type; Value = value; }

    /// <summary>The value's GGUF type.</summary>
    public GgufValueType Type { get; }

    /// <summary>The boxed scalar, string, or <see cref="GgufArray"/>.</summary>
    public object Value { get; }

    /// <summary>Makes a value of a given type; the .NET type of <paramref name="value"/> must match it.</summary>
    /// <exception cref="ArgumentException">The .NET type does not match <paramref name="type"/>.</exception>
    public static GgufValue Create(GgufValueType type, object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Type expected = ClrType(type);
        if (value.GetType() != expected)
            throw new ArgumentException($"a GGUF {type} value must be a {expected.Name}, not a {value.GetType().Name}", nameof(value));
        return new GgufValue(type, value);
    }

    /// <summary>A UTF-8 string value.</summary>
    public static GgufValue Of(string s) => new(GgufValueType.String, s);
    /// <summary>A uint32 value.</summary>
    public static GgufValue Of(uint v) => new(GgufValueType.UInt32, v);
    /// <summary>An int32 value.</summary>
    public static GgufValue Of(int v) => new(GgufValueType.Int32, v);
    /// <summary>A float32 value.</summary>
    public static GgufValue Of(float v) => new(GgufValueType.Float32, v);
    /// <summary>A float64 value.</summary>
    public static GgufValue Of(double v) => new(GgufValueType.Float64, v);
    /// <summary>A boolean value.</summary>
    public static GgufValue Of(bool v) => new(GgufValueType.Bool, v);
    /// <summary>An array value.</summary>
    public static GgufValue Of(GgufArray a) => new(GgufValueType.Array, a);

    /// <summary>The .NET type that holds a scalar of <paramref name="type"/> (for arrays: <see cref="GgufArray"/>).</summary>
    public static Type ClrType(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => typeof(byte),
        GgufValueType.Int8 => typeof(sbyte),
        GgufValueType.UInt16 => typeof(ushort),
        GgufValueType.Int16 => typeof(short),
        GgufValueType.UInt32 => typeof(uint),
        GgufValueType.Int32 => typeof(int),
        GgufValueType.Float32 => typeof(float),
        GgufValueType.Bool => typeof(bool),
        GgufValueType.String => typeof(string),
        GgufValueType.Array => typeof(GgufArray),
        GgufValueType.UInt64 => typeof(ulong),
        GgufValueType.Int64 => typeof(long),
        GgufValueType.Float64 => typeof(double),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a GGUF value type"),
    };

    /// <summary>True for the eight integer types.</summary>
    public static bool IsInteger(GgufValueType t) => t is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16
        or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>The value as a 64-bit integer when it is of an integer type that fits; otherwise null.</summary>
    public long? AsInt64() => Value switch
    {
        byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint ui => ui, int i => i,
        ulong ul when ul <= long.MaxValue => (long)ul, long l => l, _ => null,
    };

    /// <summary>The value as a double when it is numeric (integer or float); otherwise null.</summary>
    public double? AsDouble() => Value switch
    {
        float f => f, double d => d, _ => AsInt64(),
    };

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        string s => s,
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        GgufArray a => a.ToString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Value.ToString() ?? "",
    };
}

/// <summary>
/// A GGUF array: an element type and a typed .NET array of the elements (<c>string[]</c>, <c>float[]</c>, ...,
/// or <c>GgufArray[]</c> for nested arrays).
/// </summary>
public sealed class GgufArray
{
    /// <summary>Wraps a typed array; its element type must match <paramref name="elementType"/>.</summary>
    /// <exception cref="ArgumentException">The array's element type does not match.</exception>
    public GgufArray(GgufValueType elementType, Array items)
    {
        ArgumentNullException.ThrowIfNull(items);
        Type expected = GgufValue.ClrType(elementType);
        if (items.GetType().GetElementType() != expected || items.Rank != 1)
            throw new ArgumentException($"a GGUF array of {elementType} must be a {expected.Name}[]", nameof(items));
        ElementType = elementType;
        Items = items;
    }

    /// <summary>Type of every element.</summary>
    public GgufValueType ElementType { get; }
    /// <summary>The elements, as a typed one-dimensional array.</summary>
    public Array Items { get; }
    /// <summary>Number of elements.</summary>
    public int Count => Items.Length;

    /// <inheritdoc/>
    public override string ToString() => $"[{ElementType} × {Count}]";
}

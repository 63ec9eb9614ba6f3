using System.Globalization;
using System.Text;

namespace SinkLab.Templates;

/// <summary>A function of the template's globals (<c>range</c>, <c>namespace</c>, <c>strftime_now</c>…) as a value, so that
/// <c>strftime_now is defined</c> holds and the name can be passed around before it is called.</summary>
internal sealed record GlobalFunction(string Name);

/// <summary>Jinja's undefined value: falsy, prints as nothing, any attribute of it is undefined too.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Value = new();
    private Undefined() { }
    public override string ToString() => "";
}

/// <summary>A tuple literal: a list everywhere except in how it prints (<c>(1, 2)</c>).</summary>
internal sealed class PyTuple : List<object?>
{
    public PyTuple(IEnumerable<object?> items) : base(items) { }
}

/// <summary>The <c>loop</c> variable of a for loop; its attributes are computed when read.</summary>
internal sealed class LoopInfo(List<object?> items, int index)
{
    public object? Get(string name) => name switch
    {
        "index" => (long)(index + 1),
        "index0" => (long)index,
        "revindex" => (long)(items.Count - index),
        "revindex0" => (long)(items.Count - index - 1),
        "first" => index == 0,
        "last" => index == items.Count - 1,
        "length" => (long)items.Count,
        "previtem" => index > 0 ? items[index - 1] : Undefined.Value,
        "nextitem" => index + 1 < items.Count ? items[index + 1] : Undefined.Value,
        "depth" => 1L,
        "depth0" => 0L,
        _ => Undefined.Value,
    };

    public object? Cycle(List<object?> args, int line, int column) =>
        args.Count == 0 ? throw new TemplateException("loop.cycle needs at least one value", line, column) : args[index % args.Count];
}

/// <summary>A <c>namespace(...)</c>: attributes that <c>set ns.x = …</c> can change from inside loops.</summary>
internal sealed class Namespace(Dictionary<string, object?> attributes)
{
    public Dictionary<string, object?> Attributes { get; } = attributes;
}

/// <summary>The values templates compute with, and Python's rules for them: None (null), bool, long, double, string,
/// list (<see cref="List{T}"/>), dict (insertion-ordered <see cref="Dictionary{TKey,TValue}"/> of string keys),
/// namespace, macro, undefined.</summary>
internal static class Py
{
    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double || v is bool;
    public static double ToDouble(object? v) => v switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => double.NaN };

    /// <summary>Python's <c>str()</c>.</summary>
    public static string Str(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        string s => s,
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c> (lists and dicts print their items this way).</summary>
    public static string Repr(object? v) => Repr(v, 0);

    /// <summary>How deeply lists and dicts may nest before printing, comparing or converting them is refused (a template
    /// can nest a list in itself a million times; recursion over it must not exhaust the stack).</summary>
    public const int MaxNesting = 256;

    private static int Deeper(int depth) => depth < MaxNesting ? depth + 1 : throw new TemplateException($"values nested more than {MaxNesting} deep");

    private static string Repr(object? v, int depth) => v switch
    {
        string s => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "'",
        PyTuple t => t.Count == 1 ? "(" + Repr(t[0], Deeper(depth)) + ",)" : "(" + string.Join(", ", t.Select(x => Repr(x, Deeper(depth)))) + ")",
        List<object?> l => "[" + string.Join(", ", l.Select(x => Repr(x, Deeper(depth)))) + "]",
        Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => Repr(kv.Key, depth) + ": " + Repr(kv.Value, Deeper(depth)))) + "}",
        Namespace => "<Namespace>",
        LoopInfo => "<LoopContext>",
        Macro m => $"<Macro '{m.Node.Name}'>",
        GlobalFunction g => $"<function {g.Name}>",
        _ => Str(v),
    };

    /// <summary>Python's <c>repr(float)</c>: the shortest digits that round-trip, written positionally when the decimal
    /// exponent is in [-4, 16) and as <c>d.ddde±XX</c> otherwise; integral values keep a <c>.0</c>.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string sign = double.IsNegative(d) ? "-" : "";
        if (d == 0) return sign + "0.0";
        // .NET's "R" is the shortest round-trip form too; take its digits and exponent apart.
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOfAny(['E', 'e']);
        int exp10 = e >= 0 ? int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture) : 0;
        string mant = e >= 0 ? r[..e] : r;
        int point = mant.IndexOf('.');
        string intPart = point >= 0 ? mant[..point] : mant, frac = point >= 0 ? mant[(point + 1)..] : "";
        string all = intPart + frac;
        int lead = 0;
        while (lead < all.Length - 1 && all[lead] == '0') lead++;
        string digits = all[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int exp = exp10 + intPart.Length - 1 - lead;   // value = d1.d2d3… × 10^exp
        if (exp < -4 || exp >= 16)
            return sign + (digits.Length == 1 ? digits : digits[0] + "." + digits[1..]) + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
        if (exp < 0) return sign + "0." + new string('0', -exp - 1) + digits;
        string whole = digits.Length > exp + 1 ? digits[..(exp + 1)] : digits + new string('0', exp + 1 - digits.Length);
        string rest = digits.Length > exp + 1 ? digits[(exp + 1)..] : "0";
        return sign + whole + "." + rest;
    }

    /// <summary>Python's <c>len()</c> of a string: code points, not UTF-16 units.</summary>
    public static long Len(string s)
    {
        long n = 0;
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1) n++;
        return n;
    }

    public static new bool Equals(object? a, object? b) => Equals(a, b, 0);

    private static bool Equals(object? a, object? b, int depth)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a == null || b == null) return a == null && b == null;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        if (a is string sa && b is string sb) return sa == sb;
        if (a is List<object?> la && b is List<object?> lb) return la.Count == lb.Count && la.Zip(lb).All(p => Equals(p.First, p.Second, Deeper(depth)));
        if (a is Dictionary<string, object?> da && b is Dictionary<string, object?> db)
            return da.Count == db.Count && da.All(kv => db.TryGetValue(kv.Key, out object? v) && Equals(kv.Value, v, Deeper(depth)));
        return ReferenceEquals(a, b);
    }

    public static int Compare(object? a, object? b, int line, int col) => Compare(a, b, line, col, 0);

    private static int Compare(object? a, object? b, int line, int col, int depth)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                int c = Compare(la[i], lb[i], line, col, Deeper(depth));
                if (c != 0) return c;
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw new TemplateException($"cannot order {TypeName(a)} and {TypeName(b)}", line, col);
    }

    public static string TypeName(object? v) => v switch
    {
        null => "none", Undefined => "undefined", bool => "bool", long => "int", double => "float", string => "str",
        List<object?> => "list", Dictionary<string, object?> => "dict", Namespace => "namespace", Macro => "macro", GlobalFunction => "function", _ => v.GetType().Name,
    };

    /// <summary>Python's JSON text (json.dumps with ensure_ascii=False, as Hugging Face's tojson filter calls it).</summary>
    public static string ToJson(object? v, int? indent, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        WriteJson(sb, v, indent, 0, sortKeys);
        return sb.ToString();
    }

    private static void WriteJson(StringBuilder sb, object? v, int? indent, int level, bool sortKeys)
    {
        Deeper(level);
        if (indent is int ind && (long)ind * (level + 1) > TemplateInterpreter.MaxOutput) throw new TemplateException($"tojson output exceeds {TemplateInterpreter.MaxOutput} characters");
        if (sb.Length > TemplateInterpreter.MaxOutput) throw new TemplateException($"tojson output exceeds {TemplateInterpreter.MaxOutput} characters");
        string Nl(int l) => indent is int n ? "\n" + new string(' ', n * l) : "";
        string sep = indent == null ? ", " : ",";
        switch (v)
        {
            case null or Undefined: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(double.IsFinite(d) ? FormatFloat(d) : double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity"); break;
            case string s: JsonString(sb, s); break;
            case List<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(sep);
                    sb.Append(Nl(level + 1));
                    WriteJson(sb, list[i], indent, level + 1, sortKeys);
                }
                sb.Append(Nl(level)).Append(']');
                break;
            case Dictionary<string, object?> dict:
                if (dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                int k = 0;
                foreach (var (key, value) in sortKeys ? dict.OrderBy(kv => kv.Key, StringComparer.Ordinal) : dict.AsEnumerable())
                {
                    if (k++ > 0) sb.Append(sep);
                    sb.Append(Nl(level + 1));
                    JsonString(sb, key);
                    sb.Append(": ");
                    WriteJson(sb, value, indent, level + 1, sortKeys);
                }
                sb.Append(Nl(level)).Append('}');
                break;
            default: JsonString(sb, Str(v)); break;
        }
    }

    private static void JsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>A value from .NET data (JSON-like): dictionaries, lists, strings, numbers, bools.</summary>
    public static object? From(object? v) => From(v, 0);

    private static object? From(object? v, int depth) => v switch
    {
        null => null,
        string or bool or long or double => v,
        int i => (long)i,
        float f => (double)f,
        System.Text.Json.JsonElement e => FromJson(e),
        IReadOnlyDictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => From(kv.Value, Deeper(depth))),
        IDictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => From(kv.Value, Deeper(depth))),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(x => From(x, Deeper(depth))).ToList(),
        _ => Str(v),
    };

    private static object? FromJson(System.Text.Json.JsonElement e) => e.ValueKind switch
    {
        System.Text.Json.JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value)),
        System.Text.Json.JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        System.Text.Json.JsonValueKind.String => e.GetString(),
        System.Text.Json.JsonValueKind.Number => e.TryGetInt64(out long l) ? (object)l : e.GetDouble(),
        System.Text.Json.JsonValueKind.True => true,
        System.Text.Json.JsonValueKind.False => false,
        _ => null,
    };
}

using System.Globalization;
using System.Text;

namespace SinkLab.Templates;

/// <summary>A method looked up on a value but not yet called (<c>s.strip</c> before <c>()</c>).</summary>
internal sealed record BoundMethod(object? Self, string Name);

/// <summary>Jinja's filters, tests and globals, and Python's string, list and dict methods that chat templates call.</summary>
internal static class TemplateFunctions
{
    private static readonly HashSet<string> StringMethods =
    [
        "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "lower", "upper", "title", "capitalize", "replace",
        "find", "rfind", "count", "join", "format", "removeprefix", "removesuffix", "isdigit", "isalpha", "isspace", "splitlines",
    ];
    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];
    // Hugging Face renders in Jinja's ImmutableSandboxedEnvironment, where append/pop/extend/insert are refused; so are they here.
    private static readonly HashSet<string> ListMethods = ["index", "count"];
    private static readonly HashSet<string> MutatingMethods = ["append", "pop", "extend", "insert", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem"];

    public static BoundMethod? Method(object? self, string name) => self switch
    {
        string when StringMethods.Contains(name) => new(self, name),
        Dictionary<string, object?> when DictMethods.Contains(name) => new(self, name),
        List<object?> when ListMethods.Contains(name) => new(self, name),
        _ => null,
    };

    private static TemplateException Error(Expr at, string message) => new(message, at.Line, at.Column);

    private static string StrArg(List<object?> args, int i, Expr at, string what)
        => i < args.Count && args[i] is string s ? s : throw Error(at, $"{what} expects a string argument");

    public static object? CallMethod(object? self, string name, List<object?> args, Dictionary<string, object?> kwargs, Expr at)
    {
        if (self is List<object?> or Dictionary<string, object?> && MutatingMethods.Contains(name))
            throw Error(at, $"{Py.TypeName(self)}.{name} changes a value, which the sandbox forbids (as Jinja's immutable sandbox does)");
        switch (self)
        {
            case string s:
                switch (name)
                {
                    case "strip": return args.Count > 0 && args[0] is string cs ? s.Trim(cs.ToCharArray()) : s.Trim();
                    case "lstrip": return args.Count > 0 && args[0] is string cl ? s.TrimStart(cl.ToCharArray()) : s.TrimStart();
                    case "rstrip": return args.Count > 0 && args[0] is string cr ? s.TrimEnd(cr.ToCharArray()) : s.TrimEnd();
                    case "split" or "rsplit":
                    {
                        string? sep = args.Count > 0 && args[0] is string sp ? sp : kwargs.TryGetValue("sep", out object? ks) && ks is string kss ? kss : null;
                        long max = args.Count > 1 && args[1] is long m ? m : kwargs.TryGetValue("maxsplit", out object? km) && km is long kml ? kml : -1;
                        if (sep == "") throw Error(at, "empty separator");
                        string[] parts = sep == null
                            ? s.Split((char[]?)null, max < 0 ? int.MaxValue : (int)max + 1, StringSplitOptions.RemoveEmptyEntries)
                            : name == "split" || max < 0 ? s.Split(sep, max < 0 ? int.MaxValue : (int)max + 1) : RSplit(s, sep, (int)max);
                        return parts.Cast<object?>().ToList();
                    }
                    case "startswith": return args.Count > 0 && args[0] is List<object?> pl ? pl.Any(p => p is string ps && s.StartsWith(ps, StringComparison.Ordinal)) : s.StartsWith(StrArg(args, 0, at, "startswith"), StringComparison.Ordinal);
                    case "endswith": return args.Count > 0 && args[0] is List<object?> el ? el.Any(p => p is string ps && s.EndsWith(ps, StringComparison.Ordinal)) : s.EndsWith(StrArg(args, 0, at, "endswith"), StringComparison.Ordinal);
                    case "lower": return s.ToLowerInvariant();
                    case "upper": return s.ToUpperInvariant();
                    case "title": return Title(s);
                    case "capitalize": return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
                    case "replace":
                    {
                        string old = StrArg(args, 0, at, "replace"), rep = StrArg(args, 1, at, "replace");
                        if (old.Length == 0) throw Error(at, "replace of an empty string");
                        return s.Replace(old, rep, StringComparison.Ordinal);
                    }
                    case "find": return (long)s.IndexOf(StrArg(args, 0, at, "find"), StringComparison.Ordinal);
                    case "rfind": return (long)s.LastIndexOf(StrArg(args, 0, at, "rfind"), StringComparison.Ordinal);
                    case "count": { string sub = StrArg(args, 0, at, "count"); return sub.Length == 0 ? (long)s.Length + 1 : (long)((s.Length - s.Replace(sub, "", StringComparison.Ordinal).Length) / sub.Length); }
                    case "join": return string.Join(s, Seq(args.Count > 0 ? args[0] : null, at).Select(Py.Str));
                    case "format": return StrFormat(s, args, kwargs, at);
                    case "removeprefix": { string p = StrArg(args, 0, at, "removeprefix"); return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s; }
                    case "removesuffix": { string p = StrArg(args, 0, at, "removesuffix"); return s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s; }
                    case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
                    case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
                    case "isspace": return s.Length > 0 && s.All(char.IsWhiteSpace);
                    case "splitlines": return s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).ToList();
                }
                break;
            case Dictionary<string, object?> d:
                switch (name)
                {
                    case "items": return d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList();
                    case "keys": return d.Keys.Cast<object?>().ToList();
                    case "values": return d.Values.ToList();
                    case "get": return args.Count > 0 && args[0] is string k && d.TryGetValue(k, out object? v) ? v : args.Count > 1 ? args[1] : null;
                }
                break;
            case List<object?> l:
                switch (name)
                {
                    case "index": { int found = l.FindIndex(x => Py.Equals(x, args.Count > 0 ? args[0] : null)); return found >= 0 ? (long)found : throw Error(at, "value not in list"); }
                    case "count": return (long)l.Count(x => Py.Equals(x, args.Count > 0 ? args[0] : null));
                }
                break;
        }
        throw Error(at, $"{Py.TypeName(self)} has no method '{name}'");
    }

    private static string[] RSplit(string s, string sep, int max)
    {
        var parts = new List<string>();
        int end = s.Length;
        while (max-- > 0)
        {
            int i = s.LastIndexOf(sep, end - 1 < 0 ? 0 : end - 1, StringComparison.Ordinal);
            if (i < 0 || end == 0) break;
            parts.Insert(0, s[(i + sep.Length)..end]);
            end = i;
        }
        parts.Insert(0, s[..end]);
        return [.. parts];
    }

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevLetter = false;
        foreach (char c in s)
        {
            sb.Append(prevLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    private static List<object?> Seq(object? v, Expr at) => v switch
    {
        List<object?> l => l,
        Dictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => s.Select(c => (object?)c.ToString()).ToList(),
        null or Undefined => [],
        _ => throw Error(at, $"{Py.TypeName(v)} is not iterable"),
    };

    /// <summary>The names <see cref="CallGlobal"/> answers.</summary>
    public static readonly IReadOnlySet<string> GlobalNames = new HashSet<string>(StringComparer.Ordinal) { "raise_exception", "namespace", "dict", "range", "strftime_now" };

    public static object? CallGlobal(string name, List<object?> args, Dictionary<string, object?> kwargs, Expr at, Func<DateTime> now)
    {
        switch (name)
        {
            case "raise_exception":
                throw Error(at, "the template raised: " + (args.Count > 0 ? Py.Str(args[0]) : "(no message)"));
            case "namespace":
            {
                var attrs = new Dictionary<string, object?>(StringComparer.Ordinal);
                if (args.Count > 0 && args[0] is Dictionary<string, object?> init) foreach (var (k, v) in init) attrs[k] = v;
                foreach (var (k, v) in kwargs) attrs[k] = v;
                return new Namespace(attrs);
            }
            case "dict":
            {
                var d = new Dictionary<string, object?>(StringComparer.Ordinal);
                if (args.Count > 0 && args[0] is Dictionary<string, object?> init) foreach (var (k, v) in init) d[k] = v;
                foreach (var (k, v) in kwargs) d[k] = v;
                return d;
            }
            case "range":
            {
                long start = 0, stop, step = 1;
                if (args.Count == 1) stop = Int(args[0], at);
                else if (args.Count >= 2) { start = Int(args[0], at); stop = Int(args[1], at); if (args.Count > 2) step = Int(args[2], at); }
                else throw Error(at, "range expects 1 to 3 arguments");
                if (step == 0) throw Error(at, "range step cannot be zero");
                long count = Math.Max(0, (stop - start + step + (step > 0 ? -1 : 1)) / step);
                if (count > TemplateInterpreter.MaxSequence) throw Error(at, $"range of {count} items exceeds {TemplateInterpreter.MaxSequence}");
                var r = new List<object?>((int)count);
                for (long i = 0; i < count; i++) r.Add(start + i * step);
                return r;
            }
            case "strftime_now":
                return StrFTime(now(), args.Count > 0 ? Py.Str(args[0]) : "%Y-%m-%d");
            default:
                throw Error(at, $"'{name}' is undefined (not a function this sandbox provides)");
        }
    }

    /// <summary>Python's <c>format % values</c> for the conversions templates use (s r d i f F e E g G x X o c %), with flags,
    /// width, precision and <c>%(key)s</c> mapping keys.</summary>
    internal static string PercentFormat(string format, object? values, Expr at)
    {
        List<object?> args = values is PyTuple t ? t : [values];
        var map = values as Dictionary<string, object?>;
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%') { sb.Append(format[i]); continue; }
            if (++i >= format.Length) throw Error(at, "incomplete format");
            if (format[i] == '%') { sb.Append('%'); continue; }
            object? value;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0 || map == null) throw Error(at, "format requires a mapping");
                value = map.TryGetValue(format[(i + 1)..close], out object? mv) ? mv : throw Error(at, $"format key '{format[(i + 1)..close]}' is missing");
                i = close + 1;
            }
            else value = null;
            string flags = "";
            while (i < format.Length && format[i] is '-' or '+' or ' ' or '0' or '#') flags += format[i++];
            int width = 0, precision = -1;
            while (i < format.Length && char.IsAsciiDigit(format[i])) width = Math.Min(width * 10 + (format[i++] - '0'), 10_000);
            if (i < format.Length && format[i] == '.')
            {
                precision = 0;
                i++;
                while (i < format.Length && char.IsAsciiDigit(format[i])) precision = Math.Min(precision * 10 + (format[i++] - '0'), 100);
            }
            if (i >= format.Length) throw Error(at, "incomplete format");
            char conv = format[i];
            if (map == null)
            {
                if (next >= args.Count) throw Error(at, "not enough arguments for format string");
                value = args[next++];
            }
            var ci = CultureInfo.InvariantCulture;
            string body = conv switch
            {
                's' => precision >= 0 ? Py.Str(value)[..Math.Min(precision, Py.Str(value).Length)] : Py.Str(value),
                'r' => Py.Repr(value),
                'd' or 'i' => Py.IsNumber(value) ? ((long)Math.Truncate(Py.ToDouble(value))).ToString(ci) : throw Error(at, $"%{conv} format: a number is required, not {Py.TypeName(value)}"),
                'f' or 'F' => Py.IsNumber(value) ? Py.ToDouble(value).ToString("F" + (precision < 0 ? 6 : precision), ci) : throw Error(at, $"%{conv} format: a number is required, not {Py.TypeName(value)}"),
                'e' or 'E' => Py.IsNumber(value) ? PyExp(Py.ToDouble(value), precision < 0 ? 6 : precision, conv) : throw Error(at, $"%{conv} format: a number is required, not {Py.TypeName(value)}"),
                'x' or 'X' or 'o' => value is long or bool ? Radix(Int(value, at), conv) : throw Error(at, $"%{conv} format: an integer is required, not {Py.TypeName(value)}"),
                'c' => value is long cp && cp is >= 0 and <= 0x10FFFF ? char.ConvertFromUtf32((int)cp) : value is string { Length: 1 } cs ? cs : throw Error(at, "%c requires an integer or a character"),
                'g' or 'G' => Py.IsNumber(value) ? Py.FormatFloat(Py.ToDouble(value)) : throw Error(at, $"%{conv} format: a number is required"),
                _ => throw Error(at, $"unsupported format character '{conv}'"),
            };
            if (flags.Contains('+') && conv is 'd' or 'i' or 'f' or 'F' or 'e' or 'E' && !body.StartsWith('-')) body = "+" + body;
            else if (flags.Contains(' ') && conv is 'd' or 'i' or 'f' or 'F' or 'e' or 'E' && !body.StartsWith('-')) body = " " + body;
            if (body.Length < width)
            {
                if (flags.Contains('-')) body = body.PadRight(width);
                else if (flags.Contains('0') && conv is not ('s' or 'r' or 'c'))
                {
                    bool signed = body.Length > 0 && body[0] is '-' or '+' or ' ';
                    body = signed ? body[0] + body[1..].PadLeft(width - 1, '0') : body.PadLeft(width, '0');
                }
                else body = body.PadLeft(width);
            }
            sb.Append(body);
            if (sb.Length > TemplateInterpreter.MaxOutput) throw Error(at, "formatted string too long");
        }
        if (map == null && next < args.Count) throw Error(at, "not all arguments converted during string formatting");
        return sb.ToString();
    }

    /// <summary>Python's <c>str.format</c> for plain fields (<c>{}</c>, <c>{0}</c>, <c>{name}</c>, <c>{{</c>, <c>}}</c>); format
    /// specs and conversions are refused.</summary>
    private static string StrFormat(string format, List<object?> args, Dictionary<string, object?> kwargs, Expr at)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char ch = format[i];
            if (ch == '}' ) { if (i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; } throw Error(at, "single '}' in format string"); }
            if (ch != '{') { sb.Append(ch); continue; }
            if (i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            int close = format.IndexOf('}', i);
            if (close < 0) throw Error(at, "single '{' in format string");
            string field = format[(i + 1)..close];
            if (field.IndexOfAny([':', '!', '[', '.']) >= 0) throw Error(at, $"format field '{{{field}}}' uses a spec or conversion this sandbox does not support");
            object? value = field.Length == 0 ? (auto < args.Count ? args[auto++] : throw Error(at, "not enough arguments for format"))
                : int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? (n < args.Count ? args[n] : throw Error(at, $"format index {n} out of range"))
                : kwargs.TryGetValue(field, out object? kv) ? kv : throw Error(at, $"format key '{field}' is missing");
            sb.Append(Py.Str(value));
            if (sb.Length > TemplateInterpreter.MaxOutput) throw Error(at, "formatted string too long");
            i = close;
        }
        return sb.ToString();
    }

    private static string PyExp(double d, int precision, char conv)
    {
        string s = d.ToString((conv == 'e' ? "e" : "E") + precision, CultureInfo.InvariantCulture);   // 1.500000e+003
        int e = s.IndexOfAny(['e', 'E']);
        int exp = int.Parse(s[(e + 1)..], CultureInfo.InvariantCulture);
        return s[..(e + 1)] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }

    private static string Radix(long v, char conv)
    {
        string digits = conv == 'o' ? Convert.ToString(Math.Abs(v), 8) : Math.Abs(v).ToString(conv == 'x' ? "x" : "X", CultureInfo.InvariantCulture);
        return (v < 0 ? "-" : "") + digits;
    }

    private static long Int(object? v, Expr at) => v is long l ? l : v is bool b ? (b ? 1 : 0) : throw Error(at, $"expected an integer, got {Py.TypeName(v)}");

    /// <summary>Python's strftime for the codes chat templates use.</summary>
    internal static string StrFTime(DateTime t, string format)
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length) { sb.Append(format[i]); continue; }
            char c = format[++i];
            sb.Append(c switch
            {
                'Y' => t.ToString("yyyy", ci), 'y' => t.ToString("yy", ci), 'm' => t.ToString("MM", ci), 'd' => t.ToString("dd", ci),
                'e' => t.Day.ToString(ci).PadLeft(2), 'b' => t.ToString("MMM", ci), 'B' => t.ToString("MMMM", ci), 'a' => t.ToString("ddd", ci),
                'A' => t.ToString("dddd", ci), 'H' => t.ToString("HH", ci), 'I' => t.ToString("hh", ci), 'M' => t.ToString("mm", ci),
                'S' => t.ToString("ss", ci), 'p' => t.Hour < 12 ? "AM" : "PM", 'j' => t.DayOfYear.ToString("000", ci), '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }

    public static object? Filter(TemplateInterpreter interp, FilterExpr f, TemplateInterpreter.Scope scope)
    {
        object? v = interp.Eval(f.Target, scope);
        var args = f.Args.Select(a => interp.Eval(a, scope)).ToList();
        var kwargs = f.Kwargs.ToDictionary(k => k.Name, k => interp.Eval(k.Value, scope));
        object? Arg(int i, string name, object? dflt) => i < args.Count ? args[i] : kwargs.TryGetValue(name, out object? x) ? x : dflt;
        switch (f.Name)
        {
            case "trim": return Py.Str(v).Trim();
            case "length" or "count": return v switch { string s => Py.Len(s), List<object?> l => (long)l.Count, Dictionary<string, object?> d => (long)d.Count, null or Undefined => 0L, _ => throw Error(f, $"{Py.TypeName(v)} has no length") };
            case "tojson":
                return Py.ToJson(v, Arg(0, "indent", null) is long ind ? (int)ind : null, Py.Truthy(Arg(1, "sort_keys", false)));
            case "join":
            {
                string sep = Py.Str(Arg(0, "d", ""));
                object? attr = Arg(1, "attribute", null);
                return string.Join(sep, Seq(v, f).Select(x => Py.Str(attr is string a ? TemplateInterpreter.GetAttr(x, a) : x)));
            }
            case "upper": return Py.Str(v).ToUpperInvariant();
            case "lower": return Py.Str(v).ToLowerInvariant();
            case "title": return Title(Py.Str(v));
            case "capitalize": { string s = Py.Str(v); return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(); }
            case "first": { List<object?> l = Seq(v, f); return l.Count > 0 ? l[0] : Undefined.Value; }
            case "last": { List<object?> l = Seq(v, f); return l.Count > 0 ? l[^1] : Undefined.Value; }
            case "list": return new List<object?>(Seq(v, f));
            case "string": return Py.Str(v);
            case "int": return v switch { long il => il, double idb => (long)idb, bool ib => ib ? 1L : 0L, string istr when long.TryParse(istr.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long ip) => ip,
                string fstr when double.TryParse(fstr.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double fpi) && Math.Abs(fpi) < 9e18 => (long)fpi, _ => Arg(0, "default", 0L) };
            case "float": return v switch { long fl => (double)fl, double fd => fd, string fs when double.TryParse(fs.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double fp) => fp, _ => Arg(0, "default", 0.0) };
            case "abs": return v is long al ? (object)checked(Math.Abs(al)) : v is double ad ? Math.Abs(ad) : throw Error(f, $"abs of {Py.TypeName(v)}");
            case "round": return v is long or double ? Math.Round(Py.ToDouble(v), (int)(Arg(0, "precision", 0L) is long rp ? rp : 0), MidpointRounding.ToEven) : throw Error(f, $"round of {Py.TypeName(v)}");
            case "default" or "d":
            {
                bool boolean = Py.Truthy(Arg(1, "boolean", false));
                return v is Undefined || (boolean && !Py.Truthy(v)) ? Arg(0, "default_value", "") : v;
            }
            case "items": return v is Dictionary<string, object?> id ? id.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList() : v is null or Undefined ? new List<object?>() : throw Error(f, $"items of {Py.TypeName(v)}");
            case "safe": return v;
            case "e" or "escape" or "forceescape":   // markupsafe's escaping
                return Py.Str(v).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal)
                    .Replace("'", "&#39;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal);
            case "replace":
            {
                string s = Py.Str(v), old = Py.Str(Arg(0, "old", "")), rep = Py.Str(Arg(1, "new", ""));
                return old.Length == 0 ? s : s.Replace(old, rep, StringComparison.Ordinal);
            }
            case "reverse": return v is string rs ? string.Concat(Seq(rs, f).AsEnumerable().Reverse().Select(Py.Str)) : Seq(v, f).AsEnumerable().Reverse().ToList();
            case "max" or "min":
            {
                List<object?> items = Seq(v, f);
                if (items.Count == 0) return Undefined.Value;
                object? attr = Arg(1, "attribute", null);
                object? Key(object? x) => attr is string ma ? TemplateInterpreter.GetAttr(x, ma) : x;
                object? best = items[0];
                foreach (object? x in items.Skip(1))
                {
                    int cmp = Py.Compare(Key(x), Key(best), f.Line, f.Column);
                    if (f.Name == "max" ? cmp > 0 : cmp < 0) best = x;
                }
                return best;
            }
            case "center":
            {
                string s = Py.Str(v);
                long width = Arg(0, "width", 80L) is long cw ? Math.Min(cw, 10_000) : 80;
                long total = width - Py.Len(s);
                if (total <= 0) return s;
                long left = total / 2 + (total & width & 1);   // Python's str.center puts the odd space on the left when the width is odd
                return new string(' ', (int)left) + s + new string(' ', (int)(total - left));
            }
            case "sum":
            {
                object? attr = Arg(0, "attribute", null);
                object? total = Arg(1, "start", 0L);
                foreach (object? x in Seq(v, f))
                {
                    object? item = attr is string sa ? TemplateInterpreter.GetAttr(x, sa) : x;
                    total = total is long tl && item is long il2 ? (object)checked(tl + il2) : Py.IsNumber(total) && Py.IsNumber(item) ? Py.ToDouble(total) + Py.ToDouble(item) : throw Error(f, $"sum of {Py.TypeName(item)}");
                }
                return total;
            }
            case "batch":
            {
                long size = Arg(0, "linecount", 1L) is long bs && bs > 0 ? bs : throw Error(f, "batch size must be a positive integer");
                object? fill = Arg(1, "fill_with", null);
                var batches = new List<object?>();
                List<object?> items = Seq(v, f);
                for (int i = 0; i < items.Count; i += (int)Math.Min(size, int.MaxValue))
                {
                    var b = items.Skip(i).Take((int)Math.Min(size, int.MaxValue)).ToList();
                    if (b.Count < size && args.Count + kwargs.Count > 1) while (b.Count < size) b.Add(fill);
                    batches.Add(b);
                }
                return batches;
            }
            case "unique": { var seen = new List<object?>(); foreach (object? x in Seq(v, f)) if (!seen.Exists(y => Py.Equals(x, y))) seen.Add(x); return seen; }
            case "sort":
            {
                var l = new List<object?>(Seq(v, f));
                object? attr = Arg(2, "attribute", null);
                l.Sort((a, b) => Py.Compare(attr is string at ? TemplateInterpreter.GetAttr(a, at) : a, attr is string bt ? TemplateInterpreter.GetAttr(b, bt) : b, f.Line, f.Column));
                if (Py.Truthy(Arg(0, "reverse", false))) l.Reverse();
                return l;
            }
            case "dictsort": return v is Dictionary<string, object?> dd ? dd.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList() : throw Error(f, "dictsort needs a dict");
            case "indent":
            {
                long width = Arg(0, "width", 4L) is long w ? w : 4;
                string pad = new(' ', (int)Math.Clamp(width, 0, 64));
                string[] lines = Py.Str(v).Split('\n');
                bool first = Py.Truthy(Arg(1, "first", false));
                return string.Join("\n", lines.Select((l, i) => (i > 0 || first) && l.Length > 0 ? pad + l : l));
            }
            case "wordcount": return (long)Py.Str(v).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            case "select" or "reject":
            {
                string test = args.Count > 0 ? Py.Str(args[0]) : "truthy";
                return Seq(v, f).Where(x => (test == "truthy" ? Py.Truthy(x) : ApplyTest(test, x, args.Skip(1).ToList(), f)) == (f.Name == "select")).ToList();
            }
            case "selectattr" or "rejectattr":
            {
                string attr = args.Count > 0 ? Py.Str(args[0]) : throw Error(f, $"{f.Name} needs an attribute name");
                string? test = args.Count > 1 ? Py.Str(args[1]) : null;
                return Seq(v, f).Where(x =>
                {
                    object? a = TemplateInterpreter.GetAttr(x, attr);
                    return (test == null ? Py.Truthy(a) : ApplyTest(test, a, args.Skip(2).ToList(), f)) == (f.Name == "selectattr");
                }).ToList();
            }
            case "map":
            {
                if (kwargs.TryGetValue("attribute", out object? attr)) return Seq(v, f).Select(x => TemplateInterpreter.GetAttr(x, Py.Str(attr))).ToList();
                string filter = args.Count > 0 ? Py.Str(args[0]) : throw Error(f, "map needs a filter name or attribute=");
                return Seq(v, f).Select(x => Filter(interp, new FilterExpr(new LiteralExpr(x, f.Line, f.Column), filter, [], [], f.Line, f.Column), scope)).ToList();
            }
            default:
                throw Error(f, $"unknown filter '{f.Name}'");
        }
    }

    public static bool Test(TemplateInterpreter interp, TestExpr t, TemplateInterpreter.Scope scope)
    {
        object? v = interp.Eval(t.Target, scope);
        var args = t.Args.Select(a => interp.Eval(a, scope)).ToList();
        return ApplyTest(t.Name, v, args, t);
    }

    private static bool ApplyTest(string name, object? v, List<object?> args, Expr at) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v == null,
        "string" => v is string,
        "mapping" => v is Dictionary<string, object?> or Namespace,
        "iterable" => v is string or List<object?> or Dictionary<string, object?>,
        "sequence" => v is string or List<object?> or Dictionary<string, object?>,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "callable" => v is Macro or BoundMethod or GlobalFunction,
        "equalto" or "eq" or "==" or "sameas" => Py.Equals(v, args.Count > 0 ? args[0] : null),
        "ne" or "!=" => !Py.Equals(v, args.Count > 0 ? args[0] : null),
        "lt" or "lessthan" or "<" => Py.Compare(v, args.Count > 0 ? args[0] : null, at.Line, at.Column) < 0,
        "gt" or "greaterthan" or ">" => Py.Compare(v, args.Count > 0 ? args[0] : null, at.Line, at.Column) > 0,
        "le" or "<=" => Py.Compare(v, args.Count > 0 ? args[0] : null, at.Line, at.Column) <= 0,
        "ge" or ">=" => Py.Compare(v, args.Count > 0 ? args[0] : null, at.Line, at.Column) >= 0,
        "in" => TemplateInterpreter.Contains(args.Count > 0 ? args[0] : null, v, at),
        "divisibleby" => v is long a && args.Count > 0 && args[0] is long b && b != 0 && a % b == 0,
        "even" => v is long e && e % 2 == 0,
        "odd" => v is long o && o % 2 != 0,
        "lower" => v is string ls && ls == ls.ToLowerInvariant(),
        "upper" => v is string us && us == us.ToUpperInvariant(),
        _ => throw Error(at, $"unknown test '{name}'"),
    };
}

using System.Globalization;
using System.Text;

namespace SinkLab.Templates;

/// <summary>A macro defined by <c>{% macro %}</c>, with the scope it was defined in.</summary>
internal sealed record Macro(MacroNode Node, TemplateInterpreter.Scope Closure);

/// <summary>
/// Renders parsed templates with Python's value semantics, inside a sandbox: no file, network or environment access
/// exists to be reached (there is no include, import or attribute access beyond data), and every render is bounded —
/// output length, evaluation steps (so loops end), call depth and sequence sizes — so a hostile template fails with
/// a <see cref="TemplateException"/> instead of running on.
/// </summary>
internal sealed class TemplateInterpreter
{
    public const int MaxOutput = 4 << 20;
    public const long MaxSteps = 5_000_000;
    public const int MaxDepth = 64;
    public const int MaxSequence = 1 << 20;
    /// <summary>Nested evaluations (expressions inside expressions, blocks inside blocks, across macro calls) before a render
    /// is refused; renders run on a thread whose stack holds this many with room to spare.</summary>
    public const int MaxFrames = 2000;

    /// <summary>A variable scope; loops and macro calls open a child.</summary>
    internal sealed class Scope(Scope? parent)
    {
        public Scope? Parent { get; } = parent;
        public Dictionary<string, object?> Vars { get; } = new(StringComparer.Ordinal);

        public bool TryGet(string name, out object? value)
        {
            for (Scope? s = this; s != null; s = s.Parent)
                if (s.Vars.TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }
    }

    private enum Flow { Normal, Break, Continue }

    private readonly Func<DateTime> _now;
    private long _steps;
    private int _depth;
    private int _frames;

    public TemplateInterpreter(Func<DateTime> now) => _now = now;

    public string Render(List<Node> nodes, IReadOnlyDictionary<string, object?> globals)
    {
        var scope = new Scope(null);
        foreach (var (k, v) in globals) scope.Vars[k] = v;
        var sb = new StringBuilder();
        Exec(nodes, scope, sb);
        return sb.ToString();
    }

    private void Step(Node n)
    {
        if (++_steps > MaxSteps) throw new TemplateException($"more than {MaxSteps} evaluation steps (a runaway loop?)", n.Line, n.Column);
    }

    private void Step(Expr e)
    {
        if (++_steps > MaxSteps) throw new TemplateException($"more than {MaxSteps} evaluation steps (a runaway loop?)", e.Line, e.Column);
    }

    private static void Write(StringBuilder sb, string s, Node n)
    {
        if (sb.Length + s.Length > MaxOutput) throw new TemplateException($"the output exceeds {MaxOutput} characters", n.Line, n.Column);
        sb.Append(s);
    }

    private Flow Exec(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        if (++_frames > MaxFrames) throw new TemplateException($"blocks and expressions nested more than {MaxFrames} deep", nodes.Count > 0 ? nodes[0].Line : 0, nodes.Count > 0 ? nodes[0].Column : 0);
        Flow flow = ExecNodes(nodes, scope, sb);
        _frames--;
        return flow;
    }

    private Flow ExecNodes(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        foreach (Node n in nodes)
        {
            Step(n);
            switch (n)
            {
                case TextNode t: Write(sb, t.Text, n); break;
                case OutputNode o: Write(sb, Py.Str(Eval(o.Value, scope)), n); break;
                case IfNode i:
                {
                    List<Node>? body = i.Else;
                    foreach (var (cond, b) in i.Branches)
                        if (Py.Truthy(Eval(cond, scope))) { body = b; break; }
                    if (body != null)
                    {
                        Flow f = Exec(body, scope, sb);
                        if (f != Flow.Normal) return f;
                    }
                    break;
                }
                case ForNode f: ExecFor(f, scope, sb); break;
                case SetNode s: ExecSet(s, scope); break;
                case MacroNode m: scope.Vars[m.Name] = new Macro(m, scope); break;
                case LoopControlNode c: return c.Break ? Flow.Break : Flow.Continue;
                case BlockNode b:
                {
                    Flow f = Exec(b.Body, scope, sb);
                    if (f != Flow.Normal) return f;
                    break;
                }
            }
        }
        return Flow.Normal;
    }

    private void ExecFor(ForNode f, Scope scope, StringBuilder sb)
    {
        List<object?> items = Iterate(Eval(f.Iterable, scope), f.Iterable);
        if (f.Filter != null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                var probe = new Scope(scope);
                Bind(f.Targets, item, probe, f);
                if (Py.Truthy(Eval(f.Filter, probe))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (f.Else != null) Exec(f.Else, scope, sb);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            Step(f);
            var inner = new Scope(scope);
            Bind(f.Targets, items[i], inner, f);
            inner.Vars["loop"] = new LoopInfo(items, i);
            if (Exec(f.Body, inner, sb) == Flow.Break) break;
        }
    }

    private static void Bind(List<string> targets, object? item, Scope scope, Node at)
    {
        if (targets.Count == 1) { scope.Vars[targets[0]] = item; return; }
        if (item is not List<object?> parts || parts.Count != targets.Count)
            throw new TemplateException($"cannot unpack {Py.TypeName(item)} into {targets.Count} names", at.Line, at.Column);
        for (int i = 0; i < targets.Count; i++) scope.Vars[targets[i]] = parts[i];
    }

    private void ExecSet(SetNode s, Scope scope)
    {
        object? value;
        if (s.Body != null)
        {
            var sb = new StringBuilder();
            Exec(s.Body, scope, sb);
            value = sb.ToString();
        }
        else value = Eval(s.Value!, scope);
        if (s.Targets.Count > 1)
        {
            if (value is not List<object?> parts || parts.Count != s.Targets.Count)
                throw new TemplateException($"cannot unpack {Py.TypeName(value)} into {s.Targets.Count} names", s.Line, s.Column);
            for (int i = 0; i < parts.Count; i++) Assign(s.Targets[i], parts[i], scope);
        }
        else Assign(s.Targets[0], value, scope);
    }

    private void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr n: scope.Vars[n.Name] = value; break;
            case AttrExpr { Target: NameExpr ns } a:
                if (!scope.TryGet(ns.Name, out object? obj) || obj is not Namespace space)
                    throw new TemplateException($"'{ns.Name}' is not a namespace; only namespace attributes can be set", a.Line, a.Column);
                space.Attributes[a.Name] = value;
                break;
            default: throw new TemplateException("cannot assign to this expression", target.Line, target.Column);
        }
    }

    private List<object?> Iterate(object? v, Expr at) => v switch
    {
        List<object?> l => [.. l],
        Dictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => StringChars(s),
        null or Undefined => [],
        _ => throw new TemplateException($"{Py.TypeName(v)} is not iterable", at.Line, at.Column),
    };

    private static List<object?> StringChars(string s)
    {
        var r = new List<object?>();
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1) r.Add(s.Substring(i, char.IsSurrogatePair(s, i) ? 2 : 1));
        return r;
    }

    public object? Eval(Expr e, Scope scope)
    {
        if (++_frames > MaxFrames) throw new TemplateException($"blocks and expressions nested more than {MaxFrames} deep", e.Line, e.Column);
        object? value = EvalExpr(e, scope);
        _frames--;
        return value;
    }

    private object? EvalExpr(Expr e, Scope scope)
    {
        Step(e);
        switch (e)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n:
                return scope.TryGet(n.Name, out object? found) ? found
                    : TemplateFunctions.GlobalNames.Contains(n.Name) ? new GlobalFunction(n.Name) : Undefined.Value;
            case ListExpr l:
            {
                var list = new List<object?>(l.Items.Count);
                foreach (Expr x in l.Items) list.Add(Eval(x, scope));
                return l.Tuple ? new PyTuple(list) : list;
            }
            case DictExpr d:
            {
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, value) in d.Items) dict[Py.Str(Eval(key, scope))] = Eval(value, scope);
                return dict;
            }
            case AttrExpr a: return GetAttr(Eval(a.Target, scope), a.Name);
            case IndexExpr i: return GetItem(Eval(i.Target, scope), Eval(i.Index, scope), i);
            case SliceExpr s: return Slice(Eval(s.Target, scope), s.Start == null ? null : Eval(s.Start, scope), s.Stop == null ? null : Eval(s.Stop, scope), s.Step == null ? null : Eval(s.Step, scope), s);
            case CallExpr c: return Call(c, scope);
            case FilterExpr f: return TemplateFunctions.Filter(this, f, scope);
            case TestExpr t: return TemplateFunctions.Test(this, t, scope) != t.Negated;
            case UnaryExpr u:
            {
                object? operand = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !Py.Truthy(operand),
                    "-" => operand is long ol ? (object)(-ol) : operand is double od ? (object)(-od) : operand is bool ob ? (object)(ob ? -1L : 0L) : throw new TemplateException($"cannot negate {Py.TypeName(operand)}", u.Line, u.Column),
                    _ => operand is long or double ? operand : throw new TemplateException($"unary + on {Py.TypeName(operand)}", u.Line, u.Column),
                };
            }
            case BinaryExpr b:
            {
                if (b.Op == "and") { object? l = Eval(b.Left, scope); return Py.Truthy(l) ? Eval(b.Right, scope) : l; }
                if (b.Op == "or") { object? l = Eval(b.Left, scope); return Py.Truthy(l) ? l : Eval(b.Right, scope); }
                return Arith(b.Op, Eval(b.Left, scope), Eval(b.Right, scope), b);
            }
            case CompareExpr c:
            {
                object? left = Eval(c.First, scope);
                foreach (var (op, rightExpr) in c.Rest)
                {
                    object? right = Eval(rightExpr, scope);
                    bool ok = op switch
                    {
                        "==" => Py.Equals(left, right),
                        "!=" => !Py.Equals(left, right),
                        "in" => Contains(right, left, c),
                        "not in" => !Contains(right, left, c),
                        "<" => Py.Compare(left, right, c.Line, c.Column) < 0,
                        "<=" => Py.Compare(left, right, c.Line, c.Column) <= 0,
                        ">" => Py.Compare(left, right, c.Line, c.Column) > 0,
                        _ => Py.Compare(left, right, c.Line, c.Column) >= 0,
                    };
                    if (!ok) return false;
                    left = right;
                }
                return true;
            }
            case CondExpr c: return Py.Truthy(Eval(c.Condition, scope)) ? Eval(c.Then, scope) : c.Else == null ? Undefined.Value : Eval(c.Else, scope);
            default: throw new TemplateException($"cannot evaluate {e.GetType().Name}", e.Line, e.Column);
        }
    }

    internal static bool Contains(object? container, object? item, Expr at) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw new TemplateException($"'in <string>' needs a string, not {Py.TypeName(item)}", at.Line, at.Column),
        List<object?> l => l.Exists(x => Py.Equals(x, item)),
        Dictionary<string, object?> d => item is string k && d.ContainsKey(k),
        null or Undefined => false,
        _ => throw new TemplateException($"{Py.TypeName(container)} does not support 'in'", at.Line, at.Column),
    };

    private static object? Arith(string op, object? a, object? b, Expr at)
    {
        if (op == "~") return Py.Str(a) + Py.Str(b);
        if (op == "+")
        {
            if (a is string sa && b is string sb) return Cap(sa + sb, at);
            if (a is List<object?> la && b is List<object?> lb)
                return la.Count + lb.Count > MaxSequence ? throw new TemplateException("list too long", at.Line, at.Column) : new List<object?>([.. la, .. lb]);
        }
        if (op == "*" && (a is string || b is string) && (a is long || b is long))
        {
            string s = a as string ?? (string)b!;
            long n = a is long na ? na : (long)b!;
            if (n <= 0 || s.Length == 0) return "";
            if (n > MaxOutput / s.Length) throw new TemplateException("string repetition too long", at.Line, at.Column);
            return string.Concat(Enumerable.Repeat(s, (int)n));
        }
        if (op == "%" && a is string format) return Cap(TemplateFunctions.PercentFormat(format, b, at), at);
        if (!Py.IsNumber(a) || !Py.IsNumber(b))
            throw new TemplateException($"unsupported operand types for {op}: {Py.TypeName(a)} and {Py.TypeName(b)}", at.Line, at.Column);
        bool ints = a is long or bool && b is long or bool;
        try
        {
            return ints ? IntArith(op, a is bool ab ? (ab ? 1 : 0) : (long)a!, b is bool bb ? (bb ? 1 : 0) : (long)b!, at)
                        : FloatArith(op, Py.ToDouble(a), Py.ToDouble(b), at);
        }
        catch (OverflowException)
        {
            throw new TemplateException($"integer overflow in {op}", at.Line, at.Column);
        }
    }

    /// <summary>Python's integer arithmetic (floor division and modulo round toward −∞; / gives a float).</summary>
    private static object IntArith(string op, long l, long r, Expr at)
    {
        switch (op)
        {
            case "+": return checked(l + r);
            case "-": return checked(l - r);
            case "*": return checked(l * r);
            case "/": return r == 0 ? throw new TemplateException("division by zero", at.Line, at.Column) : (double)l / r;
            case "//":
            {
                if (r == 0) throw new TemplateException("division by zero", at.Line, at.Column);
                long q = checked(l / r);
                return (l % r != 0 && (l < 0) != (r < 0)) ? q - 1 : q;
            }
            case "%":
            {
                if (r == 0) throw new TemplateException("modulo by zero", at.Line, at.Column);
                long m = l % r;
                return m != 0 && (m < 0) != (r < 0) ? m + r : m;
            }
            default:
            {
                if (r < 0) return Math.Pow(l, r);
                long result = 1;
                for (long i = 0; i < r; i++)
                {
                    result = checked(result * l);
                    if (result is 0 or 1 && l is 0 or 1) break;
                    if (result == 1 && l == -1) { result = r % 2 == 0 ? 1 : -1; break; }
                }
                return result;
            }
        }
    }

    private static object FloatArith(string op, double l, double r, Expr at) => op switch
    {
        "+" => l + r,
        "-" => l - r,
        "*" => l * r,
        "/" => r == 0 ? throw new TemplateException("division by zero", at.Line, at.Column) : l / r,
        "//" => r == 0 ? throw new TemplateException("division by zero", at.Line, at.Column) : Math.Floor(l / r),
        "%" => r == 0 ? throw new TemplateException("modulo by zero", at.Line, at.Column) : l - r * Math.Floor(l / r),
        _ => Math.Pow(l, r),
    };

    private static string Cap(string s, Expr at) => s.Length > MaxOutput ? throw new TemplateException("string too long", at.Line, at.Column) : s;

    internal static object? GetAttr(object? obj, string name) => obj switch
    {
        Dictionary<string, object?> d => d.TryGetValue(name, out object? v) ? v : (object?)TemplateFunctions.Method(obj, name) ?? Undefined.Value,
        Namespace ns => ns.Attributes.TryGetValue(name, out object? v) ? v : Undefined.Value,
        LoopInfo loop => loop.Get(name),
        _ => (object?)TemplateFunctions.Method(obj, name) ?? Undefined.Value,
    };

    private static object? GetItem(object? obj, object? key, Expr at)
    {
        switch (obj)
        {
            case Dictionary<string, object?> d:
                return key is string k && d.TryGetValue(k, out object? dv) ? dv : Undefined.Value;
            case List<object?> l when key is long or bool:
            {
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : Undefined.Value;
            }
            case string s when key is long:
            {
                List<object?> chars = StringChars(s);
                long i = (long)key;
                if (i < 0) i += chars.Count;
                return i >= 0 && i < chars.Count ? chars[(int)i] : Undefined.Value;
            }
            case LoopInfo loop when key is string k3:
                return loop.Get(k3);
            case Namespace ns when key is string k2:
                return ns.Attributes.TryGetValue(k2, out object? nv) ? nv : Undefined.Value;
            case null or Undefined:
                return Undefined.Value;
            default:
                return key is string name ? GetAttr(obj, name) : throw new TemplateException($"{Py.TypeName(obj)} cannot be indexed by {Py.TypeName(key)}", at.Line, at.Column);
        }
    }

    private static object? Slice(object? obj, object? start, object? stop, object? step, Expr at)
    {
        List<object?> items = obj switch
        {
            List<object?> l => l,
            string s => StringChars(s),
            null or Undefined => [],
            _ => throw new TemplateException($"{Py.TypeName(obj)} cannot be sliced", at.Line, at.Column),
        };
        long n = items.Count;
        long st = step is long sv ? sv : 1;
        if (st == 0) throw new TemplateException("slice step cannot be zero", at.Line, at.Column);
        long Norm(object? v, long dflt) => v is long x ? (x < 0 ? Math.Max(x + n, st > 0 ? 0 : -1) : Math.Min(x, st > 0 ? n : n - 1)) : dflt;
        long a = Norm(start, st > 0 ? 0 : n - 1), b = Norm(stop, st > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = a; st > 0 ? i < b : i > b; i += st) result.Add(items[(int)i]);
        return obj is string ? string.Concat(result.Cast<string>()) : result;
    }

    private object? Call(CallExpr c, Scope scope)
    {
        var args = c.Args.Select(a => Eval(a, scope)).ToList();
        var kwargs = c.Kwargs.ToDictionary(k => k.Name, k => Eval(k.Value, scope));
        if (c.Target is AttrExpr a)
        {
            object? self = Eval(a.Target, scope);
            if (self is LoopInfo loop && a.Name == "cycle") return loop.Cycle(args, c.Line, c.Column);
            if (self is Dictionary<string, object?> d && d.TryGetValue(a.Name, out object? member))
            {
                if (member is Macro dm) return CallMacro(dm, args, kwargs, c);
            }
            return TemplateFunctions.CallMethod(self, a.Name, args, kwargs, c);
        }
        object? f = Eval(c.Target, scope);
        if (f is Macro m) return CallMacro(m, args, kwargs, c);
        if (f is GlobalFunction g) return TemplateFunctions.CallGlobal(g.Name, args, kwargs, c, _now);
        if (f is Undefined && c.Target is NameExpr n) throw new TemplateException($"'{n.Name}' is undefined (not a function this sandbox provides)", c.Line, c.Column);
        throw new TemplateException($"{Py.TypeName(f)} is not callable", c.Line, c.Column);
    }

    private string CallMacro(Macro m, List<object?> args, Dictionary<string, object?> kwargs, Expr at)
    {
        if (++_depth > MaxDepth) throw new TemplateException($"macro calls nested more than {MaxDepth} deep", at.Line, at.Column);
        var scope = new Scope(m.Closure);
        for (int i = 0; i < m.Node.Parameters.Count; i++)
        {
            var (name, dflt) = m.Node.Parameters[i];
            scope.Vars[name] = i < args.Count ? args[i] : kwargs.TryGetValue(name, out object? v) ? v : dflt != null ? Eval(dflt, m.Closure) : Undefined.Value;
        }
        var sb = new StringBuilder();
        Exec(m.Node.Body, scope, sb);
        _depth--;
        return sb.ToString();
    }
}

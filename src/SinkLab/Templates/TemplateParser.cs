namespace SinkLab.Templates;

/// <summary>A node of a parsed template; <see cref="Line"/>/<see cref="Column"/> place it for errors.</summary>
internal abstract record Node(int Line, int Column);

internal sealed record TextNode(string Text, int Line, int Column) : Node(Line, Column);
internal sealed record OutputNode(Expr Value, int Line, int Column) : Node(Line, Column);
internal sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else, int Line, int Column) : Node(Line, Column);
internal sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else, int Line, int Column) : Node(Line, Column);
internal sealed record SetNode(List<Expr> Targets, Expr? Value, List<Node>? Body, int Line, int Column) : Node(Line, Column);
internal sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body, int Line, int Column) : Node(Line, Column);
internal sealed record LoopControlNode(bool Break, int Line, int Column) : Node(Line, Column);
internal sealed record BlockNode(List<Node> Body, int Line, int Column) : Node(Line, Column);

internal abstract record Expr(int Line, int Column);
internal sealed record LiteralExpr(object? Value, int Line, int Column) : Expr(Line, Column);
internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);
internal sealed record ListExpr(List<Expr> Items, bool Tuple, int Line, int Column) : Expr(Line, Column);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line, int Column) : Expr(Line, Column);
internal sealed record AttrExpr(Expr Target, string Name, int Line, int Column) : Expr(Line, Column);
internal sealed record IndexExpr(Expr Target, Expr Index, int Line, int Column) : Expr(Line, Column);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line, int Column) : Expr(Line, Column);
internal sealed record CallExpr(Expr Target, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Line, int Column) : Expr(Line, Column);
internal sealed record FilterExpr(Expr Target, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Line, int Column) : Expr(Line, Column);
internal sealed record TestExpr(Expr Target, string Name, bool Negated, List<Expr> Args, int Line, int Column) : Expr(Line, Column);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line, int Column) : Expr(Line, Column);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Right)> Rest, int Line, int Column) : Expr(Line, Column);
internal sealed record CondExpr(Expr Condition, Expr Then, Expr? Else, int Line, int Column) : Expr(Line, Column);

/// <summary>
/// Parses template tokens into nodes: text, <c>{{ expr }}</c>, and the statements chat templates use — if/elif/else,
/// for (with loop variables, tuple targets, an <c>if</c> filter and <c>else</c>), set (names, namespace attributes,
/// tuples, blocks), macro, break/continue, raw, and the Hugging Face <c>generation</c> block — over Jinja's expression
/// grammar (filters, tests, ternaries, slices, calls with keyword arguments). Anything else is a
/// <see cref="TemplateException"/> naming it and its place.
/// </summary>
internal sealed class TemplateParser
{
    private readonly List<TemplateToken> _t;
    private int _i;
    private int _depth;
    /// <summary>How deeply blocks and expressions may nest in the source.</summary>
    public const int MaxNesting = 200;

    private TemplateParser(List<TemplateToken> tokens) => _t = tokens;

    public static List<Node> Parse(string template)
    {
        var p = new TemplateParser(TemplateLexer.Tokenize(template));
        List<Node> body = p.ParseBody(out string? end);
        if (end != null) throw p.Error($"'{end}' without a matching opening tag");
        return body;
    }

    private TemplateToken Peek => _t[_i];
    private TemplateToken Next() => _t[_i++];
    private TemplateException Error(string message) => new(message, Peek.Line, Peek.Column);

    private bool IsName(string name) => Peek.Kind == TokenKind.Name && Peek.Text == name;
    private bool IsOp(string op) => Peek.Kind == TokenKind.Op && Peek.Text == op;

    private void ExpectOp(string op)
    {
        if (!IsOp(op)) throw Error($"expected '{op}', found '{Peek.Text}'");
        _i++;
    }

    private string ExpectName()
    {
        if (Peek.Kind != TokenKind.Name) throw Error($"expected a name, found '{Peek.Text}'");
        return Next().Text;
    }

    private void ExpectEnd()
    {
        if (Peek.Kind != TokenKind.End) throw Error($"expected the end of the tag, found '{Peek.Text}'");
        _i++;
    }

    /// <summary>Parses nodes until a block tag whose keyword is not a statement start (returned in
    /// <paramref name="end"/>, positioned after it and its tag end unless it has arguments) or the end of input.</summary>
    private List<Node> ParseBody(out string? end, params string[] stops)
    {
        if (++_depth > MaxNesting) throw Error($"blocks nested more than {MaxNesting} deep");
        var nodes = new List<Node>();
        end = null;
        while (Peek.Kind != TokenKind.Eof)
        {
            TemplateToken tok = Peek;
            if (tok.Kind == TokenKind.Text) { nodes.Add(new TextNode(tok.Text, tok.Line, tok.Column)); _i++; continue; }
            if (tok.Kind == TokenKind.OutputStart)
            {
                _i++;
                nodes.Add(new OutputNode(ParseExpr(), tok.Line, tok.Column));
                ExpectEnd();
                continue;
            }
            if (tok.Kind != TokenKind.BlockStart) throw Error($"unexpected '{tok.Text}'");
            _i++;
            string keyword = ExpectName();
            if (stops.Contains(keyword)) { end = keyword; _depth--; return nodes; }
            nodes.Add(keyword switch
            {
                "if" => ParseIf(tok),
                "for" => ParseFor(tok),
                "set" => ParseSet(tok),
                "macro" => ParseMacro(tok),
                "break" or "continue" => Control(keyword == "break", tok),
                "generation" => Block(tok, "endgeneration"),
                _ => throw new TemplateException($"unknown or unexpected tag '{keyword}'", tok.Line, tok.Column),
            });
        }
        if (stops.Length > 0) throw new TemplateException($"missing '{{% {stops[^1]} %}}' (end of template reached)", Peek.Line, Peek.Column);
        _depth--;
        return nodes;
    }

    private Node Control(bool isBreak, TemplateToken tok)
    {
        ExpectEnd();
        return new LoopControlNode(isBreak, tok.Line, tok.Column);
    }

    private Node Block(TemplateToken tok, string end)
    {
        ExpectEnd();
        List<Node> body = ParseBody(out _, end);
        ExpectEnd();
        return new BlockNode(body, tok.Line, tok.Column);
    }

    private Node ParseIf(TemplateToken tok)
    {
        var branches = new List<(Expr, List<Node>)>();
        Expr cond = ParseExpr();
        ExpectEnd();
        List<Node>? elseBody = null;
        while (true)
        {
            List<Node> body = ParseBody(out string? end, "elif", "else", "endif");
            branches.Add((cond, body));
            if (end == "elif") { cond = ParseExpr(); ExpectEnd(); continue; }
            ExpectEnd();
            if (end == "else") { elseBody = ParseBody(out _, "endif"); ExpectEnd(); }
            break;
        }
        return new IfNode(branches, elseBody, tok.Line, tok.Column);
    }

    private Node ParseFor(TemplateToken tok)
    {
        var targets = new List<string> { ExpectName() };
        while (IsOp(",")) { _i++; targets.Add(ExpectName()); }
        if (!IsName("in")) throw Error($"expected 'in', found '{Peek.Text}'");
        _i++;
        Expr iterable = ParseOr();
        Expr? filter = null;
        if (IsName("if")) { _i++; filter = ParseExpr(); }
        if (IsName("recursive")) throw Error("recursive loops are not supported");
        ExpectEnd();
        List<Node> body = ParseBody(out string? end, "else", "endfor");
        ExpectEnd();
        List<Node>? elseBody = null;
        if (end == "else") { elseBody = ParseBody(out _, "endfor"); ExpectEnd(); }
        return new ForNode(targets, iterable, filter, body, elseBody, tok.Line, tok.Column);
    }

    private Node ParseSet(TemplateToken tok)
    {
        var targets = new List<Expr>();
        do
        {
            if (targets.Count > 0) _i++;
            TemplateToken n = Peek;
            Expr target = new NameExpr(ExpectName(), n.Line, n.Column);
            if (IsOp(".")) { _i++; target = new AttrExpr(target, ExpectName(), n.Line, n.Column); }
            targets.Add(target);
        } while (IsOp(","));
        if (Peek.Kind == TokenKind.End)
        {
            if (targets.Count != 1) throw Error("a block set assigns one name");
            _i++;
            List<Node> body = ParseBody(out _, "endset");
            ExpectEnd();
            return new SetNode(targets, null, body, tok.Line, tok.Column);
        }
        ExpectOp("=");
        Expr value = ParseTupleOrExpr();
        ExpectEnd();
        return new SetNode(targets, value, null, tok.Line, tok.Column);
    }

    private Node ParseMacro(TemplateToken tok)
    {
        string name = ExpectName();
        ExpectOp("(");
        var parameters = new List<(string, Expr?)>();
        while (!IsOp(")"))
        {
            if (parameters.Count > 0) ExpectOp(",");
            string p = ExpectName();
            Expr? def = null;
            if (IsOp("=")) { _i++; def = ParseExpr(); }
            parameters.Add((p, def));
        }
        _i++;
        ExpectEnd();
        List<Node> body = ParseBody(out _, "endmacro");
        ExpectEnd();
        return new MacroNode(name, parameters, body, tok.Line, tok.Column);
    }

    private Expr ParseTupleOrExpr()
    {
        TemplateToken start = Peek;
        Expr first = ParseExpr();
        if (!IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (IsOp(",")) { _i++; items.Add(ParseExpr()); }
        return new ListExpr(items, true, start.Line, start.Column);
    }

    public Expr ParseExpr()
    {
        if (++_depth > MaxNesting) throw Error($"expression nested more than {MaxNesting} deep");
        TemplateToken start = Peek;
        Expr e = ParseOr();
        if (IsName("if"))
        {
            _i++;
            Expr cond = ParseOr();
            Expr? otherwise = null;
            if (IsName("else")) { _i++; otherwise = ParseExpr(); }
            e = new CondExpr(cond, e, otherwise, start.Line, start.Column);
        }
        _depth--;
        return e;
    }

    private Expr ParseOr()
    {
        Expr e = ParseAnd();
        while (IsName("or")) { TemplateToken t = Next(); e = new BinaryExpr("or", e, ParseAnd(), t.Line, t.Column); }
        return e;
    }

    private Expr ParseAnd()
    {
        Expr e = ParseNot();
        while (IsName("and")) { TemplateToken t = Next(); e = new BinaryExpr("and", e, ParseNot(), t.Line, t.Column); }
        return e;
    }

    private Expr ParseNot()
    {
        if (!IsName("not")) return ParseCompare();
        TemplateToken t = Next();
        if (++_depth > MaxNesting) throw Error($"expression nested more than {MaxNesting} deep");
        var e = new UnaryExpr("not", ParseNot(), t.Line, t.Column);
        _depth--;
        return e;
    }

    private static readonly string[] CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    private Expr ParseCompare()
    {
        TemplateToken start = Peek;
        Expr first = ParseConcat();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Peek.Kind == TokenKind.Op && CompareOps.Contains(Peek.Text)) { string op = Next().Text; rest.Add((op, ParseConcat())); }
            else if (IsName("in")) { _i++; rest.Add(("in", ParseConcat())); }
            else if (IsName("not") && _t[_i + 1].Kind == TokenKind.Name && _t[_i + 1].Text == "in") { _i += 2; rest.Add(("not in", ParseConcat())); }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, start.Line, start.Column);
    }

    private Expr ParseConcat()
    {
        Expr e = ParseMath1();
        while (IsOp("~")) { TemplateToken t = Next(); e = new BinaryExpr("~", e, ParseMath1(), t.Line, t.Column); }
        return e;
    }

    private Expr ParseMath1()
    {
        Expr e = ParseMath2();
        while (IsOp("+") || IsOp("-")) { TemplateToken t = Next(); e = new BinaryExpr(t.Text, e, ParseMath2(), t.Line, t.Column); }
        return e;
    }

    private Expr ParseMath2()
    {
        Expr e = ParsePow();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) { TemplateToken t = Next(); e = new BinaryExpr(t.Text, e, ParsePow(), t.Line, t.Column); }
        return e;
    }

    private Expr ParsePow()
    {
        Expr e = ParseUnary();
        while (IsOp("**")) { TemplateToken t = Next(); e = new BinaryExpr("**", e, ParseUnary(), t.Line, t.Column); }
        return e;
    }

    /// <summary>Jinja's parse_unary: filters bind to the signed value, so <c>-3|abs</c> is 3.</summary>
    private Expr ParseUnary(bool withFilter = true)
    {
        Expr node;
        if (IsOp("-") || IsOp("+"))
        {
            TemplateToken t = Next();
            if (++_depth > MaxNesting) throw Error($"expression nested more than {MaxNesting} deep");
            node = new UnaryExpr(t.Text, ParseUnary(false), t.Line, t.Column);
            _depth--;
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilter ? ParseFilters(node) : node;
    }

    private Expr ParsePrimary()
    {
        TemplateToken t = Next();
        switch (t.Kind)
        {
            case TokenKind.Number: return new LiteralExpr(t.Value, t.Line, t.Column);
            case TokenKind.String:
            {
                string s = (string)t.Value!;
                while (Peek.Kind == TokenKind.String) s += (string)Next().Value!;   // adjacent literals concatenate
                return new LiteralExpr(s, t.Line, t.Column);
            }
            case TokenKind.Name:
                return t.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line, t.Column),
                    "false" or "False" => new LiteralExpr(false, t.Line, t.Column),
                    "none" or "None" => new LiteralExpr(null, t.Line, t.Column),
                    _ => new NameExpr(t.Text, t.Line, t.Column),
                };
            case TokenKind.Op when t.Text == "(":
            {
                if (IsOp(")")) { _i++; return new ListExpr([], true, t.Line, t.Column); }
                Expr e = ParseExpr();
                if (IsOp(","))
                {
                    var items = new List<Expr> { e };
                    while (IsOp(",")) { _i++; if (IsOp(")")) break; items.Add(ParseExpr()); }
                    e = new ListExpr(items, true, t.Line, t.Column);
                }
                ExpectOp(")");
                return e;
            }
            case TokenKind.Op when t.Text == "[":
            {
                var items = new List<Expr>();
                while (!IsOp("]")) { if (items.Count > 0) { ExpectOp(","); if (IsOp("]")) break; } items.Add(ParseExpr()); }
                _i++;
                return new ListExpr(items, false, t.Line, t.Column);
            }
            case TokenKind.Op when t.Text == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    if (items.Count > 0) { ExpectOp(","); if (IsOp("}")) break; }
                    Expr k = ParseExpr();
                    ExpectOp(":");
                    items.Add((k, ParseExpr()));
                }
                _i++;
                return new DictExpr(items, t.Line, t.Column);
            }
            default:
                throw new TemplateException($"unexpected '{t.Text}' in an expression", t.Line, t.Column);
        }
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            TemplateToken t = Peek;
            if (IsOp("."))
            {
                _i++;
                if (Peek.Kind == TokenKind.Number) { e = new IndexExpr(e, new LiteralExpr(Next().Value, t.Line, t.Column), t.Line, t.Column); continue; }
                e = new AttrExpr(e, ExpectName(), t.Line, t.Column);
            }
            else if (IsOp("["))
            {
                _i++;
                Expr? start = null, stop = null, step = null;
                bool slice = false;
                if (!IsOp(":")) start = ParseExpr();
                if (IsOp(":"))
                {
                    slice = true;
                    _i++;
                    if (!IsOp(":") && !IsOp("]")) stop = ParseExpr();
                    if (IsOp(":")) { _i++; if (!IsOp("]")) step = ParseExpr(); }
                }
                ExpectOp("]");
                e = slice ? new SliceExpr(e, start, stop, step, t.Line, t.Column) : new IndexExpr(e, start!, t.Line, t.Column);
            }
            else if (IsOp("("))
            {
                _i++;
                var (args, kwargs) = ParseArgs();
                e = new CallExpr(e, args, kwargs, t.Line, t.Column);
            }
            else return e;
        }
    }

    private (List<Expr>, List<(string, Expr)>) ParseArgs()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (args.Count + kwargs.Count > 0) { ExpectOp(","); if (IsOp(")")) break; }
            if (Peek.Kind == TokenKind.Name && _t[_i + 1].Kind == TokenKind.Op && _t[_i + 1].Text == "=")
            {
                string name = Next().Text;
                _i++;
                kwargs.Add((name, ParseExpr()));
            }
            else args.Add(ParseExpr());
        }
        _i++;
        return (args, kwargs);
    }

    private Expr ParseFilters(Expr e)
    {
        while (true)
        {
            TemplateToken t = Peek;
            if (IsOp("|"))
            {
                _i++;
                string name = ExpectName();
                var (args, kwargs) = IsOp("(") ? ((Func<(List<Expr>, List<(string, Expr)>)>)(() => { _i++; return ParseArgs(); }))() : ([], []);
                e = ParsePostfix(new FilterExpr(e, name, args, kwargs, t.Line, t.Column));
            }
            else if (IsName("is"))
            {
                _i++;
                bool negated = false;
                if (IsName("not")) { _i++; negated = true; }
                string name = ExpectName();
                var args = new List<Expr>();
                if (IsOp("(")) { _i++; args = ParseArgs().Item1; }
                else if (Peek.Kind is TokenKind.Number or TokenKind.String || IsOp("[") || IsOp("{")
                         || (Peek.Kind == TokenKind.Name && Peek.Text is not ("and" or "or" or "else" or "if" or "not" or "in" or "is")))
                    args.Add(ParsePostfix(ParsePrimary()));   // Jinja: one argument without parentheses, e.g. "is divisibleby 3"
                e = new TestExpr(e, name, negated, args, t.Line, t.Column);
            }
            else return e;
        }
    }
}

using System.Diagnostics;
using SinkLab.Templates;

namespace SinkLab.Tests.Templates;

/// <summary>Broken and hostile templates end in a <see cref="TemplateException"/> quickly, whatever they try.</summary>
public sealed class ChatTemplateSandboxTests
{
    private static readonly ChatTurn[] Hello = [new("user", "Hello")];

    public static TheoryData<string, string> Hostile() => new()
    {
        { "{% for a in range(1000000) %}{% for b in range(1000000) %}{% endfor %}{% endfor %}", "evaluation steps" },
        { "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested" },
        { "{{ 'x' * 100000000 }}", "repetition" },
        { "{{ 100000000 * 'x' }}", "repetition" },
        { "{% set ns = namespace(s='xy') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}", "too long" },
        { "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "list too long" },
        { "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}", "nested more than" },
        { "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l | tojson }}", "nested more than" },
        { "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l == ns.l }}", "nested more than" },
        { "{{ range(100000000) | list }}", "exceeds" },
        { "{{ 2 ** 100000 }}", "overflow" },
        { "{{ 9223372036854775807 + 1 }}", "overflow" },
        { "{{ '%s' * 3 % (1, 2) }}", "not enough arguments" },
        { "{% for i in range(1000000) %}{{ 'abcdefgh' }}{% endfor %}", "output exceeds" },
        { "{{ " + string.Concat(Enumerable.Repeat("(", 100_000)) + "1" + string.Concat(Enumerable.Repeat(")", 100_000)) + " }}", "nested" },
        { "{{ " + string.Concat(Enumerable.Repeat("not ", 100_000)) + "1 }}", "nested" },
        { "{{ " + string.Concat(Enumerable.Repeat("-", 100_000)) + "1 }}", "nested" },
        { "{{ " + string.Concat(Enumerable.Repeat("[", 100_000)) + string.Concat(Enumerable.Repeat("]", 100_000)) + " }}", "nested" },
        { "{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 100_000)) + " }}", "nested" },
        { string.Concat(Enumerable.Repeat("{% if true %}", 300)) + string.Concat(Enumerable.Repeat("{% endif %}", 300)), "nested" },
        { string.Concat(Enumerable.Repeat("{% if true %}", 100_000)) + string.Concat(Enumerable.Repeat("{% endif %}", 100_000)), "characters" },
        { "{% include 'secrets.txt' %}", "include" },
        { "{% import 'x' as y %}", "import" },
        { "{% extends 'base' %}", "extends" },
        { "{{ messages.__class__.__init__.__globals__ }}", "" },
        { "{{ ''.__class__.__mro__[1].__subclasses__() }}", "" },
        { "{{ cycler.__init__.__globals__.os.popen('id').read() }}", "" },
        { "{% set l = [] %}{{ l.append(l) }}{{ l }}", "forbids" },
        { "{{ raise_exception('no') }}", "no" },
        { "{% if %}", "" },
        { "{{ }}", "" },
        { "{% for %}{% endfor %}", "" },
        { "{% endfor %}", "" },
        { "{{ 'unclosed }}", "never closed" },
        { "{{ [[[1]]] | tojson(indent=2000000) }}", "exceeds" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void FailsWithATemplateExceptionInBoundedTime(string template, string messagePart)
    {
        var clock = Stopwatch.StartNew();
        Exception? error = Record.Exception(() => ChatTemplate.Parse(template).Render(Hello, true));
        clock.Stop();
        // Probing reflection-style names gives undefined (empty), never .NET objects; everything else must throw.
        if (error == null)
        {
            Assert.Contains("__", template);
            Assert.Equal("", ChatTemplate.Parse(template).Render(Hello, true).Trim('(', ')', ' '));
        }
        else
        {
            var e = Assert.IsType<TemplateException>(error);
            Assert.Contains(messagePart, e.Message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public void ACyclicCallerValueIsRefused()
    {
        var cyclic = new Dictionary<string, object?>();
        cyclic["self"] = cyclic;
        var e = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{{ tools }}").Render(Hello, true, extra: new Dictionary<string, object?> { ["tools"] = cyclic }));
        Assert.Contains("nested", e.Message);
    }

    [Fact]
    public async Task DeepNestingWithinTheLimitsRendersFromAThreadPoolThread()
    {
        // 150 nested ifs and a 1,500-term sum are legal; the work runs on the sandbox's own stack, not the caller's.
        string template = string.Concat(Enumerable.Repeat("{% if true %}", 150)) + "{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 1499)) + " }}" +
                          string.Concat(Enumerable.Repeat("{% endif %}", 150));
        string result = await Task.Run(() => ChatTemplate.Parse(template).Render(Hello, true));
        Assert.Equal("1500", result);
    }

    /// <summary>2,000 random edits of a real template (deleted, duplicated, swapped and inserted spans of template
    /// syntax): each parses and renders, or fails with a TemplateException; nothing else escapes and none runs long.</summary>
    [Fact]
    public void FuzzedRealTemplatesFailOnlyWithTemplateExceptions()
    {
        string[] sources = ["Qwen-Qwen3-0.6B", "meta-llama-Llama-3.3-70B-Instruct", "google-gemma-2-2b-it"];
        string[] fragments = ["{%", "%}", "{{", "}}", "{#", "#}", "-", "(", ")", "[", "]", "'", "\"", "|", ".", ",", " if ", " else ", " for ", " in ",
            "endif", "endfor", "loop", "messages", "namespace(", "macro", "set ", "* 99999", "**", "~", ":", "::-1", "\\u12", "\\", "\n", "raw", "endraw"];
        var rng = new Random(20261130);
        var conversation = new ChatTurn[] { new("system", "sys"), new("user", "Hi"), new("assistant", "<think>\nx\n</think>\n\nYo"), new("user", "Bye") };
        int rendered = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 2000; i++)
        {
            string s = ChatTemplateTests.Fixture(sources[i % sources.Length]);
            int edits = 1 + rng.Next(4);
            for (int k = 0; k < edits; k++)
            {
                int at = rng.Next(s.Length), len = Math.Min(rng.Next(1, 24), s.Length - at);
                s = rng.Next(4) switch
                {
                    0 => s.Remove(at, len),
                    1 => s.Insert(at, s.Substring(at, len)),
                    2 => s.Insert(at, fragments[rng.Next(fragments.Length)]),
                    _ => s.Remove(at, len).Insert(rng.Next(s.Length - len), s.Substring(at, len)),
                };
            }
            try
            {
                ChatTemplate.Parse(s).Render(conversation, rng.Next(2) == 0, "<s>", "</s>");
                rendered++;
            }
            catch (TemplateException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                failed++;
            }
        }
        Assert.True(rendered > 100 && failed > 100, $"rendered {rendered}, failed {failed}: the mutations should reach both outcomes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }
}

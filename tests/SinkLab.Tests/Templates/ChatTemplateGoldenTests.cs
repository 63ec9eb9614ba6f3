using System.Text.Json;
using SinkLab.Templates;

namespace SinkLab.Tests.Templates;

/// <summary>
/// Language cases rendered by Jinja2 itself, set up as transformers sets it up for chat templates
/// (<c>Golden/make_golden.py</c> writes <c>golden.json</c>): SinkLab's renderer must print exactly what Jinja2 printed,
/// and raise a <see cref="TemplateException"/> wherever Jinja2 raised.
/// </summary>
public sealed class ChatTemplateGoldenTests
{
    private static readonly JsonDocument Golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "Golden", "golden.json")));

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement c in Golden.RootElement.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static TheoryData<int> FixtureRenderings()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Golden.RootElement.GetProperty("fixtures").GetArrayLength(); i++) data.Add(i);
        return data;
    }

    /// <summary>The real models' templates under Fixtures/, with several conversations, tools and flags.</summary>
    [Theory]
    [MemberData(nameof(FixtureRenderings))]
    public void RendersModelTemplatesAsJinja2Does(int index)
    {
        JsonElement root = Golden.RootElement;
        JsonElement c = root.GetProperty("fixtures")[index];
        DateTime clock = DateTime.Parse(root.GetProperty("clock").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var template = ChatTemplate.Parse(ChatTemplateTests.Fixture(c.GetProperty("fixture").GetString()!)).WithClock(() => clock);
        var messages = c.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
        var extra = c.GetProperty("extra").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        string Render() => template.Render(messages, c.GetProperty("add_generation_prompt").GetBoolean(),
            c.GetProperty("bos_token").GetString()!, c.GetProperty("eos_token").GetString()!, extra);
        if (c.TryGetProperty("error", out _))
        {
            Assert.Throws<TemplateException>(Render);
            return;
        }
        Assert.Equal(c.GetProperty("expected").GetString(), Render());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RendersAsJinja2Does(string name)
    {
        JsonElement root = Golden.RootElement;
        JsonElement c = root.GetProperty("cases").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var messages = root.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
        var context = c.GetProperty("context");
        bool addGen = context.TryGetProperty("add_generation_prompt", out JsonElement ag) && ag.GetBoolean();
        string bos = context.TryGetProperty("bos_token", out JsonElement b) ? b.GetString()! : "";
        string eos = context.TryGetProperty("eos_token", out JsonElement e) ? e.GetString()! : "";
        DateTime clock = DateTime.Parse(root.GetProperty("clock").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        string template = c.GetProperty("template").GetString()!;
        if (c.TryGetProperty("error", out _))
        {
            var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template).WithClock(() => clock).Render(messages, addGen, bos, eos));
            Assert.DoesNotContain('\n', ex.Message);
            return;
        }
        Assert.Equal(c.GetProperty("expected").GetString(), ChatTemplate.Parse(template).WithClock(() => clock).Render(messages, addGen, bos, eos));
    }
}

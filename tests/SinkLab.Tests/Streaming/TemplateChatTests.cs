using System.Diagnostics;
using Microsoft.Extensions.AI;
using SinkLab.Caching;
using SinkLab.Extensions.AI;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Templates;
using SinkLab.Tests.Templates;
using SinkLab.Tokenization;

namespace SinkLab.Tests.Streaming;

/// <summary>Chat through a model's own template: what is fed each turn, where replies stop, and the CLI's options.</summary>
public sealed class TemplateChatTests : IDisposable
{
    private const int ImStart = 259, ImEnd = 260;
    private readonly string _dir = Directory.CreateTempSubdirectory("sinklab-template-chat-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The tiny synthetic llama with &lt;|im_start|&gt; and &lt;|im_end|&gt; as control tokens, optionally a template.</summary>
    private string ChatModel(string? template, bool addBos = false) =>
        ChatVocabulary.Write(_dir, [(ImStart, "<|im_start|>", TokenType.Control), (ImEnd, "<|im_end|>", TokenType.Control)], (_, w) =>
        {
            w.Remove(GgufKeys.AddBos);
            w.Add(GgufKeys.AddBos, GgufValue.Of(addBos));
            if (template != null) w.Add(GgufKeys.ChatTemplate, GgufValue.Of(template));
        });

    [Fact]
    public void EndOfGenerationHoldsEosAndTheVocabularysEndOfTurnMarkers()
    {
        using Model m = Model.Load(ChatModel(null));
        Assert.Equal(new HashSet<int> { 2, ImEnd }, m.EndOfGeneration.ToHashSet());
        using Model stories = Model.Load(Shared.StoriesF32);
        Assert.Equal(new HashSet<int> { 2 }, stories.EndOfGeneration.ToHashSet());
    }

    /// <summary>
    /// Qwen3's template: the first turn feeds the whole rendering, later turns only the end of the reply's turn, the new
    /// message and the generation prompt; the replies equal those of a session fed exactly those tokens by hand.
    /// </summary>
    [Fact]
    public void FeedsTheTemplatesTextTurnByTurn()
    {
        using Model m = Model.Load(ChatModel(ChatTemplateTests.Fixture("Qwen-Qwen3-0.6B")));
        var options = new SamplerOptions { RepeatPenalty = 1f };
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 400), format: ChatFormat.ForModel(m) with { System = "Be brief." });
        Assert.NotNull(chat.Format.Template);
        var sampler = new Sampler(m.Config.VocabSize, options);
        string first = string.Concat(chat.Reply("Hello", 6, sampler));
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", chat.LastPromptText);
        _ = string.Concat(chat.Reply("Again", 6, sampler));
        Assert.Equal("<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n", chat.LastPromptText);
        Assert.Equal(["system", "user", "assistant", "user", "assistant"], chat.Turns.Select(t => t.Role));
        Assert.Equal(first, chat.Turns[2].Content);

        // By hand: the same tokens into a plain session, with the same greedy loop.
        using var s = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Sink(4, 400) });
        var manual = new Sampler(m.Config.VocabSize, options);
        int pending = -1;
        void Turn(string text)
        {
            var ids = new List<int>();
            if (pending >= 0) ids.Add(pending);
            ids.AddRange(m.Tokenizer.Encode(text, addSpecial: false, parseSpecial: true));
            foreach (int t in ids) manual.Accept(t);
            ReadOnlySpan<float> logits = s.Prefill(ids.ToArray());
            pending = -1;
            for (int i = 0; i < 6; i++)
            {
                int next = manual.Sample(logits);
                manual.Accept(next);
                if (m.EndOfGeneration.Contains(next)) break;
                if (i == 5) { pending = next; break; }
                logits = s.Decode(next);
            }
        }
        Turn("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
        Turn("<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n");
        Assert.Equal(s.Ring.Position, chat.Session.Ring.Position);
        // Same tokens in both caches: the next step's logits agree to the bit.
        Assert.Equal(s.Decode(5).ToArray(), chat.Session.Decode(5).ToArray());
        // <|im_start|> went in as one control token, not as text.
        Assert.Contains(ImStart, m.Tokenizer.Encode("<|im_start|>user", addSpecial: false, parseSpecial: true));
    }

    [Fact]
    public void TheFirstTurnGetsBosWhenTheModelWantsItAndTheTemplateDidNotWriteIt()
    {
        using Model m = Model.Load(ChatModel("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}", addBos: true));
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 100));
        _ = string.Concat(chat.Reply("Hi", 1, new Sampler(m.Config.VocabSize)));
        Assert.Equal(1 + m.Tokenizer.Encode("[user] Hi\n[assistant]", addSpecial: false, parseSpecial: true).Length, (int)chat.Session.Ring.Position);

        using Model withBos = Model.Load(ChatModel("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}", addBos: true));
        using var chat2 = new StreamingChat(withBos, CachePolicy.Sink(4, 100));
        _ = string.Concat(chat2.Reply("Hi", 1, new Sampler(withBos.Config.VocabSize)));
        Assert.Equal(m.Tokenizer.Encode("<s>Hi", addSpecial: false, parseSpecial: true).Length, (int)chat2.Session.Ring.Position);   // one BOS, not two
    }

    [Fact]
    public void ATemplateThatRefusesTheConversationFailsBeforeAnythingIsFed()
    {
        using Model m = Model.Load(ChatModel(ChatTemplateTests.Fixture("google-gemma-2-2b-it")));
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 100), format: ChatFormat.ForModel(m) with { System = "sys" });
        var e = Assert.Throws<TemplateException>(() => chat.Reply("Hi", 4, new Sampler(m.Config.VocabSize)));
        Assert.Contains("System role not supported", e.Message);
        Assert.Equal(0, chat.Session.Ring.Position);
    }

    [Fact]
    public async Task ChatClientPassesSystemMessagesToTheTemplate()
    {
        using Model m = Model.Load(ChatModel(ChatTemplateTests.Fixture("Qwen-Qwen3-0.6B")));
        using var client = new SinkLabChatClient(m, new SinkLabChatClientOptions { Cache = CachePolicy.Sink(4, 200), RepeatPenalty = 1f });
        ChatResponse r = await client.GetResponseAsync([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Hello")],
            new ChatOptions { MaxOutputTokens = 6 });
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 200), format: ChatFormat.ForModel(m) with { System = "Be brief." });
        Assert.Equal(string.Concat(chat.Reply("Hello", 6, new Sampler(m.Config.VocabSize, new SamplerOptions { RepeatPenalty = 1f }))), r.Text);
        Assert.Equal(chat.Session.Ring.Position, client.Cache!.Position);
    }

    [Fact]
    public void CliChatUsesTheTemplateTheSystemMessageAndTemplateVariables()
    {
        string model = ChatModel(ChatTemplateTests.Fixture("Qwen-Qwen3-0.6B"));
        var (code, _, err) = RunChat("Hello\nAgain\n", model, "--system", "Be brief.", "--template-var", "enable_thinking=false", "--show-prompt");
        Assert.Equal(0, code);
        Assert.Contains("[prompt] \"\\u003C|im_start|\\u003Esystem\\nBe brief.", err);
        Assert.Contains("\\u003C|im_start|\\u003Eassistant\\n\\u003Cthink\\u003E\\n\\n\\u003C/think\\u003E\\n\\n\"", err);
        Assert.DoesNotContain("warning", err);

        string file = Path.Combine(_dir, "t.jinja");
        File.WriteAllText(file, "{% for m in messages %}<<{{ m.content }}>>{% endfor %}");
        (code, _, err) = RunChat("Hello\n", model, "--template", file, "--show-prompt");
        Assert.Equal(0, code);
        Assert.Contains("[prompt] \"\\u003C\\u003CHello\\u003E\\u003E\"", err);

        (code, _, err) = RunChat("Hello\n", ChatModel(null));
        Assert.Equal(0, code);
        Assert.Contains("warning: the model has no chat template", err);

        (code, _, err) = RunChat("Hello\n", model, "--template", "{{ unclosed");
        Assert.Equal(2, code);
        Assert.Contains("--template", err);
        File.WriteAllText(file, "{% if %}");
        (code, _, err) = RunChat("Hello\n", model, "--template", file);
        Assert.Equal(2, code);
        Assert.StartsWith("sinklab: error: chat template line 1", err.Trim());
        (code, _, err) = RunChat("Hello\n", model, "--template-var", "novalue");
        Assert.Equal(2, code);
        Assert.Contains("NAME=VALUE", err);
    }

    private static (int Code, string Out, string Err) RunChat(string stdin, string model, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "SinkLab.Cli.dll"), "chat", model, "--cache", "sink:4+60", "-n", "5", "-t", "1" }.Concat(args))
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }
}

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

/// <summary>
/// Chat in OpenAI's harmony format (gpt-oss): the published template through <see cref="StreamingChat"/> and
/// <see cref="SinkLabChatClient"/>, replies read by channel, and the end-of-generation rule llama.cpp applies to a
/// harmony vocabulary. The models are the tiny synthetic llama with harmony's markers in its vocabulary and weights set
/// so that greedy decoding follows a script: every block's output projections are zero, so the logits depend on the
/// last token alone, and each scripted token's embedding is a unit vector whose output row picks its successor.
/// </summary>
public sealed class HarmonyChatTests : IDisposable
{
    private static readonly string Long = new('=', 150);   // longer than any fixed decode buffer
    private static readonly string[] Vocabulary =
        ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|return|>", "<|call|>", "<|constrain|>",
         "assistant", "analysis", "final", "commentary", "Thinking", "Answer", "json", Long, " to=functions.get"];
    private const int First = 259;   // ids First.. hold Vocabulary; markers are control tokens, the words user-defined
    private static readonly DateTime Clock = new(2026, 12, 1);
    private readonly string _dir = Directory.CreateTempSubdirectory("sinklab-harmony-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Id(string text) => First + Array.IndexOf(Vocabulary, text);

    /// <summary>A harmony model whose greedy reply follows <paramref name="script"/>: after token a comes script[a].</summary>
    private string ScriptedModel(params (string From, string To)[] script) =>
        ChatVocabulary.Write(_dir, Vocabulary.Select((text, i) => (First + i, text, text.StartsWith("<|", StringComparison.Ordinal) ? TokenType.Control : TokenType.UserDefined)), (f, w) =>
        {
            w.Add(GgufKeys.ChatTemplate, GgufValue.Of(ChatTemplateTests.Fixture("openai-gpt-oss-120b")));
            GgufTensorInfo Tensor(string name) => f.Tensors.Single(t => t.Name == name);
            int dim = (int)Tensor("token_embd.weight").Dimensions[0], vocab = (int)Tensor("token_embd.weight").Dimensions[1];
            var embedding = new float[vocab * dim];
            var output = new float[vocab * dim];
            for (int k = 0; k < script.Length; k++)
            {
                embedding[Id(script[k].From) * dim + k] = 1f;
                output[Id(script[k].To) * dim + k] = 10f;
            }
            void Replace(string name, float[] data)
            {
                long[] dims = Tensor(name).Dimensions.ToArray();
                w.RemoveTensor(name);
                w.AddTensor(name, dims, data);
            }
            Replace("token_embd.weight", embedding);
            Replace("output.weight", output);
            Replace("output_norm.weight", Enumerable.Repeat(1f, dim).ToArray());
            foreach (GgufTensorInfo t in f.Tensors.Where(t => t.Name.EndsWith("attn_output.weight", StringComparison.Ordinal) || t.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal)))
                Replace(t.Name, new float[t.Dimensions.Aggregate(1L, (a, d) => a * d)]);
        });

    /// <summary>&lt;|channel|&gt;final&lt;|message|&gt;Answer&lt;|return|&gt;</summary>
    private string AnswerModel() => ScriptedModel(("assistant", "<|channel|>"), ("<|channel|>", "final"), ("final", "<|message|>"),
        ("<|message|>", "Answer"), ("Answer", "<|return|>"));

    /// <summary>&lt;|channel|&gt;analysis&lt;|message|&gt;Thinking&lt;|end|&gt;&lt;|start|&gt;assistant… for ever.</summary>
    private string ThinkingModel() => ScriptedModel(("assistant", "<|channel|>"), ("<|channel|>", "analysis"), ("analysis", "<|message|>"),
        ("<|message|>", "Thinking"), ("Thinking", "<|end|>"), ("<|end|>", "<|start|>"), ("<|start|>", "assistant"));

    private static ChatFormat Harmony(Model m) => new() { Template = ChatTemplate.FromModel(m)!.WithClock(() => Clock) };

    [Fact]
    public void OnlyReturnAndCallEndAHarmonyReply()
    {
        using Model m = Model.Load(AnswerModel());
        Assert.Equal(new HashSet<int> { 2, Id("<|return|>"), Id("<|call|>") }, m.EndOfGeneration.ToHashSet());
    }

    [Fact]
    public void TheReaderSplitsChannelsHeadersAndRecipients()
    {
        using Model m = Model.Load(AnswerModel());
        HarmonyReader reader = HarmonyReader.For(m.Tokenizer)!;
        reader.Begin();
        int[] ids = m.Tokenizer.Encode("<|channel|>analysis<|message|>Thinking<|end|><|start|>assistant to=functions.get<|channel|>commentary <|constrain|>json<|message|>{}",
            addSpecial: false, parseSpecial: true);
        var parts = new List<(HarmonyPart Part, string Channel, string Text)>();
        foreach (int id in ids)
        {
            HarmonyPart p = reader.Feed(id);
            parts.Add((p, reader.Channel, System.Text.Encoding.UTF8.GetString(m.Tokenizer.TokenBytes(id))));
        }
        Assert.Equal("Thinking", string.Concat(parts.Where(p => p.Part == HarmonyPart.Content && p.Channel == "analysis").Select(p => p.Text)));
        Assert.EndsWith("{}", string.Concat(parts.Where(p => p.Part == HarmonyPart.Content && p.Channel == "commentary").Select(p => p.Text)));
        Assert.Equal("functions.get", reader.Recipient);
        Assert.Equal("json", reader.ContentType);
        Assert.Equal(ids.Count(id => id >= First && id < First + 7), parts.Count(p => p.Part == HarmonyPart.Marker));
        Assert.Null(HarmonyReader.For(Model.Load(Shared.StoriesF32).Tokenizer));
    }

    [Fact]
    public void AReplyIsItsFinalChannelAndTheNextTurnClosesItWithEnd()
    {
        using Model m = Model.Load(AnswerModel());
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 400), format: Harmony(m) with { System = "Be brief." });
        Assert.True(chat.Harmony);
        var sampler = new Sampler(m.Config.VocabSize, new SamplerOptions { RepeatPenalty = 1f });
        Assert.Equal("Answer", string.Concat(chat.Reply("Hello", 10, sampler)));
        Assert.Equal(ReplyEnd.Stop, chat.LastEnd);
        Assert.Equal("", chat.LastReasoning);
        Assert.Equal("<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\n" +
                     "Current date: 2026-12-01\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>" +
                     "<|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|><|start|>user<|message|>Hello<|end|><|start|>assistant", chat.LastPromptText);
        long fed = chat.Session.Position;   // prompt + <|channel|> final <|message|> Answer (<|return|> ends the reply unfed)
        Assert.Equal((m.Tokenizer.AddBos ? 1 : 0) + m.Tokenizer.Encode(chat.LastPromptText, addSpecial: false, parseSpecial: true).Length + 4, fed);
        Assert.Equal("Answer", string.Concat(chat.Reply("Again", 10, sampler)));
        Assert.Equal("<|end|><|start|>user<|message|>Again<|end|><|start|>assistant", chat.LastPromptText);
        Assert.Equal(["system", "user", "assistant", "user", "assistant"], chat.Turns.Select(t => t.Role));
        Assert.Equal("Answer", chat.Turns[2].Content);
    }

    [Fact]
    public void AToolCallIsNotTheAnswerAndCallEndsTheReply()
    {
        using Model m = Model.Load(ScriptedModel(("assistant", " to=functions.get"), (" to=functions.get", "<|channel|>"), ("<|channel|>", "commentary"),
            ("commentary", "<|message|>"), ("<|message|>", "json"), ("json", "<|call|>")));
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 400), format: Harmony(m));
        var pieces = chat.ReplyPieces("Weather?", 10, new Sampler(m.Config.VocabSize, new SamplerOptions { RepeatPenalty = 1f })).ToList();
        Assert.Equal([new ChatPiece("json", true)], pieces);
        Assert.Equal(ReplyEnd.Stop, chat.LastEnd);
        Assert.Equal("", chat.Turns[^1].Content);
    }

    [Fact]
    public void ALongTokenDecodesWhole()
    {
        using Model m = Model.Load(ScriptedModel(("assistant", "<|channel|>"), ("<|channel|>", "final"), ("final", "<|message|>"),
            ("<|message|>", Long), (Long, "<|return|>")));
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 400), format: Harmony(m));
        Assert.Equal(Long, string.Concat(chat.Reply("Hello", 10, new Sampler(m.Config.VocabSize, new SamplerOptions { RepeatPenalty = 1f }))));
    }

    /// <summary>A conversation replayed from history (as the chat client does) fills the cache with the tokens the
    /// live conversation holds: the past answer under its final-channel header.</summary>
    [Fact]
    public void AReplayedTurnHoldsWhatTheLiveTurnHolds()
    {
        using Model m = Model.Load(AnswerModel());
        var options = new SamplerOptions { RepeatPenalty = 1f };
        using var live = new StreamingChat(m, CachePolicy.Sink(4, 400), format: Harmony(m));
        Assert.Equal("Answer", string.Concat(live.Reply("Hello", 10, new Sampler(m.Config.VocabSize, options))));
        using var replayed = new StreamingChat(m, CachePolicy.Sink(4, 400), format: Harmony(m));
        replayed.AddTurn("Hello", "Answer");
        Assert.Equal(live.Session.Position, replayed.Session.Position);
        _ = string.Concat(live.Reply("Again", 10, new Sampler(m.Config.VocabSize, options)));
        _ = string.Concat(replayed.Reply("Again", 10, new Sampler(m.Config.VocabSize, options)));
        Assert.Equal(live.LastPromptText, replayed.LastPromptText);
        Assert.Equal(live.Session.Position, replayed.Session.Position);
        Assert.Equal(live.Session.Decode(5).ToArray(), replayed.Session.Decode(5).ToArray());
    }

    [Fact]
    public void TheAnalysisChannelIsReasoningNotAnswer()
    {
        using Model m = Model.Load(ThinkingModel());
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 400), format: Harmony(m));
        var pieces = chat.ReplyPieces("Hello", 12, new Sampler(m.Config.VocabSize, new SamplerOptions { RepeatPenalty = 1f })).ToList();
        // <|channel|> analysis <|message|> Thinking <|end|> <|start|> assistant, twice (12 tokens, then the length limit)
        Assert.Equal([new ChatPiece("Thinking", true), new ChatPiece("Thinking", true)], pieces);
        Assert.Equal(ReplyEnd.Length, chat.LastEnd);
        Assert.Equal("ThinkingThinking", chat.LastReasoning);
        Assert.Equal("", chat.Turns[^1].Content);
    }

    [Fact]
    public async Task TheChatClientStreamsReasoningAsReasoningContent()
    {
        using Model thinking = Model.Load(ThinkingModel());
        using var client = new SinkLabChatClient(thinking, new SinkLabChatClientOptions { Cache = CachePolicy.Sink(4, 400), RepeatPenalty = 1f, Format = Harmony(thinking) });
        ChatResponse r = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hello")], new ChatOptions { MaxOutputTokens = 12 });
        Assert.Equal("", r.Text);
        Assert.Equal("ThinkingThinking", string.Concat(r.Messages.SelectMany(x => x.Contents).OfType<TextReasoningContent>().Select(c => c.Text)));

        using Model answer = Model.Load(AnswerModel());
        using var client2 = new SinkLabChatClient(answer, new SinkLabChatClientOptions { Cache = CachePolicy.Sink(4, 400), RepeatPenalty = 1f, Format = Harmony(answer) });
        ChatResponse r2 = await client2.GetResponseAsync([new ChatMessage(ChatRole.User, "Hello")], new ChatOptions { MaxOutputTokens = 12 });
        Assert.Equal("Answer", r2.Text);
        Assert.Equal(ChatFinishReason.Stop, r2.FinishReason);
    }
}

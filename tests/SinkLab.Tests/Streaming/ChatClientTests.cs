using Microsoft.Extensions.AI;
using SinkLab.Caching;
using SinkLab.Extensions.AI;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Streaming;

/// <summary>The IChatClient adapter and the streaming chat under it, on stories260K.</summary>
public class ChatClientTests
{
    [Fact]
    public async Task StreamsARepliesAndContinuesTheConversationInItsCache()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        using var client = new SinkLabChatClient(m, new SinkLabChatClientOptions { Cache = CachePolicy.Sink(4, 60) });
        var history = new List<ChatMessage> { new(ChatRole.User, "Tell me about a cat.") };
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync(history, new ChatOptions { MaxOutputTokens = 30 }))
            updates.Add(u);
        Assert.True(updates.Count > 2);
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        string reply = string.Concat(updates.Select(u => u.Text));
        Assert.False(string.IsNullOrWhiteSpace(reply));

        // Same as the engine's chat, greedy: the adapter adds nothing to the token stream.
        using (var chat = new StreamingChat(m, CachePolicy.Sink(4, 60)))
            Assert.Equal(reply, string.Concat(chat.Reply("Tell me about a cat.", 30, new Sampler(m.Config.VocabSize, new SamplerOptions { RepeatPenalty = 1.1f }))));

        long fedBefore = client.Cache!.Position;
        history.Add(new ChatMessage(ChatRole.Assistant, reply));
        history.Add(new ChatMessage(ChatRole.User, "What did it eat?"));
        ChatResponse second = await client.GetResponseAsync(history, new ChatOptions { MaxOutputTokens = 30 });
        Assert.False(string.IsNullOrWhiteSpace(second.Text));
        Assert.True(client.Cache!.Position > fedBefore);          // the same cache went on (no replay from scratch)
        Assert.True(client.Cache.Evicted > 0);                    // 60-token window: the first turn was evicted
        Assert.Equal(64, client.Cache.Live);
    }

    [Fact]
    public async Task CancellationStopsTheReply()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        using var client = new SinkLabChatClient(m);
        using var cts = new CancellationTokenSource();
        int count = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")],
                               new ChatOptions { MaxOutputTokens = 100_000 }, cts.Token))
                if (++count == 3) cts.Cancel();
        });
        Assert.InRange(client.Cache!.Position, 3, 1000);

        // Abandoning the enumeration (no token) also stops generation instead of blocking.
        await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")],
                           new ChatOptions { MaxOutputTokens = 100_000 }))
            break;
        Assert.InRange(client.Cache!.Position, 3, 1000);
        Assert.IsType<ChatClientMetadata>(client.GetService(typeof(ChatClientMetadata)));
    }

    [Fact]
    public void ChatEvictsForSpaceBeforeEachPrompt()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        using var chat = new StreamingChat(m, CachePolicy.Sink(4, 40));
        var sampler = new Sampler(m.Config.VocabSize);
        for (int turn = 0; turn < 4; turn++)
        {
            _ = string.Concat(chat.Reply("Tell me a story about a dog.", 20, sampler));
            Assert.InRange(chat.Session.Ring.Live, 1, 44);
        }
        Assert.True(chat.EvictedForSpace > 0);
        Assert.Throws<ArgumentException>(() => chat.Reply("  ", 5, sampler));
    }
}

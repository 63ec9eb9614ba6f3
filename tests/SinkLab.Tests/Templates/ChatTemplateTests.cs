using SinkLab.Templates;

namespace SinkLab.Tests.Templates;

/// <summary>Real models' chat templates rendered against prompts written by hand from each model's documented format.</summary>
public sealed class ChatTemplateTests
{
    internal static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "Fixtures", name + ".jinja"));

    private static readonly ChatTurn[] Conversation =
    [
        new("system", "You are a helpful assistant."),
        new("user", "Hello"),
        new("assistant", "Hi there"),
        new("user", "Who are you"),
        new("assistant", "   I am an assistant   "),
        new("user", "Another question"),
    ];

    [Fact]
    public void Llama33()
    {
        var t = ChatTemplate.Parse(Fixture("meta-llama-Llama-3.3-70B-Instruct"));
        string expected =
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
            "You are a helpful assistant.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, t.Render(Conversation, true, "<|begin_of_text|>", "<|eot_id|>"));
        Assert.Equal(expected[..^"<|start_header_id|>assistant<|end_header_id|>\n\n".Length],
            t.Render(Conversation, false, "<|begin_of_text|>", "<|eot_id|>"));
    }

    [Fact]
    public void Llama33_ToolsGoIntoTheFirstUserMessageAsIndentedJson()
    {
        var t = ChatTemplate.Parse(Fixture("meta-llama-Llama-3.3-70B-Instruct"));
        var tool = new Dictionary<string, object?>
        {
            ["type"] = "function",
            ["function"] = new Dictionary<string, object?>
            {
                ["name"] = "get_weather",
                ["parameters"] = new Dictionary<string, object?> { ["type"] = "object", ["required"] = new[] { "city" }, ["strict"] = true, ["n"] = 2.5 },
            },
        };
        string got = t.Render([new("user", "  Weather in Paris?  ")], true, "", "", new Dictionary<string, object?> { ["tools"] = new[] { tool } });
        string json = "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"parameters\": {\n" +
                      "            \"type\": \"object\",\n            \"required\": [\n                \"city\"\n            ],\n" +
                      "            \"strict\": true,\n            \"n\": 2.5\n        }\n    }\n}";
        string expected =
            "<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call " +
            "with its proper arguments that best answers the given prompt.\n\n" +
            "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n" +
            json + "\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, got);
    }

    [Fact]
    public void Llama32_ReadsTheClockThroughStrftimeNow()
    {
        var t = ChatTemplate.Parse(Fixture("meta-llama-Llama-3.2-3B-Instruct")).WithClock(() => new DateTime(2025, 3, 5, 14, 0, 0));
        string got = t.Render([new("user", "Hi")], true, "<|begin_of_text|>");
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 05 Mar 2025\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", got);
        // date_string passed by the caller wins over the clock
        Assert.Contains("Today Date: 1 Jan 1999\n", t.Render([new("user", "Hi")], true, extra: new Dictionary<string, object?> { ["date_string"] = "1 Jan 1999" }));
    }

    [Fact]
    public void Qwen3()
    {
        var t = ChatTemplate.Parse(Fixture("Qwen-Qwen3-0.6B"));
        string expected =
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n" +
            "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n" +
            "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal(expected, t.Render(Conversation, true));
        Assert.Equal(expected + "<think>\n\n</think>\n\n", t.Render(Conversation, true, extra: new Dictionary<string, object?> { ["enable_thinking"] = false }));
        Assert.Equal(expected, t.Render(Conversation, true, extra: new Dictionary<string, object?> { ["enable_thinking"] = true }));
    }

    [Fact]
    public void Qwen3_KeepsTheReasoningOfTheLastTurnOnly()
    {
        var t = ChatTemplate.Parse(Fixture("Qwen-Qwen3-0.6B"));
        ChatTurn answer = new("assistant", "<think>\nadd them\n</think>\n\n4");
        Assert.Equal("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nadd them\n</think>\n\n4<|im_end|>\n",
            t.Render([new("user", "2+2?"), answer], false));
        Assert.Equal("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n",
            t.Render([new("user", "2+2?"), answer, new("user", "And 3+3?")], true));
    }

    [Fact]
    public void Qwen3_ListsToolsAsCompactJson()
    {
        var t = ChatTemplate.Parse(Fixture("Qwen-Qwen3-0.6B"));
        var tool = new Dictionary<string, object?> { ["name"] = "f", ["description"] = "naïve \"quote\"\n", ["args"] = new object?[] { 1, null, false } };
        string got = t.Render([new("user", "x")], true, extra: new Dictionary<string, object?> { ["tools"] = new[] { tool } });
        Assert.Contains("<tools>\n{\"name\": \"f\", \"description\": \"naïve \\\"quote\\\"\\n\", \"args\": [1, null, false]}\n</tools>", got);
        Assert.StartsWith("<|im_start|>system\n# Tools\n\nYou may call one or more functions", got);
        Assert.EndsWith("</tool_call><|im_end|>\n<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n", got);
    }

    [Fact]
    public void Gemma2()
    {
        var t = ChatTemplate.Parse(Fixture("google-gemma-2-2b-it"));
        Assert.Equal(
            "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n" +
            "<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n",
            t.Render(Conversation[1..], true, "<bos>"));
        var e = Assert.Throws<TemplateException>(() => t.Render(Conversation, true, "<bos>"));
        Assert.Contains("System role not supported", e.Message);
        e = Assert.Throws<TemplateException>(() => t.Render([new("user", "a"), new("user", "b")], true));
        Assert.Contains("Conversation roles must alternate", e.Message);
    }

    [Fact]
    public void Phi35()
    {
        var t = ChatTemplate.Parse(Fixture("microsoft-Phi-3.5-mini-instruct"));
        string body = "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n" +
                      "<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n";
        Assert.Equal(body + "<|assistant|>\n", t.Render(Conversation, true, "<s>", "<|endoftext|>"));
        Assert.Equal(body + "<|endoftext|>", t.Render(Conversation, false, "<s>", "<|endoftext|>"));
        // an empty system message is dropped
        Assert.StartsWith("<|user|>", t.Render([new("system", ""), new("user", "x")], true));
    }

    [Fact]
    public void Llama3()
    {
        var t = ChatTemplate.Parse(Fixture("meta-llama-Meta-Llama-3-8B-Instruct"));
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            t.Render(Conversation, true, "<|begin_of_text|>", "<|eot_id|>"));
    }

    [Fact]
    public void Qwen25_AddsItsDefaultSystemPrompt()
    {
        var t = ChatTemplate.Parse(Fixture("Qwen-Qwen2.5-7B-Instruct"));
        string turns = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n" +
                       "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" + turns, t.Render(Conversation, true));
        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" + turns, t.Render(Conversation[1..], true));
    }

    [Fact]
    public void Gemma3_FoldsTheSystemMessageIntoTheFirstUserTurn()
    {
        var t = ChatTemplate.Parse(Fixture("google-gemma-3-1b-it"));
        Assert.Equal(
            "<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n" +
            "<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n" +
            "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n",
            t.Render(Conversation, true, "<bos>"));
    }

    [Fact]
    public void SmolLM2_AddsItsDefaultSystemPrompt()
    {
        var t = ChatTemplate.Parse(Fixture("HuggingFaceTB-SmolLM2-1.7B-Instruct"));
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n" +
                     "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n" +
                     "<|im_start|>assistant\n", t.Render(Conversation, true));
        Assert.Equal("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
            t.Render([new("user", "Hi")], false));
    }

    [Fact]
    public void Phi3Mini_DropsTheSystemMessage()
    {
        var t = ChatTemplate.Parse(Fixture("microsoft-Phi-3-mini-4k-instruct"));
        Assert.Equal("<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n" +
                     "<|user|>\nAnother question<|end|>\n<|assistant|>\n", t.Render(Conversation, true, "<s>"));
    }
}

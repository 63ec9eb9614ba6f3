using System.CommandLine;
using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tokenization;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab info MODEL</c>: architecture, hyper-parameters, tensor types and tokenizer.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var tok = Cli.TokenizerOption();
        var cmd = new Command("info", "Show a model's architecture, hyper-parameters, tensor types and tokenizer") { model, json, tok };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(json))));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, bool json)
    {
        using Model m = Cli.LoadModel(path, tokenizer);
        GgufFile f = m.File;
        var types = f.Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(), g => g.Count());
        long parameters = f.Tensors.Sum(t => t.ElementCount);
        var info = new
        {
            File = path,
            GgufVersion = f.Version,
            FileBytes = f.Length,
            MetadataCount = f.Metadata.Count,
            TensorCount = f.Tensors.Count,
            Parameters = parameters,
            TensorTypes = types,
            Tensors = f.Tensors.Select(t => new { t.Name, Type = t.Type.ToString(), Shape = t.Dimensions, Bytes = t.ByteSize }).ToArray(),
            m.Config.Architecture,
            Config = m.Config,
            Tokenizer = new
            {
                Model = f.GetStringOrNull(GgufKeys.TokenizerModel),
                m.Tokenizer.VocabSize,
                BosId = m.Tokenizer.BosId,
                EosId = m.Tokenizer.EosId,
                m.Tokenizer.AddBos,
                EndOfGeneration = m.EndOfGeneration.Order().ToArray(),
                ChatTemplate = f.GetStringOrNull(GgufKeys.ChatTemplate) is { } template ? $"{template.Length} characters" : null,
            },
        };
        if (json)
        {
            Cli.WriteJson(info);
            return 0;
        }
        var table = new Table().AddColumn("property").AddColumn("value");
        void Row(string k, object v) => table.AddRow(Markup.Escape(k), Markup.Escape(v.ToString() ?? ""));
        Row("file", path);
        Row("architecture", m.Config.Architecture);
        Row("parameters", parameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        foreach (var p in typeof(ModelConfig).GetProperties())
        {
            if (p.Name is nameof(ModelConfig.Block) or nameof(ModelConfig.LayerSpecs)) continue;
            Row(p.Name, p.GetValue(m.Config) ?? "");
        }
        foreach (var p in typeof(BlockDescription).GetProperties()) Row("block." + p.Name, p.GetValue(m.Config.Block) ?? "");
        foreach (string line in LayerSpecSummary.Describe(m.Config.LayerSpecs)) Row("layers", line);
        Row("tensor types", string.Join(", ", types.Select(kv => $"{kv.Key} × {kv.Value}")));
        Row("tokenizer", $"{info.Tokenizer.Model}, {m.Tokenizer.VocabSize} tokens, BOS {m.Tokenizer.BosId}, EOS {m.Tokenizer.EosId}");
        Row("end of turn", string.Join(", ", info.Tokenizer.EndOfGeneration.Select(id => $"{id} {m.Tokenizer.TokenText(id)}")));
        Row("chat template", info.Tokenizer.ChatTemplate ?? "none (chat uses plain USER:/ASSISTANT: turns)");
        AnsiConsole.Write(table);
        var tensors = new Table().AddColumn("tensor").AddColumn("type").AddColumn("shape (ggml ne)").AddColumn(new TableColumn("bytes").RightAligned());
        foreach (GgufTensorInfo t in f.Tensors)
            tensors.AddRow(Markup.Escape(t.Name), t.Type.ToString(), Markup.Escape(t.ShapeText), t.ByteSize.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        AnsiConsole.Write(tensors);
        return 0;
    }
}

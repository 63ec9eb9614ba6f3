using System.CommandLine;
using SinkLab.Analysis;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Cli.Commands;

/// <summary>What <c>--act-quant</c>, <c>--act-bits</c>, <c>--calib</c> and <c>--calib-sequences</c> asked for.</summary>
internal sealed record ActQuantRequest(ActQuantMode Mode, int Bits, string? CalibFile, int CalibSequences, int CalibTokens)
{
    /// <summary>Runs the calibration a static mode needs (null otherwise): the largest |x| at every quantized point
    /// over <see cref="CalibSequences"/> sequences of <see cref="CalibTokens"/> tokens of the calibration file,
    /// after <paramref name="prefix"/> when there is one.</summary>
    public ActCalibration? Calibrate(Model model, int[]? prefix)
    {
        if (Mode != ActQuantMode.Static) return null;
        int[][] seqs = ActQuantOptions.CalibrationSequences(model, CalibFile!, ActQuantOptions.CalibrationIds(model, CalibFile!), CalibSequences, CalibTokens);
        return ActQuantOptions.Calibrate(model, seqs, prefix);
    }
}

/// <summary>The activation-quantization and prefix options shared by <c>perplexity</c> and <c>cushion</c>.</summary>
internal sealed class ActQuantOptions
{
    private readonly Option<string> _mode = new("--act-quant") { Description = "Simulated activation quantization of the linear layers' inputs: none, static (per tensor, calibrated) or token (per token, dynamic)", DefaultValueFactory = _ => "none" };
    private readonly Option<int> _bits = new("--act-bits") { Description = "Bit width of the activation quantization (2-16)", DefaultValueFactory = _ => 8 };
    private readonly Option<string?> _calib = new("--calib") { Description = "Calibration text for --act-quant static" };
    private readonly Option<int> _calibSeqs = new("--calib-sequences") { Description = "Calibration sequences", DefaultValueFactory = _ => 16 };
    private readonly Option<int> _calibTokens = new("--calib-tokens") { Description = "Tokens per calibration sequence (BOS included)", DefaultValueFactory = _ => 128 };

    public static ActQuantOptions Create() => new();

    public static Option<string?> PrefixOption() => new("--prefix")
    {
        Description = "Prefix kept as a pinned part of the KV cache (CushionCache): a prefix JSON file from `sinklab cushion`, a file of token ids, or text",
    };

    public void AddTo(Command cmd)
    {
        cmd.Options.Add(_mode);
        cmd.Options.Add(_bits);
        cmd.Options.Add(_calib);
        cmd.Options.Add(_calibSeqs);
        cmd.Options.Add(_calibTokens);
    }

    public ActQuantRequest Read(ParseResult r)
    {
        ActQuantMode mode = ActivationQuantization.ParseMode(r.GetValue(_mode)!);
        int bits = r.GetValue(_bits);
        ActivationQuantization.QMax(bits);   // range check: [2, 16]
        string? calib = r.GetValue(_calib);
        if (mode == ActQuantMode.Static && calib == null) throw new ArgumentException("--act-quant static needs a calibration text (--calib FILE)", "--calib");
        int seqs = r.GetValue(_calibSeqs), tokens = r.GetValue(_calibTokens);
        if (seqs < 1) throw new ArgumentOutOfRangeException("--calib-sequences", seqs, "must be ≥ 1");
        if (tokens < 4) throw new ArgumentOutOfRangeException("--calib-tokens", tokens, "must be ≥ 4");
        return new ActQuantRequest(mode, bits, calib, seqs, tokens);
    }

    /// <summary>A calibration text, read and tokenized (without BOS) once, refusing a missing or empty file.</summary>
    public static int[] CalibrationIds(Model model, string file)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"calibration file not found: {file}", file);
        string text = File.ReadAllText(file);
        if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException($"{file}: the calibration file is empty", "--calib");
        return model.Tokenizer.Encode(text, addSpecial: false);
    }

    /// <summary>Up to <paramref name="sequences"/> consecutive sequences (BOS first) of a tokenized calibration text.</summary>
    public static int[][] CalibrationSequences(Model model, string file, int[] ids, int sequences, int tokens)
    {
        int available = ids.Length / (tokens - 1);
        if (available == 0) throw new ArgumentException($"{file}: too short for one calibration sequence of {tokens} tokens", "--calib");
        if (model.Tokenizer.BosId < 0) throw new ArgumentException("the model's tokenizer has no BOS token", "--calib");
        return CorpusSequences.Take(model.Tokenizer.BosId, ids, Math.Min(sequences, available), tokens);
    }

    /// <summary>Maxima over <paramref name="sequences"/> (each after the prefix, which takes its BOS's place).</summary>
    public static ActCalibration Calibrate(Model model, int[][] sequences, int[]? prefix)
    {
        var cal = new ActCalibration();
        int longest = sequences.Max(s => s.Length);
        using var session = new InferenceSession(model, new SessionOptions { ContextSize = longest + (prefix?.Length ?? 0), BatchSize = longest, Prefix = prefix });
        using (session.Hooks(cal.Recorder(model.Config)))
            foreach (int[] s in sequences)
            {
                session.Reset();
                session.Prefill(Prefix.Continue(s, prefix, model.Tokenizer.BosId));
            }
        return cal;
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SinkLab.Evaluation;
using SinkLab.Models;
using SinkLab.Training.Data;

namespace SinkLab.Training;

/// <summary>Every setting of a training run, in one JSON file (snake_case keys, nested "model" and "data").</summary>
public sealed record TrainConfig
{
    /// <summary>Run name (used for files).</summary>
    public string Name { get; init; } = "run";
    /// <summary>Model shape and attention variant ("attention": softmax | softmax1 | sink-logit | sigmoid | gated).</summary>
    public ModelSection Model { get; init; } = new();
    /// <summary>Data source and packing.</summary>
    public DataSection Data { get; init; } = new();
    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 300;
    /// <summary>Windows per step.</summary>
    public int Batch { get; init; } = 16;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Final learning rate as a fraction of the peak (cosine decay).</summary>
    public double MinLrRatio { get; init; } = 0.1;
    /// <summary>Linear warm-up steps.</summary>
    public int Warmup { get; init; } = 30;
    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Gradient-norm clip (0 = off).</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Seed of initialisation and data.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Evaluate every N steps (and at the end).</summary>
    public int EvalEvery { get; init; } = 100;
    /// <summary>Held-out batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;
    /// <summary>Write a checkpoint every N steps (0 = only at the end).</summary>
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Folder for checkpoint, metrics, config and the exported GGUF.</summary>
    public string OutDir { get; init; } = "runs/run";
    /// <summary>libtorch threads.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Where to train: "auto" (a CUDA device when TorchSharp finds one, else the CPU), "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Measure the sinks with the engine every N steps (<see cref="SinkProbe"/>; 0 = never).</summary>
    public int ProbeEvery { get; init; }
    /// <summary>Held-out windows per probe.</summary>
    public int ProbeSequences { get; init; } = 16;
    /// <summary>Softmax attention through libtorch's fused kernel (<see cref="ModelSettings.FusedAttention"/>); the
    /// committed grids and models made before it existed pin <c>false</c> so their tables reproduce bit for bit.</summary>
    public bool FusedAttention { get; init; } = true;

#pragma warning disable CS1591
    public sealed record ModelSection
    {
        public int Dim { get; init; } = 64;
        public int Layers { get; init; } = 2;
        public int Heads { get; init; } = 4;
        public int KvHeads { get; init; } = 4;
        public int Hidden { get; init; } = 172;
        public int Context { get; init; } = 64;
        public string Attention { get; init; } = "softmax";
        public float SigmoidBias { get; init; } = -4f;
    }

    public sealed record DataSection
    {
        /// <summary>"bigram-recall" for the synthetic task, or a text file (documents separated by blank lines).</summary>
        public string Source { get; init; } = "bigram-recall";
        /// <summary>"bytes", or a GGUF file whose tokenizer to use (e.g. stories260K).</summary>
        public string Tokenizer { get; init; } = "bytes";
        public string Packing { get; init; } = "bos-per-doc";
        /// <summary>Minimum-context training: only predictions that see at least this many tokens of their window
        /// (BOS included) are scored, in training and validation loss; 0 = every prediction.</summary>
        public int MinContext { get; init; }
        /// <summary>Characters of the corpus to use (0 = all).</summary>
        public int MaxChars { get; init; }
        /// <summary>Share of training windows with a repeated passage (copy training, for recall tests); 0 = none.</summary>
        public double RepeatRate { get; init; }
        /// <summary>Length of the repeated passage in tokens.</summary>
        public int RepeatLength { get; init; } = 16;
        /// <summary>bigram-recall: content symbols.</summary>
        public int TaskSymbols { get; init; } = 24;
        /// <summary>bigram-recall: memory keys.</summary>
        public int TaskKeys { get; init; } = 4;
        /// <summary>bigram-recall: values per key.</summary>
        public int TaskValues { get; init; } = 8;
        /// <summary>bigram-recall: probability of a store at a position.</summary>
        public double StoreRate { get; init; } = 0.08;
        /// <summary>bigram-recall: probability of a query at a position.</summary>
        public double QueryRate { get; init; } = 0.06;

        /// <summary>The synthetic task these settings describe (its bigram table drawn from <paramref name="seed"/>).</summary>
        /// <exception cref="ArgumentException">A task setting out of range, named.</exception>
        public SyntheticTask Task(int seed)
        {
            try { return new SyntheticTask(TaskSymbols, TaskKeys, TaskValues, StoreRate, QueryRate, seed); }
            catch (ArgumentException e) { throw new ArgumentException($"data.task_*/store_rate/query_rate: {e.Message}"); }
        }
    }
#pragma warning restore CS1591

    /// <summary>JSON conventions of config files.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Reads a config file and applies <c>key=value</c> overrides (dotted keys: <c>model.layers=4</c>).</summary>
    /// <exception cref="ArgumentException">Unreadable JSON, unknown key or a value of the wrong type.</exception>
    public static TrainConfig Load(string? path, IEnumerable<string> overrides)
    {
        JsonNode root;
        try
        {
            root = path == null ? JsonSerializer.SerializeToNode(new TrainConfig(), Json)! : JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                ?? throw new ArgumentException($"{path}: empty config");
        }
        catch (JsonException e) { throw new ArgumentException($"{path}: not valid JSON ({e.Message})"); }
        foreach (string o in overrides)
        {
            int eq = o.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--set '{o}': expected key=value");
            string[] keys = o[..eq].Split('.');
            JsonNode node = root;
            for (int i = 0; i < keys.Length - 1; i++)
                node = node[keys[i]] ?? (node[keys[i]] = new JsonObject());
            string raw = o[(eq + 1)..];
            node[keys[^1]] = bool.TryParse(raw, out bool flag) ? JsonValue.Create(flag)
                : double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && !raw.Contains('"')
                ? JsonValue.Create(d) : JsonValue.Create(raw);
        }
        try
        {
            return root.Deserialize<TrainConfig>(Json) ?? throw new ArgumentException("empty config");
        }
        catch (JsonException e) { throw new ArgumentException($"config: {e.Message}"); }
    }

    /// <summary>The attention variant named in the config.</summary>
    [JsonIgnore]
    public AttentionVariant Variant => Model.Attention == "sink-token" ? AttentionVariant.Softmax   // softmax with a learned sink token
        : AttentionVariantNames.TryParse(Model.Attention, out AttentionVariant v) ? v
        : throw new ArgumentException($"model.attention: unknown variant '{Model.Attention}' (known: {string.Join(", ", AttentionVariantNames.All)}, sink-token)");

    /// <summary>The packing, with the sink-token variant implying its own packing.</summary>
    [JsonIgnore]
    public Packing PackingValue => Model.Attention == "sink-token" ? Packing.SinkToken : PackingNames.Parse(Data.Packing);

    /// <summary>Checks ranges; names the setting that is wrong.</summary>
    public void Validate()
    {
        _ = Variant;
        _ = PackingValue;
        if (Steps < 1) throw new ArgumentException($"steps must be ≥ 1 (got {Steps})");
        if (Batch < 1) throw new ArgumentException($"batch must be ≥ 1 (got {Batch})");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning_rate must be > 0 (got {LearningRate})");
        if (Warmup < 0 || Warmup > Steps) throw new ArgumentException($"warmup must be in [0, steps] (got {Warmup})");
        if (WeightDecay < 0) throw new ArgumentException("weight_decay must be ≥ 0");
        if (EvalEvery < 1 || EvalBatches < 1) throw new ArgumentException("eval_every and eval_batches must be ≥ 1");
        if (Threads < 1) throw new ArgumentException("threads must be ≥ 1");
        if (Device is not ("auto" or "cpu" or "cuda")) throw new ArgumentException($"device must be auto, cpu or cuda (got '{Device}')");
        if (ProbeEvery < 0) throw new ArgumentException($"probe_every must be ≥ 0 (0 = no probes; got {ProbeEvery})");
        if (ProbeSequences < 1) throw new ArgumentException($"probe_sequences must be ≥ 1 (got {ProbeSequences})");
        if (Data.Source == "bigram-recall") _ = Data.Task(Seed);
        if (Data.MinContext < 0 || Data.MinContext >= Model.Context)
            throw new ArgumentException($"data.min_context must be in [0, model.context − 1] = [0, {Model.Context - 1}] (got {Data.MinContext})");
    }
}

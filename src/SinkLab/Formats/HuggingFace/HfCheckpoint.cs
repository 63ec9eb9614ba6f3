using System.Text.Json;

namespace SinkLab.Formats.HuggingFace;

/// <summary>
/// A Hugging Face checkpoint folder: <c>config.json</c>, weights in one <c>model.safetensors</c> or in shards listed by
/// <c>model.safetensors.index.json</c>, and the tokenizer files (read by <see cref="HfVocabulary"/>). Every listed shard
/// must exist and hold exactly the tensors the index gives it. Names are looked up across shards; a tied embedding saved
/// once under either name is found under both (see <see cref="TryFind"/>).
/// </summary>
public sealed class HfCheckpoint : IDisposable
{
    private readonly List<SafeTensorsFile> _files = [];
    private readonly Dictionary<string, (SafeTensorsFile File, SafeTensor Tensor)> _byName = new(StringComparer.Ordinal);

    private HfCheckpoint(string dir, JsonFile config)
    {
        Directory = dir;
        Config = new HfConfig(config);
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }
    /// <summary>config.json.</summary>
    public HfConfig Config { get; }
    /// <summary>Every tensor name, in shard and header order.</summary>
    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>Opens the folder: config.json, then the weights.</summary>
    /// <exception cref="HuggingFaceFormatException">A missing file, a malformed index or header, a shard that disagrees with the index.</exception>
    public static HfCheckpoint Open(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new HuggingFaceFormatException(dir, "folder", "a Hugging Face checkpoint folder", "missing");
        var cp = new HfCheckpoint(dir, JsonFile.Open(Path.Combine(dir, "config.json")));
        try
        {
            cp.OpenWeights();
            return cp;
        }
        catch
        {
            cp.Dispose();
            throw;
        }
    }

    private void OpenWeights()
    {
        string index = Path.Combine(Directory, "model.safetensors.index.json"), single = Path.Combine(Directory, "model.safetensors");
        if (File.Exists(index))
        {
            using JsonFile ix = JsonFile.Open(index);
            JsonElement map = ix.Object(ix.Root, "weight_map") ?? throw ix.Wrong("weight_map", "an object of tensor → shard file", null);
            var byFile = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                string file = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw ix.Wrong($"weight_map.{p.Name}", "a shard file name", p.Value);
                if (file.Length == 0 || file != Path.GetFileName(file) || file.StartsWith('.'))
                    throw ix.Wrong($"weight_map.{p.Name}", "a file name inside the folder", p.Value);
                if (!byFile.TryGetValue(file, out var names)) byFile[file] = names = [];
                names.Add(p.Name);
            }
            if (byFile.Count == 0) throw ix.Wrong("weight_map", "at least one tensor", map);
            foreach (var (file, names) in byFile)
            {
                string path = Path.Combine(Directory, file);
                if (!File.Exists(path)) throw new HuggingFaceFormatException(index, $"shard '{file}' (holding '{names[0]}')", "present in the folder", "missing");
                SafeTensorsFile st = Add(path);
                foreach (string n in names)
                    if (!st.Tensors.ContainsKey(n)) throw new HuggingFaceFormatException(path, $"tensor '{n}'", $"present (the index puts it in {file})", "missing");
            }
        }
        else if (File.Exists(single)) Add(single);
        else if (File.Exists(Path.Combine(Directory, "pytorch_model.bin")))
            throw new Gguf.ModelNotSupportedException("pytorch_model.bin", $"{Directory}: PyTorch pickle weights (pytorch_model.bin) are not read; save the model as safetensors");
        else throw new HuggingFaceFormatException(Directory, "weights", "model.safetensors or model.safetensors.index.json", "neither");
    }

    private SafeTensorsFile Add(string path)
    {
        SafeTensorsFile st = SafeTensorsFile.Open(path);
        _files.Add(st);
        foreach (var (name, t) in st.Tensors)
            if (!_byName.TryAdd(name, (st, t)))
                throw new HuggingFaceFormatException(path, $"tensor '{name}'", "stored once", $"also in {Path.GetFileName(_byName[name].File.Path)}");
        return st;
    }

    /// <summary>The tensor called <paramref name="name"/>, with the file holding it.</summary>
    public bool TryFind(string name, out SafeTensorsFile file, out SafeTensor tensor)
    {
        if (_byName.TryGetValue(name, out var hit)) { (file, tensor) = hit; return true; }
        file = null!;
        tensor = null!;
        return false;
    }

    /// <summary>Reads a tensor as float32, checking its shape (PyTorch order) against <paramref name="expected"/> when given.</summary>
    /// <exception cref="HuggingFaceFormatException">Missing, or of another shape.</exception>
    public float[] Read(string name, long[]? expected = null)
    {
        if (!TryFind(name, out SafeTensorsFile file, out SafeTensor t))
            throw new HuggingFaceFormatException(Directory, $"tensor '{name}'", "present in the checkpoint", "missing");
        if (expected != null && !t.Shape.SequenceEqual(expected))
            throw new HuggingFaceFormatException(file.Path, $"tensor '{name}' shape", $"[{string.Join(", ", expected)}] (from config.json)", $"[{string.Join(", ", t.Shape)}]");
        return file.ReadFloats(t);
    }

    /// <summary>The dtype of the first 2-D tensor (what llama.cpp's converter guesses the output type from).</summary>
    public string? FirstMatrixDType() => _byName.Values.Select(v => v.Tensor).FirstOrDefault(t => t.Shape.Length >= 2)?.DType;

    /// <summary>Closes the shards.</summary>
    public void Dispose()
    {
        foreach (SafeTensorsFile f in _files) f.Dispose();
        Config.Dispose();
    }
}

/// <summary>config.json, read as llama.cpp's converter reads it: the first of several possible key names, and a
/// multimodal model's <c>text_config</c> lifted to the top (its keys win).</summary>
public sealed class HfConfig : IDisposable
{
    private readonly JsonFile _file;
    private readonly JsonElement? _text;

    internal HfConfig(JsonFile file)
    {
        _file = file;
        _text = file.Object(file.Root, "text_config");
    }

    /// <summary>config.json's path.</summary>
    public string Path => _file.Path;

    /// <summary><c>architectures[0]</c>, e.g. <c>LlamaForCausalLM</c>.</summary>
    /// <exception cref="HuggingFaceFormatException">Missing or empty.</exception>
    public string Architecture
        => _file.Array(_file.Root, "architectures") is { } a && a.GetArrayLength() > 0 && a[0].ValueKind == JsonValueKind.String ? a[0].GetString()!
            : throw _file.Wrong("architectures", "a list naming the model class", JsonFile.Get(_file.Root, "architectures"));

    /// <summary><c>model_type</c>, or null.</summary>
    public string? ModelType => _file.String(_text ?? _file.Root, "model_type") ?? _file.String(_file.Root, "model_type");

    private JsonElement Holder(string key) => _text is { } t && JsonFile.Get(t, key) != null ? t : _file.Root;
    private string? First(string[] keys) => keys.FirstOrDefault(k => JsonFile.Get(Holder(k), k) != null);

    /// <summary>Whether any of <paramref name="keys"/> is present (and not null).</summary>
    public bool Has(params string[] keys) => First(keys) != null;

    /// <summary>The first present of <paramref name="keys"/> as an integer in [min, max].</summary>
    /// <exception cref="HuggingFaceFormatException">None present, or out of range; names the keys.</exception>
    public int Int(string[] keys, int min = 1, int max = 1 << 24)
        => First(keys) is { } k ? _file.Int(Holder(k), k, min, max) : throw _file.Wrong(string.Join("' or '", keys), $"an integer in [{min}, {max}]", null);

    /// <summary>An integer, or <paramref name="fallback"/> when none of <paramref name="keys"/> is present.</summary>
    public int IntOr(string[] keys, int fallback, int min = 0, int max = 1 << 24) => First(keys) is null ? fallback : Int(keys, min, max);

    /// <summary>The first present of <paramref name="keys"/> as a finite number.</summary>
    public double Number(params string[] keys)
        => First(keys) is { } k ? _file.Number(Holder(k), k) : throw _file.Wrong(string.Join("' or '", keys), "a number", null);

    /// <summary>A number, or <paramref name="fallback"/>.</summary>
    public double Number(string[] keys, double fallback) => First(keys) is null ? fallback : Number(keys);

    /// <summary>A boolean, or <paramref name="fallback"/>.</summary>
    public bool Bool(string key, bool fallback) => _file.Bool(Holder(key), key, fallback);

    /// <summary>A string, or null.</summary>
    public string? String(string key) => _file.String(Holder(key), key);

    /// <summary>An object (e.g. <c>rope_scaling</c>, MPT's <c>attn_config</c>), or null.</summary>
    public JsonElement? Object(string key) => _file.Object(Holder(key), key);

    /// <summary>Number in a nested object, or <paramref name="fallback"/>.</summary>
    public double Number(JsonElement o, string key, double fallback) => _file.Number(o, key, fallback);

    /// <summary>String in a nested object, or null.</summary>
    public string? String(JsonElement o, string key) => _file.String(o, key);

    /// <summary>Bool in a nested object.</summary>
    public bool Bool(JsonElement o, string key, bool fallback) => _file.Bool(o, key, fallback);

    /// <summary>An error about <paramref name="key"/>.</summary>
    public HuggingFaceFormatException Wrong(string key, string expected) => _file.Wrong(key, expected, JsonFile.Get(Holder(key), key));

    /// <summary>Releases the document.</summary>
    public void Dispose() => _file.Dispose();
}

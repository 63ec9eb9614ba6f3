using System.Security.Cryptography;
using TorchSharp.Modules;

namespace SinkLab.Training;

/// <summary>
/// A training checkpoint: the step, model weights and optimizer state in one file with a SHA-256 trailer, written to
/// a temporary name and renamed, so that a killed process never leaves a torn checkpoint behind.
/// </summary>
internal static class Checkpoint
{
    private const uint Magic = 0x4B434C53; // "SLCK"

    public static void Save(string path, int step, TinyLlama model, AdamW optimizer)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(step);
            model.save(w);
            optimizer.save_state_dict(w);
        }
        byte[] body = payload.ToArray();
        string tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        using (var w = new BinaryWriter(fs))
        {
            w.Write(Magic);
            w.Write(body.Length);
            w.Write(body);
            w.Write(SHA256.HashData(body));
            w.Flush();
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Restores model and optimizer; returns the step the checkpoint was taken after.</summary>
    /// <exception cref="InvalidDataException">The file is not a complete, intact SinkLab checkpoint.</exception>
    public static int Load(string path, TinyLlama model, AdamW optimizer)
    {
        byte[] all = File.ReadAllBytes(path);
        if (all.Length < 40 || BitConverter.ToUInt32(all, 0) != Magic)
            throw new InvalidDataException($"{path}: not a SinkLab checkpoint (bad magic or too short)");
        int len = BitConverter.ToInt32(all, 4);
        if (len < 4 || 8L + len + 32 != all.Length)
            throw new InvalidDataException($"{path}: corrupt checkpoint: payload length {len} does not match the file size {all.Length}");
        byte[] body = all.AsSpan(8, len).ToArray();
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(all.AsSpan(8 + len, 32)))
            throw new InvalidDataException($"{path}: corrupt checkpoint: SHA-256 mismatch");
        using var r = new BinaryReader(new MemoryStream(body));
        int step = r.ReadInt32();
        try
        {
            model.load(r);
            optimizer.load_state_dict(r);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{path}: checkpoint does not fit this model/config ({e.Message})", e);
        }
        return step;
    }
}

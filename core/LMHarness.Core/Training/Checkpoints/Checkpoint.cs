using System.Globalization;
using System.Text;
using System.Text.Json;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Checkpoints;

/// <summary>
/// One checkpoint file (a run folder's <c>checkpoints/step_NNNNNNN.ckpt</c>): a magic line, the
/// <see cref="CheckpointState"/> as JSON, the model's state dict (name + tensor, TorchSharp binary tensor format), the
/// optimizer state, the torch CPU RNG state, and an end marker. Written atomically, so a file with the final name is
/// always complete. Loading checks every tensor name and shape against the model first and refuses a mismatch naming
/// the tensor, before anything is modified.
/// </summary>
public static class Checkpoint
{
    const string Magic = "LMHARNESS-CHECKPOINT-1";
    const string EndMarker = "END";

    /// <summary>Writes a checkpoint to <paramref name="path"/> (atomically: a file under the final name is always complete).</summary>
    public static string Save(string path, CheckpointState state, nn.Module model, IOptimizer optimizer) =>
        AtomicFile.Write(path, fs =>
        {
            using var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(JsonSerializer.Serialize(state, ModelConfig.Json));
            var sd = model.state_dict();
            w.Write(sd.Count);
            foreach (var (name, t) in sd) { w.Write(name); t.Save(w); }
            optimizer.Save(w);
            using (var rng = torch.random.get_rng_state()) rng.Save(w);
            w.Write(EndMarker);
            w.Flush();
        });

    /// <summary>Reads only the scalar state (configs, step) of a checkpoint.</summary>
    public static CheckpointState ReadState(string path)
    {
        using var r = Open(path);
        return ReadHeader(r, path);
    }

    /// <summary>
    /// Restores model weights, optimizer state and the torch RNG from <paramref name="path"/> and returns its state.
    /// Throws <see cref="InvalidDataException"/> naming the first tensor whose name or shape differs from the model's.
    /// </summary>
    public static CheckpointState Load(string path, nn.Module model, IOptimizer optimizer) => Read(path, model, optimizer);

    /// <summary>Restores only the model weights (for generation, analysis or fine-tuning); same shape checks as <see cref="Load"/>.</summary>
    public static CheckpointState LoadModel(string path, nn.Module model) => Read(path, model, null);

    static CheckpointState Read(string path, nn.Module model, IOptimizer? optimizer)
    {
        using var r = Open(path);
        try
        {
            var state = ReadHeader(r, path);
            var n = r.ReadInt32();
            var saved = new Dictionary<string, Tensor>();
            try
            {
                for (var i = 0; i < n; i++)
                {
                    var name = r.ReadString();
                    saved[name] = TensorExtensionMethods.Load(r);
                }
                CheckShapes(path, saved, model);
                using (torch.no_grad())
                    foreach (var (name, t) in model.state_dict()) t.copy_(saved[name]);
            }
            finally
            {
                foreach (var t in saved.Values) t.Dispose();
            }
            if (optimizer is null) return state;
            optimizer.Load(r);
            using (var rng = TensorExtensionMethods.Load(r)) torch.random.set_rng_state(rng);
            if (r.ReadString() != EndMarker) throw new EndOfStreamException();
            return state;
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"Checkpoint {path} is truncated or corrupt: delete it to resume from the previous one.");
        }
    }

    static void CheckShapes(string path, Dictionary<string, Tensor> saved, nn.Module model)
    {
        var mine = model.state_dict();
        foreach (var (name, t) in mine)
        {
            if (!saved.TryGetValue(name, out var s))
                throw new InvalidDataException($"Checkpoint {path} does not fit this model: tensor '{name}' is missing from the checkpoint (it was written for a different architecture). Use the model config stored in the checkpoint, or start a new run folder.");
            if (!s.shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"Checkpoint {path} does not fit this model: tensor '{name}' has shape [{string.Join(", ", s.shape)}] in the checkpoint but [{string.Join(", ", t.shape)}] in the model. Use the model config stored in the checkpoint, or start a new run folder.");
        }
        foreach (var name in saved.Keys.Where(k => !mine.ContainsKey(k)))
            throw new InvalidDataException($"Checkpoint {path} does not fit this model: the checkpoint has tensor '{name}' which the model lacks (it was written for a different architecture). Use the model config stored in the checkpoint, or start a new run folder.");
    }

    static BinaryReader Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint {path} does not exist: list the run's checkpoints/ folder for the available steps.", path);
        return new BinaryReader(File.OpenRead(path), Encoding.UTF8);
    }

    static CheckpointState ReadHeader(BinaryReader r, string path)
    {
        string magic;
        try { magic = r.ReadString(); }
        catch (Exception e) when (e is EndOfStreamException or IOException) { magic = ""; }
        if (magic != Magic)
            throw new InvalidDataException($"{path} is not an LMHarness checkpoint (bad header): delete it or point at a step_*.ckpt file.");
        return JsonSerializer.Deserialize<CheckpointState>(r.ReadString(), ModelConfig.Json)
               ?? throw new InvalidDataException($"Checkpoint {path} has an empty state: delete it to resume from the previous one.");
    }
}

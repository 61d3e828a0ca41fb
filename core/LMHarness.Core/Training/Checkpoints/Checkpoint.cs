using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Model;
using LMHarness.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Checkpoints;

/// <summary>
/// One checkpoint file (a run folder's <c>checkpoints/step_NNNNNNN.ckpt</c>), format 2: the header string
/// <c>LMHARNESS-CHECKPOINT-2</c>, then four sections, each framed as [name][int64 length L][L bytes][SHA-256 of those
/// L bytes], then the string <c>END</c> and nothing after it:
/// <list type="bullet">
/// <item><c>state</c>: the <see cref="CheckpointState"/> as JSON;</item>
/// <item><c>model</c>: an int32 count, then (name, tensor) pairs of the state dict in TorchSharp's binary tensor format;</item>
/// <item><c>optimizer</c>: the optimizer's state (<see cref="IOptimizer.Save"/>);</item>
/// <item><c>rng</c>: torch's CPU generator state.</item>
/// </list>
/// Written through <see cref="AtomicFile"/> (temp, fsync, rename), so a file with the final name is complete. Every
/// load walks the framing and checks every section's checksum first, and refuses a file that fails with
/// <see cref="InvalidDataException"/> naming it, before anything is read into the model; then it checks every tensor
/// name and shape against the model and refuses a mismatch naming the tensor.
/// Format 1 (the same content without framing or checksums, written before checksums existed) still loads, with a
/// warning that it cannot be verified; its end marker is checked, so a truncated one is refused.
/// </summary>
public static class Checkpoint
{
    const string Magic = "LMHARNESS-CHECKPOINT-2";
    const string LegacyMagic = "LMHARNESS-CHECKPOINT-1";
    const string EndMarker = "END";
    static readonly string[] Sections = ["state", "model", "optimizer", "rng"];

    /// <summary>Writes a checkpoint to <paramref name="path"/> (atomically: a file under the final name is always complete). Returns the path.</summary>
    public static string Save(string path, CheckpointState state, nn.Module model, IOptimizer optimizer) =>
        AtomicFile.Write(path, s =>
        {
            using (var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true)) w.Write(Magic);
            WriteSection(s, "state", w => w.Write(JsonSerializer.Serialize(state, ModelConfig.Json)));
            WriteSection(s, "model", w =>
            {
                var sd = model.state_dict();
                w.Write(sd.Count);
                foreach (var (name, t) in sd) { w.Write(name); t.Save(w); }
            });
            WriteSection(s, "optimizer", optimizer.Save);
            WriteSection(s, "rng", w => { using var rng = torch.random.get_rng_state(); rng.Save(w); });
            using (var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true)) w.Write(EndMarker);
        });

    // [name][int64 length][body][SHA-256 of body]: the length is known only after the body, so it is patched in.
    static void WriteSection(Stream s, string name, Action<BinaryWriter> body)
    {
        using (var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true)) { w.Write(name); w.Write(0L); }
        var start = s.Position;
        using var hashing = new HashingStream(s);
        using (var w = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true)) body(w);
        s.Write(hashing.Digest());
        var end = s.Position;
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, hashing.Written);
        s.Position = start - 8;
        s.Write(length);
        s.Position = end;
    }

    /// <summary>
    /// Checks a checkpoint without loading it: the framing and every section's SHA-256 (format 2), or the header and
    /// end marker (format 1, which has no checksums). Returns the format version; throws
    /// <see cref="InvalidDataException"/> naming the file and what is wrong.
    /// </summary>
    public static int Verify(string path)
    {
        using var fs = OpenRead(path);
        return Scan(fs, path, verify: true, stopAfterState: false).Version;
    }

    /// <summary>Reads only the scalar state (configs, step) of a checkpoint, after checking that section's checksum.</summary>
    public static CheckpointState ReadState(string path)
    {
        using var fs = OpenRead(path);
        var layout = Scan(fs, path, verify: true, stopAfterState: true);
        using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
        fs.Position = layout.StateOffset;
        return ReadStateJson(r, path, legacy: layout.Version == 1);
    }

    /// <summary>
    /// Restores model weights, optimizer state and the torch RNG from <paramref name="path"/> and returns its state.
    /// Throws <see cref="InvalidDataException"/> when the file fails its checks, and <see cref="InvalidDataException"/>
    /// naming the first tensor whose name or shape differs from the model's; in both cases before the model is modified.
    /// A format-1 file loads with a warning on <paramref name="log"/> (default: standard error).
    /// </summary>
    public static CheckpointState Load(string path, nn.Module model, IOptimizer optimizer, TextWriter? log = null) =>
        Read(path, model, optimizer, log, verified: false);

    /// <summary>Restores only the model weights (for generation, analysis, export or fine-tuning); same checks as <see cref="Load"/>.</summary>
    public static CheckpointState LoadModel(string path, nn.Module model, TextWriter? log = null) =>
        Read(path, model, null, log, verified: false);

    /// <summary>
    /// Restores only the optimizer state from <paramref name="path"/> (a run's init_optimizer): the model and the torch
    /// RNG stay as they are. The file's checksums are verified first; a format-1 file, or state of another layout, is
    /// refused naming the file.
    /// </summary>
    public static void LoadOptimizer(string path, IOptimizer optimizer)
    {
        using var fs = OpenRead(path);
        var layout = Scan(fs, path, verify: true, stopAfterState: false);
        if (layout.Version == 1)
            throw new InvalidDataException($"Checkpoint {path} is of format 1, whose optimizer state init_optimizer cannot read: start without init_optimizer, or from a newer checkpoint.");
        using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
        ReadOptimizer(fs, r, layout, path, optimizer, "Start with the optimizer the source was trained with, or without init_optimizer.");
    }

    // The optimizer section into optimizer, which must read it to its end: else it was written for another optimizer.
    static void ReadOptimizer(FileStream fs, BinaryReader r, Layout layout, string path, IOptimizer optimizer, string fix)
    {
        var (at, length) = layout.Offsets["optimizer"];
        fs.Position = at;
        optimizer.Load(r);
        if (fs.Position != at + length)
            throw new InvalidDataException($"Checkpoint {path} holds optimizer state of another layout ({length} bytes, {fs.Position - at} read): it was written for a different optimizer. {fix}");
    }

    const string ReasonKey = "checkpoint-damage-reason";

    /// <summary>True when <paramref name="error"/> says a checkpoint's bytes are damaged (rather than that it does not fit a model).</summary>
    public static bool IsDamage(Exception error) => error.Data.Contains(ReasonKey);

    /// <summary>What is wrong with a damaged checkpoint, without the file name and the advice (for a warning that names them itself).</summary>
    public static string DamageReason(Exception error) => error.Data[ReasonKey] as string ?? error.Message;

    /// <summary>True when <paramref name="path"/> passes <see cref="Verify"/>.</summary>
    public static bool IsIntact(string path)
    {
        try { Verify(path); return true; }
        catch (InvalidDataException e) when (IsDamage(e)) { return false; }
    }

    /// <summary>The error when every checkpoint of a run folder is damaged: it names each and says how to go on.</summary>
    public static InvalidDataException AllDamaged(string folder, IReadOnlyList<(string Path, string Reason)> damaged) =>
        Damaged(damaged[0].Path,
            $"{damaged[0].Reason}; and so is every other checkpoint of {folder}" +
            (damaged.Count > 1 ? $" ({string.Join("; ", damaged.Skip(1).Select(d => $"{Path.GetFileName(d.Path)}: {d.Reason}"))})" : "") +
            ". Delete the checkpoints folder to train the run again from step 0, or restore the folder from a copy");

    /// <summary>
    /// The error for a file whose bytes are not what was written (truncated, a checksum that does not match, broken
    /// framing, not a checkpoint): it names the file and the fix; <see cref="DamageReason"/> reads the bare reason back.
    /// </summary>
    static InvalidDataException Damaged(string path, string reason)
    {
        var e = new InvalidDataException($"Checkpoint {path} is damaged: {reason}. Nothing was loaded from it. Resuming the run falls back to the previous checkpoint; to sample or export, pass an earlier checkpoints/step_*.ckpt (or delete this file).");
        e.Data[ReasonKey] = reason;
        return e;
    }

    static CheckpointState Read(string path, nn.Module model, IOptimizer? optimizer, TextWriter? log, bool verified)
    {
        using var fs = OpenRead(path);
        var layout = Scan(fs, path, verify: !verified, stopAfterState: false);
        using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
        if (layout.Version == 1) return ReadLegacy(fs, r, path, model, optimizer, log ?? Console.Error);

        fs.Position = layout.Offsets["state"].Offset;
        var state = ReadStateJson(r, path);
        var (modelAt, modelLength) = layout.Offsets["model"];
        fs.Position = modelAt;
        LoadWeights(r, path, model, modelLength);
        EnsureConsumed(fs, path, "model", modelAt + modelLength);
        if (optimizer is null) return state;
        ReadOptimizer(fs, r, layout, path, optimizer, "Resume with the optimizer the run was trained with.");
        var (rngAt, rngLength) = layout.Offsets["rng"];
        fs.Position = rngAt;
        using (var rng = ReadRng(r, path, rngLength)) torch.random.set_rng_state(rng);
        return state;
    }

    // The generator state is a small byte tensor: its stored shape is bounded by its section before anything is allocated.
    static Tensor ReadRng(BinaryReader r, string path, long available)
    {
        try { return TensorIO.ReadChecked(r, available); }
        catch (InvalidDataException e) { throw Damaged(path, $"its rng section does not parse ({e.Message})"); }
    }

    /// <summary>
    /// The model tensors <paramref name="path"/> declares (name, shape, bytes), read from their headers while their data
    /// is skipped: what <see cref="CheckFits"/> compares a config with before a model is built. The framing is walked
    /// but not verified (the load that follows verifies it); a model section that does not parse is refused as damaged.
    /// </summary>
    public static IReadOnlyList<DeclaredTensor> DeclaredTensors(string path)
    {
        using var fs = OpenRead(path);
        var layout = Scan(fs, path, verify: false, stopAfterState: false);
        using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
        long end;
        if (layout.Version == 1)
        {
            fs.Position = layout.StateOffset;
            try { r.ReadString(); }   // format 1 is unframed: the state JSON, then the model's tensors
            catch (IOException e) { throw Damaged(path, $"its format-1 state does not parse ({e.Message})"); }
            end = fs.Length;
        }
        else
        {
            var (at, length) = layout.Offsets["model"];
            fs.Position = at;
            end = at + length;
        }
        var declared = new List<DeclaredTensor>();
        try
        {
            var n = r.ReadInt32();
            if (n < 0 || n > end - fs.Position) throw new InvalidDataException($"a state dict of {n} tensors");
            for (var i = 0; i < n; i++)
            {
                var name = r.ReadString();
                var (_, shape, bytes) = TensorIO.Skip(r, end - fs.Position);
                declared.Add(new DeclaredTensor(name, shape, bytes));
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw Damaged(path, $"its model section does not parse ({e.Message})");
        }
        return declared;
    }

    /// <summary>
    /// Checks, before a model is built from <paramref name="config"/> (read from <paramref name="configSource"/>), that
    /// the checkpoint holds exactly its tensors and that it fits in memory (<see cref="WeightsFit"/>). A refusal names
    /// the checkpoint, the config's source, the first tensor that disagrees and <paramref name="fix"/>; a file whose
    /// bytes are damaged is refused as damaged instead, since that explains the disagreement.
    /// </summary>
    public static void CheckFits(string path, ModelConfig config, string configSource, string fix)
    {
        try { config.Validated(); }
        catch (ArgumentException e) { throw new InvalidDataException($"Checkpoint {path}: {configSource} describes a model that cannot be built ({e.Message.TrimEnd('.')}); {fix}.", e); }
        var declared = DeclaredTensors(path);
        try { WeightsFit.Check(config, ParameterShapes.Of(config), declared, path, configSource, fix, MachineMemory.Available()); }
        catch (InvalidDataException)
        {
            Verify(path);   // damage, when there is any, is the better explanation
            throw;
        }
    }

    // Weights are parsed and shape-checked in full before the first copy, so a refused file leaves the model as it was.
    static void LoadWeights(BinaryReader r, string path, nn.Module model, long available)
    {
        var end = r.BaseStream.Position + available;
        var saved = new Dictionary<string, Tensor>();
        try
        {
            try
            {
                var n = r.ReadInt32();
                if (n < 0 || n > available) throw new InvalidDataException($"a state dict of {n} tensors");
                for (var i = 0; i < n; i++)
                {
                    var name = r.ReadString();
                    saved[name] = TensorIO.ReadChecked(r, end - r.BaseStream.Position);
                }
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                throw Damaged(path, $"its model section does not parse ({e.Message})");
            }
            CheckShapes(path, saved, model);
            using (torch.no_grad())
                foreach (var (name, t) in model.state_dict()) t.copy_(saved[name]);
        }
        finally
        {
            foreach (var t in saved.Values) t.Dispose();
        }
    }

    static void EnsureConsumed(FileStream fs, string path, string section, long end)
    {
        if (fs.Position != end)
            throw Damaged(path, $"section '{section}' holds {end - fs.Position} bytes more than its content");
    }

    // Format 1: magic, state JSON, state dict, optimizer, rng, END, unframed. Nothing to verify but the end marker.
    static CheckpointState ReadLegacy(FileStream fs, BinaryReader r, string path, nn.Module model, IOptimizer? optimizer, TextWriter log)
    {
        log.WriteLine($"warning: checkpoint {path} is in format 1, written before checkpoints carried checksums: it is loaded unverified (a changed byte would go unnoticed). Checkpoints written from now on are verified.");
        var state = ReadStateJson(r, path, legacy: true);
        LoadWeights(r, path, model, fs.Length - fs.Position);
        if (optimizer is null) return state;
        try
        {
            optimizer.Load(r);
            using (var rng = ReadRng(r, path, fs.Length - fs.Position)) torch.random.set_rng_state(rng);
            if (r.ReadString() != EndMarker) throw new EndOfStreamException();
        }
        catch (IOException e)
        {
            throw Damaged(path, $"its format-1 optimizer state does not parse ({e.Message})");
        }
        return state;
    }

    static CheckpointState ReadStateJson(BinaryReader r, string path, bool legacy = false)
    {
        try
        {
            var state = JsonNode.Parse(r.ReadString()) as JsonObject
                        ?? throw new InvalidDataException($"Checkpoint {path} has an empty state: delete it to resume from the previous one.");
            // Checkpoints keep the model config under the key names of their day: read renamed keys under the new name.
            if (state["model"] is JsonObject model) ConfigJson.Upgrade<ModelConfig>(model, $"Checkpoint {path}");
            return state.Deserialize<CheckpointState>(ModelConfig.Json)
                   ?? throw new InvalidDataException($"Checkpoint {path} has an empty state: delete it to resume from the previous one.");
        }
        catch (IOException e)
        {
            throw Damaged(path, $"its state does not parse ({e.Message})");
        }
        catch (JsonException e) when (legacy)
        {
            throw Damaged(path, $"its format-1 state is not valid JSON ({JsonErrors.Describe(e)})");
        }
        catch (JsonException e)
        {
            // The section passed its checksum, so the bytes are as written: by a version whose state this one cannot read.
            throw new InvalidDataException($"Checkpoint {path} holds a state this LMHarness cannot read ({JsonErrors.Describe(e)}): it was written by another version; resume it with that version, or start a new run folder.", e);
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

    static FileStream OpenRead(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint {path} does not exist: list the run's checkpoints/ folder for the available steps.", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    sealed record Layout(int Version, IReadOnlyDictionary<string, (long Offset, long Length)> Offsets, long StateOffset);

    /// <summary>
    /// Walks the file's framing from the start: header, each section's name and length (within the file), its checksum
    /// when <paramref name="verify"/>, the end marker and the end of the file. Reads at most one 1 MiB buffer at a time.
    /// </summary>
    static Layout Scan(FileStream fs, string path, bool verify, bool stopAfterState)
    {
        var version = ReadHeader(fs, path);
        if (version == 1)
        {
            // Format 1 is unframed: the end marker at the very end is all that shows the file was written whole.
            var tail = Encoded(EndMarker);
            var last = new byte[tail.Length];
            fs.Position = Math.Max(fs.Length - tail.Length, 0);
            if (fs.ReadAtLeast(last, last.Length, throwOnEndOfStream: false) != tail.Length || !last.AsSpan().SequenceEqual(tail))
                throw Damaged(path, "it is truncated (its end marker is missing)");
            fs.Position = Encoded(LegacyMagic).Length;
            return new Layout(1, new Dictionary<string, (long, long)>(), fs.Position);
        }
        var offsets = new Dictionary<string, (long, long)>();
        Span<byte> lengthBytes = stackalloc byte[8];
        var stored = new byte[ContentHash.Size];
        foreach (var name in Sections)
        {
            var at = fs.Position;
            ExpectBytes(fs, path, Encoded(name), $"the header of section '{name}' at byte {at}");
            if (fs.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) != 8) throw Truncated(fs, path, name);
            var length = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
            var left = fs.Length - fs.Position - ContentHash.Size;
            if (length < 0 || length > left)
                throw Damaged(path, $"section '{name}' claims {length} bytes but the file holds {Math.Max(left, 0)} more (it is truncated, or its framing is damaged)");
            var dataAt = fs.Position;
            if (verify)
            {
                var digest = ContentHash.Of(fs, length);
                fs.ReadExactly(stored);
                if (!digest.AsSpan().SequenceEqual(stored))
                    throw Damaged(path, $"section '{name}' ({length:N0} bytes) does not match its SHA-256 checksum (bytes changed on disk or in a copy)");
            }
            else fs.Position = dataAt + length + ContentHash.Size;
            offsets[name] = (dataAt, length);
            if (stopAfterState) return new Layout(2, offsets, dataAt);
        }
        ExpectBytes(fs, path, Encoded(EndMarker), "the end marker");
        if (fs.Position != fs.Length)
            throw Damaged(path, $"{fs.Length - fs.Position} unexpected bytes follow the end marker");
        return new Layout(2, offsets, offsets["state"].Item1);
    }

    static int ReadHeader(FileStream fs, string path)
    {
        var magic = Encoded(Magic);
        var head = new byte[magic.Length];
        var n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n == magic.Length && head.AsSpan().SequenceEqual(magic)) return 2;
        if (n == magic.Length && head.AsSpan().SequenceEqual(Encoded(LegacyMagic))) return 1;
        if (n < magic.Length && head.AsSpan(0, n).SequenceEqual(magic.AsSpan(0, n)))
            throw Damaged(path, $"it is truncated ({fs.Length} bytes, shorter than its header)");
        throw Damaged(path, "its first bytes are not the LMHarness checkpoint header (a damaged file, or not a step_*.ckpt at all)");
    }

    static void ExpectBytes(FileStream fs, string path, byte[] expected, string what)
    {
        var got = new byte[expected.Length];
        var n = fs.ReadAtLeast(got, got.Length, throwOnEndOfStream: false);
        if (n < got.Length) throw Damaged(path, $"it is truncated ({fs.Length} bytes; it ends where {what} should be)");
        if (!got.AsSpan().SequenceEqual(expected)) throw Damaged(path, $"{what} is not where the framing puts it (damaged framing)");
    }

    static InvalidDataException Truncated(FileStream fs, string path, string section) =>
        Damaged(path, $"it is truncated ({fs.Length} bytes; it ends inside section '{section}')");

    /// <summary>A string as <see cref="BinaryWriter.Write(string)"/> stores it: 7-bit-encoded byte length, then UTF-8.</summary>
    static byte[] Encoded(string s)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8)) w.Write(s);
        return ms.ToArray();
    }
}

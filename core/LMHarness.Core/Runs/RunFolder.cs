using System.Globalization;
using LMHarness.IO;

namespace LMHarness.Runs;

/// <summary>
/// A run folder on disk, the one place that knows its layout:
/// <code>
/// config.json     what the run is (<see cref="RunConfig"/>)          metrics.csv   one <see cref="MetricsRow"/> per logged step
/// result.json     how it ended (<see cref="RunResult"/>)            gradflow.csv  <see cref="GradFlowRow"/>s
/// checkpoints/    step_NNNNNNN.ckpt, newest last                    .lock         held by the one writer (<see cref="RunLock"/>)
/// </code>
/// Every reader and writer of these files in LMHarness goes through this type. Whole files are written atomically
/// (<see cref="AtomicFile"/>); the CSVs are appended a whole record at a time and flushed, and a reader drops a last
/// record cut short by a crash, so readers never see a half-written value.
/// Folders named <c>.../&lt;variant&gt;/seed&lt;k&gt;</c> (how experiments lay them out) have a <see cref="Variant"/>
/// and a <see cref="Seed"/>.
/// </summary>
public sealed class RunFolder
{
    public const string ConfigFile = "config.json", MetricsFile = "metrics.csv", GradFlowFile = "gradflow.csv",
        ResultFile = "result.json", CheckpointsFolder = "checkpoints", TensorBoardFolder = "tb";

    /// <summary>The run folder at <paramref name="path"/>, named after its place: <c>.../variant/seedK</c> is seed K of
    /// variant; <c>.../variant/seedK-xxxxxxxx</c> (a later config of the same variant, see Experiment) is seed K of
    /// "variant@xxxxxxxx"; any other folder is seed 0 of a variant named like the folder.</summary>
    public RunFolder(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        var dir = new DirectoryInfo(Path);
        var name = dir.Name;
        var dash = name.IndexOf('-');
        var seedText = !name.StartsWith("seed", StringComparison.Ordinal) ? "" : dash < 0 ? name[4..] : name[4..Math.Max(4, dash)];
        (Variant, Seed) = int.TryParse(seedText, out var s) && dir.Parent is not null
            ? (dash < 0 ? dir.Parent.Name : $"{dir.Parent.Name}@{name[(dash + 1)..]}", s)
            : (name, 0);
    }

    /// <summary>The run folder at <paramref name="path"/>, shown as seed <paramref name="seed"/> of <paramref name="variant"/>.</summary>
    public RunFolder(string path, string variant, int seed) : this(path) => (Variant, Seed) = (variant, seed);

    public string Path { get; }
    /// <summary>The variant this run belongs to (see the constructors).</summary>
    public string Variant { get; }
    /// <summary>The seed index of this run within its variant.</summary>
    public int Seed { get; }
    /// <summary>"variant/seedK": how plots and tables name the run.</summary>
    public string Label => $"{Variant}/seed{Seed}";

    public string File(string name) => System.IO.Path.Combine(Path, name);
    public string CheckpointsPath => File(CheckpointsFolder);
    public string TensorBoardPath => File(TensorBoardFolder);

    public bool Exists => Directory.Exists(Path);
    public bool HasConfig => System.IO.File.Exists(File(ConfigFile));
    public bool HasMetrics => System.IO.File.Exists(File(MetricsFile));

    /// <summary>The run's config.json; throws naming the folder when it has none.</summary>
    public RunConfig ReadConfig()
    {
        var path = File(ConfigFile);
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"{Path} has no {ConfigFile}, so it is not a run folder: pass a folder written by training (runs/<experiment>/<variant>/seed<k>).", path);
        return RunConfig.FromJson(System.IO.File.ReadAllText(path), path);
    }

    public void WriteConfig(RunConfig config) => AtomicFile.WriteAllText(File(ConfigFile), config.ToJson());

    /// <summary>metrics.csv; throws naming the folder when it has none.</summary>
    public IReadOnlyList<MetricsRow> ReadMetrics()
    {
        var path = File(MetricsFile);
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"{Path} is not a run folder: it has no {MetricsFile}. Pass folders like runs/<experiment>/<variant>/seed<k>.", path);
        return MetricsRow.Read(path);
    }

    /// <summary>gradflow.csv, or nothing when the run logged no gradient flow.</summary>
    public IReadOnlyList<GradFlowRow> ReadGradFlow() =>
        System.IO.File.Exists(File(GradFlowFile)) ? GradFlowRow.Read(File(GradFlowFile)) : [];

    /// <summary>result.json (summary.json in folders written before it was renamed), or null while the run has not
    /// stopped yet (or stopped by a crash).</summary>
    public RunResult? ReadResult()
    {
        foreach (var name in new[] { ResultFile, LegacyResultFile })
            if (System.IO.File.Exists(File(name))) return RunResult.FromJson(System.IO.File.ReadAllText(File(name)), File(name));
        return null;
    }

    /// <summary>What result.json was called before.</summary>
    const string LegacyResultFile = "summary.json";

    public void WriteResult(RunResult result) => AtomicFile.WriteAllText(File(ResultFile), result.ToJson());

    /// <summary>Checkpoint files, oldest first.</summary>
    public IReadOnlyList<string> Checkpoints =>
        Directory.Exists(CheckpointsPath)
            ? Directory.GetFiles(CheckpointsPath, "step_*.ckpt").OrderBy(p => System.IO.Path.GetFileName(p), StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The newest checkpoint, or null.</summary>
    public string? LatestCheckpoint => Checkpoints.LastOrDefault();

    /// <summary>Where the checkpoint of <paramref name="step"/> goes.</summary>
    public string CheckpointPath(long step) => System.IO.Path.Combine(CheckpointsPath, CheckpointFileName(step));

    public static string CheckpointFileName(long step) => $"step_{step.ToString("D7", CultureInfo.InvariantCulture)}.ckpt";

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints; returns those that could not be deleted,
    /// each with the reason (a file made immutable, a read-only folder): an old checkpoint left behind costs only disk.</summary>
    public IReadOnlyList<(string Path, string Reason)> PruneCheckpoints(int keep)
    {
        var kept = new List<(string, string)>();
        foreach (var old in Checkpoints.SkipLast(keep))
        {
            try { System.IO.File.Delete(old); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { kept.Add((old, e.Message)); }
        }
        return kept;
    }

    /// <summary>Takes the folder's single-writer lock (see <see cref="RunLock"/>).</summary>
    public RunLock Lock() => RunLock.Acquire(Path);

    /// <summary>
    /// Files and folders here that no run wrote (anything but the run files above, TensorBoard events, and the
    /// comparison a script may write beside them): what starting a fresh run here would put at risk.
    /// </summary>
    public IReadOnlyList<string> ForeignEntries()
    {
        if (!Exists) return [];
        static bool Ours(string name) =>
            name is ConfigFile or MetricsFile or GradFlowFile or ResultFile or CheckpointsFolder or TensorBoardFolder
                or RunLock.FileName or RunLock.OwnerFileName or LegacyResultFile
            || name.EndsWith(".png", StringComparison.Ordinal) || name.EndsWith(".tmp", StringComparison.Ordinal)
            || name.StartsWith("comparison.", StringComparison.Ordinal) || name == "report.html";
        return Directory.EnumerateFileSystemEntries(Path).Select(System.IO.Path.GetFileName).Where(n => !Ours(n!)).Order().ToList()!;
    }

    /// <summary>Opens metrics.csv for appending rows: a fresh file when <paramref name="keepUpToStep"/> is null, else
    /// the existing rows up to that step (a resumed run rewrites what came after its checkpoint).</summary>
    public RecordWriter<MetricsRow> OpenMetrics(long? keepUpToStep) => new(File(MetricsFile), MetricsRow.Columns, keepUpToStep, r => r.ToCsv());

    public RecordWriter<GradFlowRow> OpenGradFlow(long? keepUpToStep) => new(File(GradFlowFile), GradFlowRow.Columns, keepUpToStep, r => r.ToCsv());

    public override string ToString() => Path;
}

/// <summary>
/// Appends records to one of a run's CSV files, a whole flushed record at a time. Opening it either starts the file
/// afresh (header only) or keeps the records whose step (first column) is at most the resume step and drops the
/// rest; both rewrite the file atomically first, always with '\n' line ends, so a resumed run's file is byte for
/// byte the uninterrupted run's. A record whose write fails (a full disk) is cut off again: the file always ends
/// with a whole record.
/// </summary>
public sealed class RecordWriter<T> : IDisposable
{
    static readonly System.Text.UTF8Encoding Utf8 = new(false);
    readonly Stream _stream;
    readonly Func<T, string> _format;
    long _length; // where the last whole record ends

    internal RecordWriter(string path, IReadOnlyList<string> columns, long? keepUpToStep, Func<T, string> format, Func<string, Stream>? open = null)
    {
        _format = format;
        var header = Csv.Line(columns);
        var kept = new System.Text.StringBuilder(header);
        if (keepUpToStep is { } step && System.IO.File.Exists(path))
        {
            var table = Csv.Read(path);
            if (!table.Header.SequenceEqual(columns))
                throw new InvalidDataException($"{path} has the columns '{string.Join(',', table.Header)}', not '{string.Join(',', columns)}': it was written by another LMHarness version. Resume in a new folder or move it away.");
            for (int i = 0; i < table.Rows.Count; i++)
                if (table.Long(i, columns[0]) <= step) kept.Append(Csv.Line(table.Rows[i]));
        }
        try { AtomicFile.WriteAllText(path, kept.ToString()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot rewrite {path} ({e.Message.TrimEnd('.')}): make it and its folder writable (ls -l, lsattr: chattr -i), " +
                                  "then run the same command again. Nothing else in the run folder was changed.", e);
        }
        // Unbuffered: each record goes to the file in one write, and nothing is left in a buffer to be flushed, torn, later.
        _stream = open?.Invoke(path) ?? new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _length = _stream.Length;
    }

    public void Write(T record)
    {
        var bytes = Utf8.GetBytes(_format(record));
        try
        {
            _stream.Write(bytes);
            _stream.Flush();
            _length += bytes.Length;
        }
        catch (IOException)
        {
            try { _stream.SetLength(_length); } // readers would drop the torn record, but resume and compare should not have to
            catch (IOException) { }
            throw;
        }
    }

    public void Dispose() => _stream.Dispose();
}

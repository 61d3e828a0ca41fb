using System.Globalization;

namespace LMHarness.Experiments;

/// <summary>
/// Command-line arguments of a script: <c>--key value</c> options (a bare <c>--flag</c> is "true"; dashes in keys
/// read as underscores) and positional values. <see cref="Get{T}"/> records which keys a script reads, so
/// <see cref="EnsureAllUsed"/> can reject a misspelt knob instead of silently ignoring it.
/// </summary>
public sealed class ScriptArgs
{
    readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);
    readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public ScriptArgs(IList<string> args)
    {
        var positional = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2) { positional.Add(a); continue; }
            var key = a[2..].Replace('-', '_');
            var hasValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            _options[key] = hasValue ? args[++i] : "true";
        }
        Positional = positional;
    }

    /// <summary>Arguments that are not options, in order (e.g. run folders for compare.csx).</summary>
    public IReadOnlyList<string> Positional { get; }

    /// <summary>Every option given, by key.</summary>
    public IReadOnlyDictionary<string, string> Options => _options;

    /// <summary>Whether <c>--key</c> was given (marks it as read).</summary>
    public bool Has(string key)
    {
        _used.Add(key);
        return _options.ContainsKey(key);
    }

    /// <summary>The value of <c>--key</c> converted to T (int, long, double, bool, string, enums), else <paramref name="defaultValue"/>.</summary>
    public T Get<T>(string key, T defaultValue)
    {
        _used.Add(key);
        if (!_options.TryGetValue(key, out var text)) return defaultValue;
        try
        {
            var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
            return (T)(type.IsEnum ? Enum.Parse(type, text, ignoreCase: true) : Convert.ChangeType(text, type, CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException or ArgumentException)
        {
            throw new ArgumentException($"--{key} {text} is not a valid {typeof(T).Name} (default {defaultValue}).");
        }
    }

    /// <summary>Marks keys as read by code that consumes <see cref="Options"/> wholesale (e.g. config overrides).</summary>
    public void MarkUsed(IEnumerable<string> keys) => _used.UnionWith(keys);

    /// <summary>Options given on the command line that no one has read (misspelt knobs), in order given.</summary>
    public IReadOnlyList<string> Unused => _options.Keys.Where(k => !_used.Contains(k)).ToList();

    /// <summary>The keys read so far, sorted: what a script accepts.</summary>
    public IReadOnlyList<string> Used => _used.Order().ToList();

    /// <summary>Throws naming every option no one read, and the ones that are read.</summary>
    public void EnsureAllUsed(string what)
    {
        var unknown = Unused;
        if (unknown.Count > 0)
            throw new ArgumentException($"{what}: unknown option(s) {string.Join(", ", unknown.Select(k => "--" + k))}; it reads {string.Join(", ", Used.Select(k => "--" + k))}.");
    }
}

using System.Globalization;

namespace LMHarness.Experiments;

/// <summary>
/// Command-line arguments of a script: <c>--key value</c> options (a bare <c>--flag</c> is "true"; dashes in keys
/// read as underscores; a key given twice keeps every value for <see cref="All"/>, and <see cref="Get{T}"/> takes the
/// last) and positional values. A script declares what it reads (<see cref="Get{T}"/>, <see cref="Has"/>,
/// <see cref="All"/>, <see cref="Argument"/>, <see cref="Rest"/>, <see cref="Knob"/>), then calls
/// <see cref="EnsureAllUsed"/>, which rejects a misspelt option instead of silently ignoring it, or, for <c>--help</c>,
/// prints every declared knob with its default and ends the script.
/// </summary>
public sealed class ScriptArgs
{
    readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    readonly HashSet<string> _used = new(StringComparer.Ordinal);
    readonly List<(string Key, string Default, string Help)> _knobs = [];
    readonly List<(string Name, string Help, bool Many)> _arguments = [];
    readonly List<string> _positional = [];

    /// <summary>What ends the script after <c>--help</c> printed its knobs (tests replace it).</summary>
    internal static Action<int> Exit = Environment.Exit;

    public ScriptArgs(IList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2) { _positional.Add(a); continue; }
            var key = a[2..].Replace('-', '_');
            var hasValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            if (!_options.TryGetValue(key, out var values)) _options[key] = values = [];
            values.Add(hasValue ? args[++i] : "true");
        }
        HelpRequested = _options.Remove("help");
    }

    /// <summary>Whether <c>--help</c> was given: <see cref="EnsureAllUsed"/> prints the knobs instead of running.</summary>
    public bool HelpRequested { get; }

    /// <summary>Arguments that are not options, in order (e.g. run folders for compare.csx).</summary>
    public IReadOnlyList<string> Positional => _positional;

    /// <summary>Every option given, by key (the last value of a repeated one).</summary>
    public IReadOnlyDictionary<string, string> Options => _options.ToDictionary(o => o.Key, o => o.Value[^1], StringComparer.Ordinal);

    /// <summary>Whether <c>--key</c> was given (marks it as read).</summary>
    public bool Has(string key, string help = "")
    {
        Declare(key, "false", help);
        return _options.ContainsKey(key);
    }

    /// <summary>
    /// The value of <c>--key</c> converted to T (int, long, double, bool, string, enums), else <paramref name="defaultValue"/>.
    /// A value that does not convert is an error naming the key, the value, what was expected and the default.
    /// </summary>
    public T Get<T>(string key, T defaultValue, string help = "")
    {
        Declare(key, Show(defaultValue), help);
        if (!_options.TryGetValue(key, out var values)) return defaultValue;
        return Convert<T>(key, values[^1], defaultValue);
    }

    /// <summary>Every value of a repeatable <c>--key</c> (e.g. <c>--prompt a --prompt b</c>), else <paramref name="defaults"/>.</summary>
    public IReadOnlyList<string> All(string key, IReadOnlyList<string> defaults, string help = "")
    {
        Declare(key, defaults.Count == 0 ? "(none)" : string.Join(" ", defaults.Select(d => Show(d))), help + " (repeatable)");
        return _options.TryGetValue(key, out var values) ? values : defaults;
    }

    /// <summary>The next positional argument, required: <see cref="EnsureAllUsed"/> names it when it is missing.</summary>
    public string Argument(string name, string help)
    {
        _arguments.Add((name, help, false));
        var index = _arguments.Count - 1;
        return index < _positional.Count ? _positional[index] : "";
    }

    /// <summary>All remaining positional arguments (at least one: <see cref="EnsureAllUsed"/> names it when there is none).</summary>
    public IReadOnlyList<string> Rest(string name, string help)
    {
        _arguments.Add((name, help, true));
        return _positional.Skip(_arguments.Count - 1).ToList();
    }

    /// <summary>Declares a knob read by other code (e.g. every config field for <see cref="ConfigOverrides"/>), for <c>--help</c>; marks it read.</summary>
    public void Knob(string key, string defaultText, string help = "") => Declare(key, defaultText, help);

    /// <summary>Marks keys as read by code that consumes <see cref="Options"/> wholesale (e.g. config overrides).</summary>
    public void MarkUsed(IEnumerable<string> keys) => _used.UnionWith(keys);

    /// <summary>Options given on the command line that no one has read (misspelt knobs), in order given.</summary>
    public IReadOnlyList<string> Unused => _options.Keys.Where(k => !_used.Contains(k)).ToList();

    /// <summary>The keys read so far, sorted: what a script accepts.</summary>
    public IReadOnlyList<string> Used => _used.Order().ToList();

    /// <summary>
    /// With <c>--help</c>: prints <paramref name="what"/>'s usage, arguments and knobs with their defaults, and ends the
    /// script (exit code 0). Otherwise throws naming every option no one read (and the ones that are read), a missing
    /// positional argument, or one too many.
    /// </summary>
    public void EnsureAllUsed(string what)
    {
        if (HelpRequested)
        {
            Console.Out.Write(Help(what));
            Console.Out.Flush();
            Exit(0);
            return;
        }
        var unknown = Unused;
        if (unknown.Count > 0)
            throw new ArgumentException($"{what}: unknown option(s) {string.Join(", ", unknown.Select(k => "--" + k))}; it reads {string.Join(", ", Used.Select(k => "--" + k))} (--help lists them with their defaults).");
        var required = _arguments.Count(a => !a.Many) + (_arguments.Any(a => a.Many) ? 1 : 0);
        if (_positional.Count < required)
        {
            var missing = _arguments[Math.Min(_positional.Count, _arguments.Count - 1)];
            throw new ArgumentException($"{what}: missing <{missing.Name}>: {missing.Help}. Usage: {Usage(what)}");
        }
        if (!_arguments.Any(a => a.Many) && _positional.Count > _arguments.Count)
            throw new ArgumentException($"{what}: unexpected argument '{_positional[_arguments.Count]}'. Usage: {Usage(what)} (options are --key value)");
    }

    /// <summary>The text <c>--help</c> prints: usage, arguments, then one line per knob: name, default, meaning.</summary>
    public string Help(string what)
    {
        var w = new StringWriter();
        w.WriteLine($"usage: {Usage(what)}");
        foreach (var (name, help, many) in _arguments)
            w.WriteLine($"  <{name}>{(many ? "..." : "")}".PadRight(30) + help);
        if (_knobs.Count > 0) w.WriteLine("knobs and their defaults (--key value; a bare --flag means true):");
        foreach (var (key, def, help) in _knobs)
        {
            var line = $"  --{key}".PadRight(30) + def;
            w.WriteLine(help.Length == 0 ? line : line.PadRight(46) + "  " + help);
        }
        return w.ToString();
    }

    /// <summary>The command line that runs this script, from the host's own command line when it names the script.</summary>
    string Usage(string what)
    {
        var script = Environment.GetCommandLineArgs().Skip(1)
            .FirstOrDefault(a => a.EndsWith(".csx", StringComparison.OrdinalIgnoreCase) || a.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase));
        var head = script is null ? what
            : script.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase) ? $"dotnet fsi {script}" : $"dotnet script {script} --";
        var arguments = string.Concat(_arguments.Select(a => $" <{a.Name}>{(a.Many ? "..." : "")}"));
        return $"{head}{arguments} [--key value ...]";
    }

    void Declare(string key, string defaultText, string help)
    {
        _used.Add(key);
        if (!_knobs.Any(k => k.Key == key)) _knobs.Add((key, defaultText, help));
    }

    static string Show<T>(T value) => value switch
    {
        null => "(none)",
        string s => s.Length == 0 ? "\"\"" : s.Any(char.IsWhiteSpace) || s.Any(char.IsControl) ? $"\"{s.Replace("\n", "\\n")}\"" : s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    static T Convert<T>(string key, string text, T defaultValue)
    {
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        try
        {
            // Enums by name only (EnumNames): Enum.Parse would take "--dtype 5" as a value no name has.
            if (type.IsEnum) return (T)(EnumNames.TryParse(type, text) ?? throw new ArgumentException("not a name"));
            return (T)System.Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException or ArgumentException)
        {
            var expected = type == typeof(int) || type == typeof(long) ? "an integer"
                : type == typeof(double) || type == typeof(float) ? "a number"
                : type == typeof(bool) ? "true or false"
                : type.IsEnum ? "one of " + EnumNames.List(type)
                : $"a {type.Name}";
            throw new ArgumentException($"--{key} {text}: expected {expected} (default {Show(defaultValue)}).");
        }
    }
}

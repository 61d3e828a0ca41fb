using System.Globalization;
using System.Text;

namespace LMHarness.IO;

/// <summary>
/// The CSV LMHarness writes and reads (RFC 4180): comma-separated, a field quoted when it holds a comma, quote or
/// newline (quotes doubled), records ended by '\n' on every platform, numbers in the invariant culture with
/// round-trip precision so equal values compare equal as text.
/// </summary>
public static class Csv
{
    /// <summary>One record: the fields joined, quoted where needed, with a trailing '\n'.</summary>
    public static string Line(IEnumerable<string> fields) => string.Join(',', fields.Select(Quote)) + "\n";

    /// <summary>A double as the shortest text that parses back to the same value; empty for null.</summary>
    public static string Number(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{field.Replace("\"", "\"\"")}\"" : field;

    /// <summary>A table read back: the header and the records, each a field per column, by column name.</summary>
    public sealed class Table
    {
        readonly Dictionary<string, int> _columns;

        internal Table(string path, IReadOnlyList<string> header, IReadOnlyList<string[]> rows)
        {
            Path = path;
            Header = header;
            Rows = rows;
            _columns = header.Select((name, i) => (name, i)).GroupBy(c => c.name).ToDictionary(g => g.Key, g => g.First().i);
        }

        public string Path { get; }
        public IReadOnlyList<string> Header { get; }
        public IReadOnlyList<string[]> Rows { get; }
        public bool Has(string column) => _columns.ContainsKey(column);

        /// <summary>Throws naming the file and the columns it lacks.</summary>
        public void Require(IEnumerable<string> columns)
        {
            var missing = columns.Where(c => !Has(c)).ToList();
            if (missing.Count > 0)
                throw new InvalidDataException($"{Path} lacks column(s) {string.Join(", ", missing)}: its header is '{string.Join(',', Header)}'. Was it written by LMHarness?");
        }

        /// <summary>The field of <paramref name="column"/> in row <paramref name="row"/>; empty when the column is absent.</summary>
        public string Get(int row, string column) =>
            _columns.TryGetValue(column, out var i) && i < Rows[row].Length ? Rows[row][i] : "";

        /// <summary>A number, or null when the field is empty or the column absent. Throws naming file, line and column on bad text.</summary>
        public double? Double(int row, string column)
        {
            var text = Get(row, column);
            if (text.Length == 0) return null;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v;
            throw new InvalidDataException($"{Path} line {row + 2}: column {column} holds '{text}', not a number.");
        }

        public long Long(int row, string column)
        {
            var text = Get(row, column);
            if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
            throw new InvalidDataException($"{Path} line {row + 2}: column {column} holds '{text}', not an integer.");
        }
    }

    /// <summary>Reads a whole CSV file (either newline convention). A last line cut short by a crash mid-write is dropped,
    /// with a warning naming the file to <paramref name="log"/> (standard error when null).</summary>
    public static Table Read(string path, TextWriter? log = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} does not exist.", path);
        var text = File.ReadAllText(path);
        var records = Parse(text, out var lastComplete);
        if (!lastComplete && records.Count > 1)
        {
            records.RemoveAt(records.Count - 1);
            (log ?? Console.Error).WriteLine($"warning: {path} ends in a row cut short (a write that did not finish: a crash or a full disk); that row is left out.");
        }
        if (records.Count == 0) throw new InvalidDataException($"{path} is empty: it has no header line.");
        return new Table(path, records[0], records.Skip(1).Where(r => r.Length > 1 || r[0].Length > 0).ToList());
    }

    static List<string[]> Parse(string text, out bool lastComplete)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            any = true;
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c is '\n' or '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                fields.Add(field.ToString()); field.Clear();
                records.Add([.. fields]); fields.Clear();
                any = false;
            }
            else field.Append(c);
        }
        lastComplete = !any;
        if (any) { fields.Add(field.ToString()); records.Add([.. fields]); }
        return records;
    }
}

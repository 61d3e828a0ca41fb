using System.Text.RegularExpressions;
using LMHarness.Tests.Scripting;

namespace LMHarness.Tests.Gpu;

/// <summary>
/// Static half of the device-placement guard (DevicePlacementTests is the dynamic half): every torch tensor factory
/// call in core/ names its device. A factory without <c>device:</c> makes a CPU tensor, which then meets a CUDA
/// tensor only on a GPU machine. Calls that are meant to stay on the CPU say <c>device: CPU</c>. Not flagged: a
/// factory directly inside <c>nn.Parameter(...)</c> (module parameters are made where nn.Linear makes its own, on the
/// default device, and move with <c>model.to(device)</c>), and a device passed positionally as <c>device</c> or
/// <c>x.device</c>. The allow-list holds any other exception, each with its reason (none today).
/// </summary>
public class DeviceArgumentLintTests
{
    /// <summary>torch's factories that take a device (the *_like ones inherit the input's device and are not listed).</summary>
    static readonly string[] Factories =
    [
        "zeros", "ones", "empty", "full", "arange", "range", "linspace", "logspace", "eye", "rand", "randn", "randint",
        "randperm", "normal", "tensor", "as_tensor", "from_array", "empty_strided", "tril_indices", "triu_indices",
        "bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window", "complex", "polar",
    ];

    /// <summary>(file suffix, call text fragment, why it may go without a device).</summary>
    static readonly (string File, string Fragment, string Why)[] Allowed =
    [
    ];

    static readonly Regex Call = new(@"(?<![\w.])(?:(?:TorchSharp\.)?torch\.)?(?<name>" + string.Join("|", Factories) + @")\s*(?:<[^>()]*>)?\s*\(", RegexOptions.Compiled);

    /// <summary>Factory calls in <paramref name="source"/> (comments removed) whose argument list has no <c>device:</c>, as "line: call".</summary>
    internal static IEnumerable<string> CallsWithoutDevice(string source)
    {
        var code = StripComments(source);
        foreach (Match m in Call.Matches(code))
        {
            var open = m.Index + m.Length - 1;
            var close = MatchingParen(code, open);
            if (close < 0) continue;
            var args = code[(open + 1)..close];
            if (Regex.IsMatch(args, @"\bdevice\b")) continue; // device: x, or x.device / device passed positionally
            if (Regex.IsMatch(code[..m.Index], @"\bParameter\(\s*$")) continue; // a module parameter, moved by model.to(device)
            var line = code.Take(m.Index).Count(c => c == '\n') + 1;
            yield return $"{line}: {Regex.Replace(code[m.Index..(close + 1)], @"\s+", " ")}";
        }
    }

    [Fact]
    public void Every_tensor_factory_call_in_core_names_its_device()
    {
        var core = Path.Combine(RepoPaths.Root, "core");
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains("/obj/") || file.Contains("/bin/")) continue;
            var rel = Path.GetRelativePath(RepoPaths.Root, file);
            foreach (var call in CallsWithoutDevice(File.ReadAllText(file)))
                if (!Allowed.Any(a => rel.EndsWith(a.File, StringComparison.Ordinal) && call.Contains(a.Fragment, StringComparison.Ordinal)))
                    offenders.Add($"{rel}:{call}");
        }
        offenders.Should().BeEmpty("{0}: a factory without device: makes a CPU tensor that fails against a CUDA model; pass the model's device (or device: CPU where the CPU is meant)", string.Join("; ", offenders));
    }

    [Fact]
    public void The_lint_sees_bare_qualified_and_multi_line_calls_and_ignores_comments_strings_parameters_and_like_factories()
    {
        const string source = """"
            using static TorchSharp.torch;
            // zeros(3) in a comment is fine
            /// <summary>so is ones(2) in a doc comment</summary>
            var a = zeros(3);
            var b = torch.arange(0, n,
                                 dtype: ScalarType.Int64);
            var c = ones(3, device: x.device);
            var d = torch.tensor(new[] { 1f }, device: CPU);
            var e = zeros_like(x);
            var f = x.new_zeros(3);
            var g = nn.init.normal_(w);
            throw new Exception("the buffer is empty (null)");
            weight = nn.Parameter(ones(dim));
            var k = torch.zeros(b, v, ScalarType.Bool, device);
            var python = """
                for step in range(a.steps): pass
                """;
            var h = randint(long.MaxValue, [1], dtype: ScalarType.Int64);
            return TorchSharp.torch.tensor(x, [n, t]);
            """";
        CallsWithoutDevice(source).Should().Equal(
            "4: zeros(3)",
            "5: torch.arange(0, n, dtype: ScalarType.Int64)",
            "18: randint(long.MaxValue, [1], dtype: ScalarType.Int64)",
            "19: TorchSharp.torch.tensor(x, [n, t])");
    }

    /// <summary>Blanks string literals and // comments (keeping line breaks) so messages and documented calls are not flagged.</summary>
    static string StripComments(string source) =>
        Regex.Replace(source, @"""""""[\s\S]*?""""""|""(?:\\.|[^""\\\n])*""|//[^\n]*", m => m.Value[0] == '"'
            ? "\"" + Regex.Replace(m.Value[1..^1], @"[^\n]", " ") + "\""
            : new string(' ', m.Length));

    static int MatchingParen(string s, int open)
    {
        var depth = 0;
        for (var i = open; i < s.Length; i++)
        {
            if (s[i] == '(') depth++;
            else if (s[i] == ')' && --depth == 0) return i;
            else if (s[i] == '"') i = SkipString(s, i);
        }
        return -1;
    }

    static int SkipString(string s, int quote)
    {
        for (var i = quote + 1; i < s.Length; i++)
        {
            if (s[i] == '\\') { i++; continue; }
            if (s[i] == '"') return i;
        }
        return s.Length;
    }
}

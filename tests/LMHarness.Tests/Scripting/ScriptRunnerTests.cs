using System.Text.Json;
using LMHarness.Scripting;

namespace LMHarness.Tests.Scripting;

public sealed class ScriptRunnerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lmh-script-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Write(string name, string code)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, code);
        return path;
    }

    (int Code, string Errors) Run(string script, params string[] args)
    {
        var errors = new StringWriter();
        var code = ScriptRunner.Run(script, args.ToList(), errors);
        return (code, errors.ToString());
    }

    [Fact]
    public void Script_sees_Args_loads_other_scripts_and_references_the_core_by_path()
    {
        Write("lib/helpers.csx", "static string Shout(string s) => s.ToUpperInvariant() + \"!\";\n");
        var output = Path.Combine(_dir, "out.txt");
        var script = Write("main.csx", $$"""
            #r "{{RepoPaths.CoreDll}}"
            #load "lib/helpers.csx"
            using LMHarness.Config;
            var cfg = new ModelConfig { NLayer = 3 };
            File.WriteAllText(Args[0], $"{Args.Count}|{Shout(Args[1])}|{cfg.NLayer}|{typeof(ModelConfig).Assembly == typeof(LMHarness.Native.NativeLoader).Assembly}");
            """);

        var (code, errors) = Run(script, output, "hi there");

        errors.Should().BeEmpty();
        code.Should().Be(0);
        File.ReadAllText(output).Should().Be("2|HI THERE!|3|True");
    }

    [Fact]
    public void Referenced_core_is_the_hosts_own_copy_so_types_are_shared()
    {
        var output = Path.Combine(_dir, "same.txt");
        var script = Write("same.csx", $$"""
            #r "{{RepoPaths.CoreDll}}"
            File.WriteAllText(Args[0], typeof(LMHarness.Config.ModelConfig).Assembly.Location);
            """);
        Run(script, output).Code.Should().Be(0);
        File.ReadAllText(output).Should().Be(typeof(LMHarness.Config.ModelConfig).Assembly.Location);
    }

    [Fact]
    public void Nuget_reference_to_a_package_the_host_carries_resolves_offline_and_int_result_is_the_exit_code()
    {
        var script = Write("torch.csx", """
            #r "nuget: TorchSharp, 0.107.0"
            using TorchSharp;
            return (int)torch.ones(2, 3).sum().item<float>();
            """);
        var (code, errors) = Run(script);
        errors.Should().BeEmpty();
        code.Should().Be(6);
    }

    [Fact]
    public void Nuget_reference_to_an_unknown_package_names_it_its_line_and_the_fix()
    {
        var script = Write("unknown.csx", "// needs a package\n#r \"nuget: Not.A.Real.Package, 1.2.3\"\n");
        var (code, errors) = Run(script);
        code.Should().Be(1);
        errors.Should().Contain($"{script}:2:1: error CS0006")
            .And.Contain("package 'Not.A.Real.Package' is not available offline")
            .And.Contain("tools/LMHarness.Script/LMHarness.Script.csproj");
    }

    [Fact]
    public void Compile_error_reports_file_line_and_column()
    {
        var script = Write("bad.csx", "var x = 1;\nConsole.WriteLine(y);\n");
        var (code, errors) = Run(script);
        code.Should().Be(1);
        errors.Should().StartWith($"{script}:2:19: error CS0103: The name 'y' does not exist");
    }

    [Fact]
    public void Compile_error_in_a_loaded_file_names_that_file()
    {
        var loaded = Write("broken.csx", "int F() => \"not an int\";\n");
        var script = Write("loads.csx", "#load \"broken.csx\"\nConsole.WriteLine(F());\n");
        var (code, errors) = Run(script);
        code.Should().Be(1);
        errors.Should().Contain($"{loaded}:1:12: error CS0029");
    }

    [Fact]
    public void An_error_is_one_line_naming_the_throwing_script_line_and_the_message_and_only_a_fault_names_its_type()
    {
        var script = Write("throws.csx", "void Fail() =>\n    throw new InvalidOperationException(\"boom\");\nvar ok = 1;\nFail();\n");
        var (code, errors) = Run(script);
        code.Should().Be(1);
        errors.TrimEnd().Should().Be($"{script}:2:5: error: boom", "one line: where, then the message, no exception type (LMHARNESS_SCRIPT_TRACE=1 shows it)");

        script = Write("argument.csx", "throw new ArgumentException(\"--x 7: use a or b.\", \"x\");\n");
        (code, errors) = Run(script);
        errors.TrimEnd().Should().Be($"{script}:1:1: error: --x 7: use a or b.", "no \" (Parameter 'x')\" suffix");

        script = Write("bug.csx", "string s = null!;\nConsole.WriteLine(s.Length);\n");
        (code, errors) = Run(script);
        code.Should().Be(1);
        errors.Should().StartWith($"{script}:2:").And.Contain("error: internal error (NullReferenceException)").And.Contain("LMHARNESS_SCRIPT_TRACE=1");
    }

    [Fact]
    public void Missing_script_file_is_one_clear_error()
    {
        var (code, errors) = Run(Path.Combine(_dir, "nope.csx"));
        code.Should().Be(1);
        errors.Should().Contain("script file not found");
    }

    [Fact]
    public void Local_tool_manifest_version_matches_the_launcher_package()
    {
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, ".config/dotnet-tools.json")));
        var tool = manifest.RootElement.GetProperty("tools").GetProperty("lmharness.script.launcher");
        tool.GetProperty("commands")[0].GetString().Should().Be("dotnet-script");
        var csproj = File.ReadAllText(Path.Combine(RepoPaths.Root, "tools/LMHarness.Script.Launcher/LMHarness.Script.Launcher.csproj"));
        csproj.Should().Contain($"<Version>{tool.GetProperty("version").GetString()}</Version>")
            .And.Contain("<ToolCommandName>dotnet-script</ToolCommandName>");
    }
}

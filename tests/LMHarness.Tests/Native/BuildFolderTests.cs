using LMHarness.Native;
using LMHarness.Tests.Scripting;

namespace LMHarness.Tests.Native;

/// <summary>
/// <see cref="BuildFolder.StaleCopyError"/>: which copies are checked and what the refusal says. The end-to-end case
/// (upstream's cache after a rebuild) is in <see cref="UpstreamLoadingTests"/>.
/// </summary>
public class BuildFolderTests
{
    [Fact]
    public void The_built_assemblies_record_their_build_folder()
    {
        BuildFolder.Of(typeof(BuildFolder).Assembly).Should().EndWith("/core/LMHarness.Core/bin/Release/net10.0/linux-x64/".Replace("Release", Configuration()));
        BuildFolder.Of(typeof(LMHarness.Experiments.Experiment).Assembly).Should().Contain("/core/LMHarness.Lab/bin/");
    }

    static string Configuration() => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Parent!.Name;

    [Fact]
    public void A_copy_of_another_build_is_refused_naming_the_command_that_replaces_it()
    {
        using var dir = new TempDir();
        var build = Directory.CreateDirectory(dir.File("proj/bin/Release/net10.0")).FullName;
        var cache = Directory.CreateDirectory(dir.File("cache/execution-cache")).FullName;
        var output = Directory.CreateDirectory(dir.File("other/bin/Release/net10.0")).FullName;
        File.Copy(RepoPaths.CoreDll, Path.Combine(build, "LMHarness.Core.dll"));
        var copy = Path.Combine(cache, "LMHarness.Core.dll");
        File.Copy(RepoPaths.CoreDll, copy);
        var mvid = BuildFolder.Mvid(copy);
        string[] command = ["/x/dotnet-script.dll", "experiments/gqa_vs_mha.csx", "--", "--steps", "600", "--note", "two words"];

        BuildFolder.StaleCopyError(copy, mvid, build, command).Should().BeNull("the copy is the build's");
        BuildFolder.StaleCopyError(Path.Combine(build, "LMHarness.Core.dll"), Guid.NewGuid(), build, command).Should().BeNull("loaded from its build folder");

        OtherBuild.Pretend(Path.Combine(build, "LMHarness.Core.dll")); // the core was rebuilt
        BuildFolder.StaleCopyError(copy, mvid, build, command).Should().Be(
            $"LMHarness.Core.dll was loaded from {copy}, a copy of another build: the build in {build} has changed since the copy was made. " +
            "A script host that caches a script's compiled form (upstream dotnet-script keeps it while the script's text is unchanged) " +
            "still holds the old copy; refresh it with: dotnet script --no-cache experiments/gqa_vs_mha.csx -- --steps 600 --note 'two words'");

        var inOutput = Path.Combine(output, "LMHarness.Core.dll");
        File.Copy(RepoPaths.CoreDll, inOutput);
        File.WriteAllText(Path.Combine(output, "Other.deps.json"), "{}");
        BuildFolder.StaleCopyError(inOutput, mvid, build, command).Should()
            .EndWith($"That folder is another project's build output: rebuild that project (dotnet build {dir.File("other")} -c Release).");
    }
}

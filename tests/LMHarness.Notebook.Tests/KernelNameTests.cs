using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace LMHarness.Notebook.Tests;

/// <summary>
/// A notebook cell resolves a simple name first among the global namespace's members (every top-level namespace and
/// global type of every assembly the kernel compiles against, internal types' namespaces included), and only then
/// through its <c>using</c> directives. So an LMHarness type named like one of those is shadowed in the kernel: the
/// class once named <c>Recipes</c> met the kernel's own namespace <c>Recipes</c> (CS0234 in Jupyter). Every public
/// type of LMHarness.Core and LMHarness.Lab must be named unlike all of them.
/// </summary>
public sealed class KernelNameTests
{
    /// <summary>Top-level namespace names and global-namespace type names defined by an assembly (any accessibility).</summary>
    static IEnumerable<string> GlobalNames(string dll)
    {
        using var pe = new PEReader(File.OpenRead(dll));
        if (!pe.HasMetadata) yield break;
        var md = pe.GetMetadataReader();
        if (!md.IsAssembly) yield break;
        foreach (var handle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(handle);
            if (type.GetDeclaringType().IsNil is false) continue;
            var ns = md.GetString(type.Namespace);
            if (ns.Length > 0) yield return ns.Split('.')[0];
            else if ((type.Attributes & System.Reflection.TypeAttributes.VisibilityMask) == System.Reflection.TypeAttributes.Public)
                yield return Simple(md.GetString(type.Name));
        }
    }

    static string Simple(string name) => name.Split('`')[0];

    /// <summary>Public top-level types of an assembly: simple name -> full name.</summary>
    static IEnumerable<(string Simple, string Full)> PublicTypes(string dll)
    {
        using var pe = new PEReader(File.OpenRead(dll));
        var md = pe.GetMetadataReader();
        foreach (var handle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(handle);
            if ((type.Attributes & System.Reflection.TypeAttributes.VisibilityMask) != System.Reflection.TypeAttributes.Public) continue;
            var name = md.GetString(type.Name);
            yield return (Simple(name), $"{md.GetString(type.Namespace)}.{name}");
        }
    }

    static bool IsManaged(string dll)
    {
        try { using var pe = new PEReader(File.OpenRead(dll)); return pe.HasMetadata; }
        catch (BadImageFormatException) { return false; }
    }

    /// <summary>The clashes between the LMHarness assemblies' public types and the kernel's global names.</summary>
    static List<string> Clashes(IEnumerable<string> ours, IEnumerable<string> kernel)
    {
        var kernelNames = new Dictionary<string, string>();
        foreach (var dll in kernel.Where(IsManaged))
            foreach (var name in GlobalNames(dll))
                kernelNames.TryAdd(name, Path.GetFileName(dll));
        return ours.SelectMany(PublicTypes)
            .Where(t => kernelNames.ContainsKey(t.Simple))
            .Select(t => $"{t.Full} is shadowed by '{t.Simple}' of {kernelNames[t.Simple]}")
            .Distinct().ToList();
    }

    static string[] Ours => new[] { "LMHarness.Core.dll", "LMHarness.Lab.dll" }.Select(f => Path.Combine(KernelTool.BuildFolder, f)).ToArray();

    static IEnumerable<string> KernelAssemblies() =>
        Directory.GetFiles(KernelTool.AssemblyFolder, "*.dll")
            .Concat(Directory.GetFiles(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "*.dll"));

    [Fact]
    public void No_public_LMHarness_type_is_named_like_a_namespace_or_global_type_of_the_kernel()
    {
        Ours.Should().OnlyContain(f => File.Exists(f), "the notebooks load the Release build (dotnet build core/LMHarness.Lab -c Release)");
        Clashes(Ours, KernelAssemblies()).Should().BeEmpty();
    }

    [Fact]
    public void The_check_finds_the_kernel_namespace_Recipes_that_shadowed_the_old_class()
    {
        // Negative control: the kernel's assemblies do define a top-level namespace Recipes, so a public class of
        // that name (as LMHarness.Experiments.Recipes was) is reported.
        var names = KernelAssemblies().Where(IsManaged).SelectMany(GlobalNames).ToHashSet();
        names.Should().Contain("Recipes").And.Contain("Microsoft").And.Contain("System");
        var clashes = Clashes([typeof(KernelNameTests).Assembly.Location], KernelAssemblies());
        clashes.Should().ContainSingle().Which.Should().StartWith("LMHarness.Notebook.Tests.Recipes is shadowed by 'Recipes'");
    }
}

/// <summary>Named as the old LMHarness class was: the negative control above must find it.</summary>
public static class Recipes { }

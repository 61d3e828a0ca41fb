namespace LMHarness.Scripting;

/// <summary>
/// A script compiled to an assembly (PE image with its PDB embedded, so exceptions name script lines), the warnings
/// compiling it printed (repeated when it is reused from the cache, so a cached run prints what a fresh one does), and
/// the DLL files outside the host that it references (its dependencies are found beside them at run time).
/// </summary>
public sealed record CompiledScript(byte[] Image, IReadOnlyList<string> Warnings, IReadOnlyList<string> ReferencePaths);

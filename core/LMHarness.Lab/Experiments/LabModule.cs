using System.Runtime.CompilerServices;
using LMHarness.Native;

namespace LMHarness.Experiments;

/// <summary>LMHarness.Lab's module initializer: resolve OxyPlot, Skia, Spectre.Console, Parquet, ... from the folder the Lab
/// was built into when a script host loaded a copy of it without them (<see cref="BuildFolder"/>).</summary>
static class LabModule
{
    [ModuleInitializer]
    internal static void Initialize() => BuildFolder.Install(typeof(LabModule).Assembly);
}

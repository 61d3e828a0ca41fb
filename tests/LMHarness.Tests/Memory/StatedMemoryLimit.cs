namespace LMHarness.Tests.Memory;

/// <summary>Sets <see cref="MachineMemory.LimitVariable"/> for this process until disposed (tests run one at a time), then restores it.</summary>
sealed class StatedMemoryLimit : IDisposable
{
    readonly string? previous = Environment.GetEnvironmentVariable(MachineMemory.LimitVariable);

    public StatedMemoryLimit(double megabytes) =>
        Environment.SetEnvironmentVariable(MachineMemory.LimitVariable, megabytes.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public void Dispose() => Environment.SetEnvironmentVariable(MachineMemory.LimitVariable, previous);
}

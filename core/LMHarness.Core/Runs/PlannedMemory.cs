namespace LMHarness.Runs;

/// <summary>
/// What a run was planned to need (LMHarness.Summary.MemoryPlan), as its result reports it: the planned peak in MB
/// (2^20 bytes), whether that is of a GPU's memory (else of the process's resident memory), the runtime the plan
/// started from, and the plan's arithmetic in one line.
/// </summary>
public sealed record PlannedMemory(double PeakMb, bool Gpu, double RuntimeMb, string Arithmetic);

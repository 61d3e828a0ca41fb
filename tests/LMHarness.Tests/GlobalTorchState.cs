namespace LMHarness.Tests;

/// <summary>
/// Tests that change process-global torch state (the default device, the RNG seams of <see cref="RandomState"/>, the
/// generator) run in this collection, never beside another test.
/// </summary>
[CollectionDefinition(nameof(GlobalTorchState), DisableParallelization = true)]
public sealed class GlobalTorchState;

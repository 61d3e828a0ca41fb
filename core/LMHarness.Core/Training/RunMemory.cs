using System.Globalization;
using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Summary;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The trainer's memory plan (<see cref="MemoryPlan"/>), and on the CPU its refusal, before the model is built, of a run
/// whose plan exceeds what the process may still take (<see cref="MachineMemory"/>). The batch and context knobs and the
/// model's dimensions come from configs a typo away from terabytes; the kernel's out-of-memory killer would end such a
/// run with no message, and on a shared machine take other processes with it. A GPU plan is of device memory, which
/// the host's figure does not bound, so it is only planned.
/// </summary>
static class RunMemory
{
    const string Fix = "lower micro_batch or context_length (grad_accumulation keeps the tokens per step), set recompute_activations, or choose a smaller model";

    public static MemoryPlan Plan(ModelConfig model, TrainingConfig training, Device device, double runtimeMb, string runDir)
    {
        if (device.type == DeviceType.CUDA) return MemoryPlan.For(model, training, cuda: true);
        var budget = MachineMemory.Available();
        // The weights alone first, counted in doubles: the plan counts in longs, which a mistyped config can overflow.
        double parameters = ParameterShapes.Count(model);
        budget.Ensure(4 * parameters, $"Training {runDir}",
            $"the float32 weights alone of {parameters.ToString("N0", CultureInfo.InvariantCulture)} parameters", Fix);
        var plan = MemoryPlan.For(model, training, (long)(runtimeMb * (1 << 20)), "measured: resident at the run's start");
        budget.Ensure(plan.PeakBytes - plan.RuntimeBytes, $"Training {runDir}",
            $"the memory plan's peak less the {runtimeMb:N0} MB already resident; {plan.Summary()}", Fix);
        return plan;
    }
}

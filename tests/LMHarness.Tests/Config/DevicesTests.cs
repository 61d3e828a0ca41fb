using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Config;

public class DevicesTests
{
    [Fact]
    public void Names_resolve_to_devices_and_bad_names_fail_clearly()
    {
        Devices.Resolve("cpu").type.Should().Be(DeviceType.CPU);
        Devices.Resolve(null).type.Should().Be(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU);
        FluentActions.Invoking(() => Devices.Resolve("banana")).Should().Throw<ArgumentException>().WithMessage("*device='banana' is not a device*");
        if (!cuda.is_available())
            FluentActions.Invoking(() => Devices.Resolve("cuda")).Should().Throw<ArgumentException>().WithMessage("*no GPU*");
    }

    [Fact]
    public void The_environment_variable_overrides_the_default()
    {
        var before = Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, "cpu");
            Devices.Default().type.Should().Be(DeviceType.CPU);
            Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, "tpu:7");
            FluentActions.Invoking(Devices.Default).Should().Throw<ArgumentException>().WithMessage("*tpu:7*");
        }
        finally
        {
            Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, before);
        }
    }
}

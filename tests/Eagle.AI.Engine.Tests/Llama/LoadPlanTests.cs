using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

/// <summary>The device, dtype, placement and draft-device text resolved once into the plan a load follows.</summary>
public class LoadPlanTests
{
    [Fact]
    public void Auto_dtype_is_the_runtimes_choice_for_the_device_and_is_flagged()
    {
        var plan = LoadPlan.Resolve("cpu", " AUTO ");

        Assert.Equal(TorchRuntime.AutoDType(CPU), plan.DType);
        Assert.True(plan.AutoDType);
        Assert.Null(plan.Placement);
        Assert.Null(plan.DraftDevice);
    }

    [Fact]
    public void An_auto_device_with_a_placement_is_the_placements_first_device()
    {
        var plan = LoadPlan.Resolve("auto", "fp16", "cpu=0-1;cpu=2-3", draftDevice: "cpu");

        Assert.Equal(TorchSharp.DeviceType.CPU, plan.Device.type);
        Assert.Equal((ScalarType.Float16, false, true), (plan.DType, plan.AutoDType, plan.EmulatedFloat16));
        Assert.Equal(2, plan.Placement!.Segments.Count);
        Assert.Equal(TorchSharp.DeviceType.CPU, plan.DraftDevice!.type);
        Assert.Null(LoadPlan.Resolve("cpu", "float32", draftDevice: "auto").DraftDevice);   // auto = the target's
    }

    [Fact]
    public void Bad_text_is_refused_saying_which()
    {
        Assert.Contains("dtype 'int8'", Assert.Throws<ArgumentException>(() => LoadPlan.Resolve("cpu", "int8")).Message, StringComparison.Ordinal);
        Assert.Contains("device 'gpu'", Assert.Throws<ArgumentException>(() => LoadPlan.Resolve("gpu", "auto")).Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => LoadPlan.Resolve("cpu", "auto", "cpu=1-3"));
    }
}

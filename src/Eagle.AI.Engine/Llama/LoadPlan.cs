using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// Where and in what dtype a model loads: the device, dtype, layer-placement and draft-device text of the options or
/// the command line, resolved once (<see cref="Resolve"/>) and passed along as values.
/// </summary>
/// <param name="Device">The home device: embedding, norm, lm_head, and every layer <paramref name="Placement"/> does not put elsewhere.</param>
/// <param name="DType">The weights' and activations' dtype.</param>
/// <param name="Placement">The decoder layers split over devices; null = all on <paramref name="Device"/>.</param>
/// <param name="DraftDevice">The draft head's device; null = the target's.</param>
/// <param name="AutoDType">Whether <c>auto</c> chose <paramref name="DType"/> (<see cref="TorchRuntime.AutoDTypeReason"/> says why).</param>
internal sealed record LoadPlan(Device Device, ScalarType DType, LayerPlacement? Placement = null, Device? DraftDevice = null, bool AutoDType = false)
{
    /// <summary>
    /// Resolves the text: an <c>auto</c> device is the placement's first device when there is a placement, else as
    /// <see cref="TorchRuntime.ParseDevice"/>; <c>auto</c> dtype is <see cref="TorchRuntime.AutoDType"/> for that device;
    /// a draft device that is null or <c>auto</c> is the target's.
    /// </summary>
    /// <exception cref="FormatException"><paramref name="placement"/> is malformed (<see cref="LayerPlacement.Parse"/>).</exception>
    /// <exception cref="ArgumentException">A device or the dtype is not one <see cref="TorchRuntime"/> knows.</exception>
    /// <exception cref="TorchRuntimeException">CUDA is asked for and not available, with how to get it.</exception>
    public static LoadPlan Resolve(string device, string dtype, string? placement = null, string? draftDevice = null)
    {
        var layers = placement is null ? null : LayerPlacement.Parse(placement);
        var home = layers is not null && TorchRuntime.IsAuto(device) ? layers.Home : TorchRuntime.ParseDevice(device);
        var draft = draftDevice is null || TorchRuntime.IsAuto(draftDevice) ? null : TorchRuntime.ParseDevice(draftDevice);
        return new LoadPlan(home, TorchRuntime.ParseDType(dtype, home), layers, draft, TorchRuntime.IsAuto(dtype));
    }

    /// <summary>float16 on a CPU, which is emulated and slower than float32 or bfloat16: worth a warning.</summary>
    public bool EmulatedFloat16 => DType == ScalarType.Float16 && Device.type == TorchSharp.DeviceType.CPU;
}

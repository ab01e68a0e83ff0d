using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Tests.Checkpoints;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

/// <summary>
/// A draft head on a device of its own. With one device here, an explicit draft device of <c>cpu</c> still takes that
/// path: the head holds copies of the target tables it reads, and trees cross back to the target's device.
/// </summary>
public class DraftDeviceTests
{
    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void A_head_on_its_own_device_drafts_exactly_what_the_borrowing_head_drafts(EagleHeadKind kind)
    {
        using var target = TestModels.Create("A", seed: 21);
        using var dir = new TempDir();
        using (EagleHead source = kind == EagleHeadKind.Eagle3 ? Eagle3Head.CreateRandom(target, seed: 4) : Eagle1Head.CreateRandom(target, seed: 4))
            source.Save(dir.Path);
        var tree = new TreeSettings { TotalTokens = 10, Depth = 4, TopK = 3 };
        using var borrowing = EagleDrafter.Load(dir.Path, target, tree);
        using var own = EagleDrafter.Load(dir.Path, target, tree, device: CPU);
        var options = new GenerationOptions { MaxNewTokens = 20, StopTokenIds = [] };
        int[] prompt = [7, 3, 44, 12, 9];

        Assert.False(borrowing.Head.HasOwnDevice);
        Assert.True(own.Head.HasOwnDevice);
        var a = new SpeculativeGenerator(target, borrowing).Generate(prompt, options);
        var b = new SpeculativeGenerator(target, own).Generate(prompt, options);

        Assert.Equal(a.OutputIds, b.OutputIds);
        Assert.Equal(a.Stats.Rounds, b.Stats.Rounds);
        Assert.Equal(new VanillaGenerator(target).Generate(prompt, options).OutputIds, b.OutputIds);
    }
}
